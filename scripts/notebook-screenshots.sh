#!/usr/bin/env bash
# Screenshots of executed notebooks as a browser draws them: each executed .ipynb is rendered to static HTML
# (scripts/notebook-to-html.py: markdown rendered with marked.js, charts drawn with the plotly.js the kernel wrote)
# and shot whole, as one full-page PNG at device scale 0.75, by headless Chromium (scripts/notebook-screenshots.js).
# Needs chromium and playwright-core (scripts/setup-notebooks.sh --browser) and Debian's libjs-marked.
# Usage: scripts/notebook-screenshots.sh <executed .ipynb>...   (PNGs to $SHOTS_DIR, default docs/notebooks)
# Executed copies come from NotebookExecutionTests (its test output names the folder) or from dotnet-repl --output-path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -gt 0 ]] || { echo "usage: $0 <executed .ipynb>..." >&2; exit 2; }
OUT="${SHOTS_DIR:-$ROOT/docs/notebooks}"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
[[ -n "$CHROMIUM" ]] || { echo "no chromium found (scripts/setup-notebooks.sh --browser)" >&2; exit 2; }
[[ -d "$ROOT/.tools/node_modules/playwright-core" ]] \
  || { echo "no .tools/node_modules/playwright-core (scripts/setup-notebooks.sh --browser)" >&2; exit 2; }
mkdir -p "$OUT"; TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
shots=()
for nb in "$@"; do
  name="$(basename "$(basename "$nb" .ipynb)" .executed)"
  python3 "$ROOT/scripts/notebook-to-html.py" "$nb" "$TMP/$name.html"
  shots+=("$TMP/$name.html=$OUT/$name.png")
done
CHROMIUM="$CHROMIUM" node "$ROOT/scripts/notebook-screenshots.js" "${shots[@]}"
