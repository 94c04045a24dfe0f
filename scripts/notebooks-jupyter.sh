#!/usr/bin/env bash
# Runs the notebooks the way Jupyter does, after scripts/setup-notebooks.sh has installed Jupyter, the .NET kernel and
# chromium: every notebook through `jupyter nbconvert --execute`, the stop-and-resume test through jupyter_client and
# the chart test in a live Jupyter Notebook server opened by headless chromium (scripts/notebooks-jupyter.py).
# Ends with the plain line "N passed, N failed". Executed copies and runs go to $NOTEBOOKS_OUT (default: a temp folder).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! "$ROOT/scripts/setup-notebooks.sh" --browser; then
  echo "scripts/setup-notebooks.sh failed" >&2; echo "0 passed, 1 failed"; exit 1
fi
OUT="${NOTEBOOKS_OUT:-$(mktemp -d)}"
# Debian's python3: it has the Jupyter modules apt-get installed (a python3 earlier on PATH may not).
exec /usr/bin/python3 "$ROOT/scripts/notebooks-jupyter.py" "$OUT" "$@"
