#!/usr/bin/env python3
"""Renders an executed .ipynb (e.g. dotnet-repl --output-path) to one static HTML page: markdown cells as Markdown
(marked.js, inlined into the page, from Debian's libjs-marked at /usr/share/javascript/marked or $MARKED_JS), code as
text, outputs as the notebook would show them (text/html raw, so the charts' scripts run; image/png as <img>). The page
loads plotly.js from the file the kernel wrote into Jupyter's nbextensions folder (where a Jupyter server would serve
it); without that file the charts show their static images. A live display that dotnet-repl saved as many versions
(LiveTraining) is reduced to its last chart, grid and status.
Usage: notebook-to-html.py executed.ipynb out.html"""
import html, json, os, re, sys

MARKED_JS = os.environ.get("MARKED_JS", "/usr/share/javascript/marked/marked.min.js")

def text(v): return ''.join(v) if isinstance(v, list) else str(v)

def outputs_of(cell):
    outs = cell.get("outputs", [])
    if len(outs) <= 8: return outs
    keep, last = [], {}
    for i, o in enumerate(outs):
        d = o.get("data", {})
        h = text(d.get("text/html", ""))
        if "Plotly.newPlot" in h: last["chart"] = i
        elif "image/png" in d: last["png"] = i
        elif h: last["status"] = i
        else: keep.append(i)                                       # streams, errors
    return [outs[i] for i in sorted(keep + list(last.values()))]

def render(o):
    t = o.get("output_type")
    if t == "stream": return f"<pre class=out>{html.escape(text(o.get('text', '')))}</pre>"
    if t == "error": return f"<pre class=err>{html.escape(o.get('ename', '') + ': ' + o.get('evalue', ''))}</pre>"
    d = o.get("data", {})
    if "image/png" in d: return f"<img src=\"data:image/png;base64,{text(d['image/png']).strip()}\">"
    if "text/html" in d: return f"<div class=html>{text(d['text/html'])}</div>"
    if "text/plain" in d: return f"<pre class=out>{html.escape(text(d['text/plain']))}</pre>"
    return ""

def plotly_js(nb):
    """The plotly.js file the charts load (nbextensions/flux2/plotly-VERSION.min.js in Jupyter's data folder)."""
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            m = re.search(r"'(nbextensions/flux2/plotly-[0-9.]+\.min)'", text(o.get("data", {}).get("text/html", "")))
            if m:
                data = os.environ.get("JUPYTER_DATA_DIR") or os.path.join(
                    os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "jupyter")
                path = os.path.join(data, m.group(1) + ".js")
                if os.path.exists(path): return path
                print(f"no {path}: the charts show their static images", file=sys.stderr)
                return None
    return None

def script_json(value):
    """value as JSON that can stand inside a <script> element (no "</" to end it early)."""
    return json.dumps(value).replace("</", "<\\/")

if not os.path.exists(MARKED_JS):
    sys.exit(f"no {MARKED_JS}: install Debian's libjs-marked (scripts/setup-notebooks.sh --browser) or set MARKED_JS")
nb = json.load(open(sys.argv[1]))
js = plotly_js(nb)
parts = ["<!DOCTYPE html><html><head><meta charset=utf-8><style>"
         "body{font-family:sans-serif;max-width:1100px;margin:16px auto}.md{margin:12px 0}"
         "pre{white-space:pre-wrap;overflow-wrap:anywhere}"
         ".md table{border-collapse:collapse;margin:8px 0}.md th,.md td{border:1px solid #ccc;padding:3px 8px}"
         ".md th{background:#f0f0f0}.md code{background:#f3f3f3;padding:0 3px;border-radius:3px}"
         ".md pre{background:#f3f3f3;padding:6px}.md pre code{padding:0}"
         ".code{background:#f5f5f5;border-left:3px solid #3a7;padding:6px;font-size:12px}"
         ".out{font-size:12px}.err{color:#b00}</style>" +
         (f"<script src=\"file://{html.escape(js)}\"></script>" if js else "") + "</head><body>"]
markdown = []
for cell in nb["cells"]:
    src = text(cell.get("source", ""))
    if cell["cell_type"] == "markdown":
        parts.append(f"<div class=md data-md={len(markdown)}></div>")
        markdown.append(src)
    else:
        parts.append(f"<pre class=code>{html.escape(src)}</pre>")
        parts.extend(render(o) for o in outputs_of(cell))
parts.append("<script>" + open(MARKED_JS).read() + "</script>")
parts.append("<script>var notebookMarkdown = " + script_json(markdown) + ";\n"
             "document.querySelectorAll('div.md').forEach(function (div) {\n"
             "  div.innerHTML = marked.parse(notebookMarkdown[Number(div.dataset.md)]);\n});</script>")
parts.append("</body></html>")
open(sys.argv[2], "w").write("\n".join(parts))
