#!/usr/bin/env python3
"""Pass/fail verdicts of the memory-saving benchmarks, read from `flux2 bench` outputs
(scripts/gpu/issue6-bench.sh writes them):
   scripts/gpu/issue6-verdict.py <folder with the .txt outputs> [more folders]
Prints one line per acceptance item with the measured figures, the target and PASS / FAIL / NOT MEASURED."""
import glob, os, re, sys

def scenarios(folders):
    """name -> text; console tails with '=== name: ...' sections are split into their scenarios."""
    out = {}
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
            text = open(path, encoding="utf-8", errors="replace").read()
            parts = re.split(r"^=== ([\w.-]+):.*$", text, flags=re.M)
            if len(parts) > 1:
                for name, body in zip(parts[1::2], parts[2::2]): out.setdefault(name, body)
            else:
                out.setdefault(os.path.splitext(os.path.basename(path))[0], text)
    return out

def num(pattern, text):
    m = re.search(pattern, text or "")
    return float(m.group(1)) if m else None

def train(s, name):
    t = s.get(name)
    return num(r"median ([\d.]+) s/step", t), num(r"peak GPU memory ([\d.]+) GiB", t)

def verdict(ok): return "NOT MEASURED" if ok is None else ("PASS" if ok else "FAIL")

def main(folders):
    s = scenarios(folders)
    lines = []
    c_time, c_peak = train(s, "train-C-1024-r32")
    ok = None if c_time is None else (c_time <= 2.16 and c_peak <= 67)
    lines.append(f"1. tier C 1024² r32: {c_time} s/step (<= 2.16), peak {c_peak} GiB (<= 67) -> {verdict(ok)}")
    for q, name in (("fp8", "train-B-1024-r32"), ("int8", "train-B-int8-1024-r32")):
        t, p = train(s, name)
        ratio = None if t is None or c_time is None else t / c_time
        ok = None if ratio is None else (ratio <= 1.15 and p <= 40)
        lines.append(f"2. tier B {q} 1024² r32: {t} s/step = {ratio and round(ratio, 3)}x tier C (<= 1.15), peak {p} GiB (<= 40) -> {verdict(ok)}")
    t, p = train(s, "train-A-1024-r32")
    build = num(r"peak while building ([\d.]+) GiB", s.get("train-A-1024-r32"))
    lines.append(f"3. tier A 1024² r32: peak {p} GiB from the start (build peak {build} GiB) (<= 22), {t} s/step (reported) -> "
                 f"{verdict(None if p is None else p <= 22 and build is not None)}")
    for q in ("qfloat8", "qint8"):
        errs = {b: num(r"relative error .*= ([\d.]+)%", s.get(f"forward-{q}-1024-blocks-{b}"))
                for b in ("1-1", "8-48")}
        whole = errs["8-48"]
        lines.append(f"4. {q} vs bf16 output error: 1+1 blocks {errs['1-1']}%, whole model {whole}% (target <= 3%) -> "
                     f"{verdict(None if whole is None else whole <= 3)}")
    te = s.get("te-fp8-streamed")
    te_peak = num(r"peak GPU memory ([\d.]+) GiB", te)
    te_ram, te_ms = num(r"peak process RAM ([\d.]+) GiB", te), num(r"median ([\d.]+) ms", te)
    lines.append(f"5. text encoder fp8, 512 tokens, streamed: peak {te_peak} GiB (<= 30), {te_ms} ms per encode, peak process RAM {te_ram} GiB "
                 f"-> {verdict(None if te_peak is None else te_peak <= 30)}")
    low = s.get("te-fp8-low-vram")
    low_peak, low_ms = num(r"peak GPU memory ([\d.]+) GiB", low), num(r"median ([\d.]+) ms", low)
    lines.append(f"   text encoder fp8 with model.low_vram (weights in CPU memory, one layer at a time on the GPU): "
                 f"peak {low_peak} GiB, {low_ms} ms per encode")
    m = s.get("memory-C-512-200")
    change = num(r"change since step 10: ([-+\d.]+) GiB", m)
    lines.append(f"6. memory step 10 -> 200: change {change} GiB (flat: |change| < 0.1) -> {verdict(None if change is None else abs(change) < 0.1)}")
    # Not acceptance items: the memory savers must not change training (micro job on the GPU, 40 steps).
    def lora(name): m = re.search(r"lora data sha256 (\w+)", s.get(f"micro-{name}") or ""); return m and m.group(1)
    def loss(name): return num(r"(?s).*train loss ([\d.]+)", s.get(f"micro-{name}"))
    for a, b in (("lowvram", "plain"), ("offload", "checkpointed")):
        same = None if lora(a) is None or lora(b) is None else lora(a) == lora(b)
        lines.append(f"   micro {a} vs {b}: smoothed loss at step 40 {loss(a)} vs {loss(b)}; LoRA bytes "
                     f"{'identical' if same else 'differ' if same is not None else 'not measured'}")
    print("\n".join(lines))

if __name__ == "__main__":
    if len(sys.argv) < 2: sys.exit(__doc__)
    main(sys.argv[1:])
