#!/usr/bin/env python3
"""Renders an executed .ipynb (e.g. dotnet-repl --output-path) to one static HTML page: markdown and code as text,
outputs as the notebook would show them (text/html raw, so the inlined plotly.js runs; image/png as <img>).
A live display that dotnet-repl saved as many versions (LiveTraining) is reduced to its last chart, grid and status.
Usage: notebook-to-html.py executed.ipynb out.html"""
import html, json, sys

def text(v): return ''.join(v) if isinstance(v, list) else str(v)

def outputs_of(cell):
    outs = cell.get("outputs", [])
    if len(outs) <= 8: return outs
    keep, last = [], {}
    for i, o in enumerate(outs):
        d = o.get("data", {})
        h = text(d.get("text/html", ""))
        if "plotly.js v" in h: keep.append(i)                     # the one plotly.js loader
        elif "Plotly.newPlot" in h: last["chart"] = i
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

nb = json.load(open(sys.argv[1]))
parts = ["<!DOCTYPE html><html><head><meta charset=utf-8><style>body{font-family:sans-serif;max-width:1100px;margin:16px auto}"
         ".md{white-space:pre-wrap;margin:12px 0}.code{background:#f5f5f5;border-left:3px solid #3a7;padding:6px;font-size:12px}"
         ".out{font-size:12px}.err{color:#b00}</style></head><body>"]
for cell in nb["cells"]:
    src = text(cell.get("source", ""))
    if cell["cell_type"] == "markdown": parts.append(f"<div class=md>{html.escape(src)}</div>")
    else:
        parts.append(f"<pre class=code>{html.escape(src)}</pre>")
        parts.extend(render(o) for o in outputs_of(cell))
parts.append("</body></html>")
open(sys.argv[2], "w").write("\n".join(parts))
