#!/usr/bin/env bash
# Screenshots of executed notebooks as a browser draws them: each executed .ipynb is rendered to
# static HTML (scripts/notebook-to-html.py; it loads the plotly.js the kernel wrote) and shot with headless Chromium.
# Usage: scripts/notebook-screenshots.sh <executed .ipynb>...   (PNGs to $SHOTS_DIR, default docs/notebooks)
# Executed copies come from NotebookExecutionTests (its test output names the folder) or from dotnet-repl --output-path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -gt 0 ]] || { echo "usage: $0 <executed .ipynb>..." >&2; exit 2; }
OUT="${SHOTS_DIR:-$ROOT/docs/notebooks}"
CHROMIUM="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[[ -n "$CHROMIUM" ]] || { echo "no chromium found (Debian: apt-get install chromium)" >&2; exit 2; }
mkdir -p "$OUT"; TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
for nb in "$@"; do
  name="$(basename "$nb" .executed.ipynb)"
  python3 "$ROOT/scripts/notebook-to-html.py" "$nb" "$TMP/$name.html"
  # Tall enough for the whole page; the shot is trimmed by the window, so size it from the page length.
  height=$(( $(python3 -c "import json,sys;nb=json.load(open(sys.argv[1]));print(sum(1+len(c.get('outputs',[])) for c in nb['cells']))" "$nb") * 260 ))
  (( height > 6000 )) && height=6000
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=0.75 \
    --window-size=1150,"$height" --virtual-time-budget=15000 --screenshot="$OUT/$name.png" "file://$TMP/$name.html" 2>/dev/null
  echo "$OUT/$name.png"
done
