#!/usr/bin/env python3
"""The notebooks in Jupyter's own machinery (run by scripts/notebooks-jupyter.sh, with Debian's python3):
  1. every notebook through `jupyter nbconvert --execute` with the .net-csharp kernel: no error, no stderr output in
     any cell, one static image per chart output, at most MAX_EXECUTED_BYTES per executed notebook (plotly.js is
     served by Jupyter, not inlined), and nbformat validates the committed and the executed notebook without a
     warning;
  2. stop and resume: a live training cell gets the front end's Interrupt (kernel protocol, jupyter_client), which
     must stop the run after a step with a checkpoint and leave the kernel alive; a cell in the same kernel then
     reads a variable set before training and resumes the run, which the cell's Stop control stops; a last cell
     resumes it to the end, whose final LoRA tensors must equal an uninterrupted run's;
  3. charts after a reload: a Jupyter Notebook server serves the executed notebooks, headless chromium opens each,
     reloads it and counts the drawn plotly charts, which must equal the notebook's chart outputs (and be > 0);
  4. a chart cell re-run after Clear All Output and a reload, in the same kernel: a small notebook (load the kit, draw
     one chart) runs in the page, its outputs are cleared and saved, the page reloads and the chart cell alone runs
     again; its chart must be drawn (each chart output loads plotly.js itself where the page has none).
Prints one PASS/FAIL line per test and ends with "N passed, N failed". Usage: notebooks-jupyter.py OUT_FOLDER [NAME...]
(NAME: run only the notebooks whose file name contains it, and the stop test if NAME is "stop")."""
import json, os, queue, re, signal, subprocess, sys, time, urllib.request, warnings

import nbformat
from nbformat.sign import NotebookNotary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")
OUT = os.path.abspath(sys.argv[1])
ONLY = sys.argv[2:]
EXECUTED = os.path.join(OUT, "executed")
RUNS = os.path.join(OUT, "runs")
PER_NOTEBOOK_S = 900
MAX_EXECUTED_BYTES = 1_500_000
KIT_DLL = os.path.join(ROOT, "src", "Flux2.Interactive", "bin", "Release", "net10.0", "linux-x64",
                       "Flux2.Interactive.dll")
RERUN_NOTEBOOK = os.path.join("rerun-check", "chart.ipynb")
results = []


def report(name, failures, seconds):
    results.append(not failures)
    print(f"{'PASS' if not failures else 'FAIL'} {name} ({seconds:.0f} s)" +
          "".join(f"\n    {f}" for f in failures), flush=True)


def text(v):
    return "".join(v) if isinstance(v, list) else str(v)


def validation_warnings(path):
    """nbformat's warnings and errors when reading and validating the file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except Exception as e:
            return [f"{os.path.basename(path)}: {type(e).__name__}: {e}"]
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    return [f"{os.path.basename(path)}: {messages.count(m)} x {m}" for m in dict.fromkeys(messages)]


# Plotly.NET marks each chart's div with this comment; the kit puts one static SVG image beside each chart.
CHART_MARK = "<!-- Plotly chart will be drawn inside this DIV -->"
STATIC_IMAGE_MARK = '<img class="flux2-chart-static"'


def chart_outputs(path):
    """The plotly charts among a notebook's outputs."""
    nb = nbformat.read(path, as_version=4)
    return sum(text(o.get("data", {}).get("text/html", "")).count(CHART_MARK)
               for c in nb.cells for o in c.get("outputs", []))


def charts_after_reload(names):
    """Serves the executed notebooks with Jupyter Notebook and counts the charts headless chromium draws in each
    after a reload (scripts/notebook-charts.js)."""
    import secrets, socket
    clock = time.time()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    server = subprocess.Popen(["/usr/bin/jupyter", "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                               f"--port={port}", f"--NotebookApp.token={token}", f"--notebook-dir={EXECUTED}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        expected = {n: chart_outputs(os.path.join(EXECUTED, n)) for n in names}
        write_rerun_notebook()
        proc = subprocess.run(["node", os.path.join(ROOT, "scripts", "notebook-charts.js"), base, token] +
                              [f"{n}={c}" for n, c in expected.items()] + ["--rerun", RERUN_NOTEBOOK],
                              capture_output=True, text=True, timeout=1500)
        lines = {line.split(" ")[0]: line for line in proc.stdout.splitlines()}
        no_line = f"no result line (node exited {proc.returncode}): {proc.stderr.strip()[-500:]}"
        for n, c in expected.items():
            line = lines.get(n, "")
            failures = [] if line == f"{n} drawn {c}" and c > 0 else [line or no_line]
            report(f"charts drawn after a reload in Jupyter Notebook: {n} ({c} charts)", failures, time.time() - clock)
        line = lines.get("rerun", "")
        report("a chart cell re-run after Clear All Output and a reload, same kernel: chart drawn",
               [] if line == f"rerun {RERUN_NOTEBOOK} drawn 1" else [line or no_line], time.time() - clock)
    finally:
        server.terminate()
        server.wait(timeout=60)


def write_rerun_notebook():
    """The notebook of the re-run check: cell 0 loads the kit, cell 1 draws one chart."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": ".net-csharp", "display_name": ".NET (C#)",
                                                           "language": "C#"}})
    nb.cells = [nbformat.v4.new_code_cell(f'#r "{KIT_DLL}"'),
                nbformat.v4.new_code_cell('using Flux2.Interactive.Charts;\nusing Flux2.Interactive.Display;\n'
                                          'Show.Chart(Chart.Lines("re-run", "x", "y", '
                                          'new Series("line", new double[] { 0, 1, 2 }, new double[] { 1, 3, 2 })));')]
    path = os.path.join(EXECUTED, RERUN_NOTEBOOK)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nbformat.write(nb, path)


def execute(notebook):
    clock = time.time()
    env = dict(os.environ, FLUX2_NOTEBOOK_OUTPUT=RUNS)
    proc = subprocess.run(["/usr/bin/jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.kernel_name=.net-csharp",
                           f"--ExecutePreprocessor.timeout={PER_NOTEBOOK_S}", "--output-dir", EXECUTED, notebook],
                          cwd=NOTEBOOKS, env=env, capture_output=True, text=True)
    failures = validation_warnings(os.path.join(NOTEBOOKS, notebook))
    executed = os.path.join(EXECUTED, notebook)
    if proc.returncode != 0:
        tail = "\n      ".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        failures.append(f"jupyter nbconvert --execute exited {proc.returncode}:\n      {tail}")
    elif not os.path.exists(executed):
        failures.append(f"no executed copy {executed}")
    else:
        failures += validation_warnings(executed)
        size = os.path.getsize(executed)
        if size > MAX_EXECUTED_BYTES:
            failures.append(f"the executed notebook has {size:,} bytes, more than {MAX_EXECUTED_BYTES:,}")
        nb = nbformat.read(executed, as_version=4)
        for i, cell in enumerate(nb.cells):
            for o in cell.get("outputs", []):
                if o.output_type == "error":
                    failures.append(f"cell {i}: error {o.get('ename')}: {o.get('evalue')}")
                if o.output_type == "stream" and o.name == "stderr":
                    failures.append(f"cell {i}: stderr: {text(o.text).strip()[:300]}")
                html = text(o.get("data", {}).get("text/html", ""))
                charts, images = html.count(CHART_MARK), html.count(STATIC_IMAGE_MARK)
                if charts != images:
                    failures.append(f"cell {i}: {charts} charts but {images} static images")
        # The chart test opens it in a Notebook server: a trusted notebook runs its outputs' scripts.
        NotebookNotary().sign(nb)
    size = f", {os.path.getsize(executed):,} bytes" if os.path.exists(executed) else ""
    report(f"nbconvert --execute {notebook}{size}", failures, time.time() - clock)
    return os.path.exists(executed)


STOP_TEST_SETUP = r'''using System.IO;
using Flux2.Interactive;
using Flux2.Interactive.Training;
using Flux2.Native;
using Flux2.Training.Config;
TorchRuntime.EnsureLoaded();
var setBeforeTraining = "set before training";
LoadedJob Job(string folder)
{
    var job = JobConfigReader.Read(Kit.PathOf("datasets-sample/midnight_tarot.yaml"));
    var p = LiveTraining.Prepare(job, steps: STEPS, outputFolder: folder, model: Kit.Micro);
    p.Sample.SampleEvery = 1000; p.Train.SkipFirstSample = true; p.Save.SaveEvery = 1000;
    return job;
}
'''


def tensors(path):
    """A safetensors file's tensor table and bytes, without its __metadata__ (which names the run's folder)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        header.pop("__metadata__", None)
        return header, f.read()


def stop_and_resume():
    """Stops a live training cell with the front end's Interrupt, then with its Stop control, and resumes it in the
    same kernel."""
    import jupyter_client
    clock = time.time()
    failures = []
    steps = 60
    folder = os.path.join(OUT, "stop-test")
    # The kernel inherits this process's SIGINT disposition: ignored in a shell's background job, and the .NET
    # runtime leaves an ignored SIGINT ignored (Interrupt would do nothing). Jupyter's server handles SIGINT itself,
    # so the kernels it starts get the default; so does this one.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name=".net-csharp", startup_timeout=180,
                                                     cwd=NOTEBOOKS)

    def run(code, timeout=600, on_output=None):
        """Executes a cell; returns (reply status, stdout text); on_output sees every output message's content."""
        msg_id = kc.execute(code)
        stdout, deadline = [], time.time() + timeout
        while True:
            m = kc.get_iopub_msg(timeout=max(1, deadline - time.time()))
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = m["msg_type"], m["content"]
            if t == "status" and c["execution_state"] == "idle":
                break
            if t == "stream":
                stdout.append(c["text"]) if c["name"] == "stdout" else failures.append(f"stderr: {c['text']}")
            if t == "error":
                failures.append(f"error: {c.get('ename')}: {c.get('evalue')}")
            if on_output:
                on_output(t, c)
        reply = kc.get_shell_msg(timeout=60)
        return reply["content"]["status"], "".join(stdout)

    try:
        run('#r "../src/Flux2.Interactive/bin/Release/net10.0/linux-x64/Flux2.Interactive.dll"', timeout=300)
        run(STOP_TEST_SETUP.replace("STEPS", str(steps)), timeout=300)
        run(f'var reference = LiveTraining.Run(Job(@"{folder}/reference"));')
        state = {"url": None, "stop": None, "sent": False, "status": ""}

        def stop_when_training(t, c):
            """At the first step status sends state["stop"]: "interrupt" (the front end's Interrupt) or "button" (a
            request to the cell's Stop control)."""
            html = text(c.get("data", {}).get("text/html", ""))
            m = re.search(r'data-flux2-stop="([^"]+)"', html)
            if m:
                state["url"] = m.group(1)
            if "stopped after step" in html or "resuming from step" in html:
                state["status"] = html
            if not state["url"] or state["sent"] or not re.search(rf"step \d+/{steps}", html):
                return
            if state["stop"] == "interrupt":
                km.interrupt_kernel()
            else:
                urllib.request.urlopen(urllib.request.Request(state["url"], method="POST"), timeout=10).close()
            state["sent"] = True

        def stopped_run(code, how):
            """Runs a training cell that state["stop"] stops; returns the step it stopped after (None: it did not)."""
            state.update(url=None, stop=how, sent=False, status="")
            status, out = run(code + '\nConsole.WriteLine($"cancelled {live.Result.Cancelled} at step '
                              '{live.Result.Step} resumed from {live.Result.ResumedFrom}");',
                              on_output=stop_when_training)
            stopped = re.search(r"cancelled True at step (\d+)", out)
            if not state["sent"]:
                failures.append(f"{how}: the training cell showed no Stop control with a step status")
            if status != "ok" or not stopped or not 0 < int(stopped.group(1)) < steps:
                failures.append(f"{how}: the stopped cell: status {status}, output {out.strip()!r}")
            if "run again to resume" not in state["status"]:
                failures.append(f"{how}: the last status is not the resume hint: {state['status']!r}")
            if not km.is_alive():
                failures.append(f"{how}: the kernel died")
            return out, stopped and int(stopped.group(1))

        # The front end's Interrupt (SIGINT, the kernelspec's interrupt_mode "signal") stops the run; a cell in the
        # same kernel reads a variable set before training and resumes, stopped by the Stop button; the last cell
        # resumes to the end, which must equal the uninterrupted run.
        _, interrupted = stopped_run(f'var live = LiveTraining.Run(Job(@"{folder}/live"));', "interrupt")
        out, stopped = stopped_run(f'Console.WriteLine(setBeforeTraining);\n'
                                   f'live = LiveTraining.Run(Job(@"{folder}/live"));', "button")
        expected = ["set before training", f"resumed from {interrupted}"]
        if any(e not in out for e in expected):
            failures.append(f"the cell after Interrupt: output {out.strip()!r}, expected {expected}")
        status, out = run(f'var resumed = LiveTraining.Run(Job(@"{folder}/live"));\n'
                          'Console.WriteLine($"resumed from {resumed.Result.ResumedFrom} to {resumed.Result.Step}");\n'
                          'Console.WriteLine($"final {resumed.Result.FinalLora}|{reference.Result.FinalLora}");')
        expected = [f"resumed from {stopped} to {steps}"]
        if status != "ok" or any(e not in out for e in expected):
            failures.append(f"the resume cell: status {status}, output {out.strip()!r}, expected {expected}")
        finals = re.search(r"final (.+)\|(.+)", out)
        if not finals or tensors(finals.group(1)) != tensors(finals.group(2)):
            failures.append("the resumed run's final LoRA differs from the uninterrupted run's")
    except queue.Empty:
        failures.append("a cell gave no output before its timeout")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    report("stop a live training cell, then resume it in the same kernel", failures, time.time() - clock)


def main():
    os.makedirs(EXECUTED, exist_ok=True)
    names = sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb"))
    executed = [n for n in names if (not ONLY or any(o in n for o in ONLY)) and execute(n)]
    if executed:
        charts_after_reload(executed)
    if not ONLY or "stop" in ONLY:
        stop_and_resume()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
