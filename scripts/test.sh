#!/usr/bin/env bash
# Runs the whole xunit suite and the formatting check (dotnet format --verify-no-changes), and ends with the plain
# summary line "N passed, N failed" taken from the test results.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="$ROOT/tests/TestResults"
rm -rf "$RESULTS"
# dotnet-repl (.config/dotnet-tools.json) runs the notebooks in NotebookExecutionTests; they #r the Release build.
dotnet tool restore --tool-manifest "$ROOT/.config/dotnet-tools.json" >/dev/null || { echo "dotnet tool restore failed" >&2; exit 1; }
dotnet test "$ROOT/Flux2Notebooks.sln" --nologo -c Release --logger "trx;LogFileName=results.trx" --results-directory "$RESULTS" "$@"
status=$?
passed=0; failed=0
# Formatting (.editorconfig): `dotnet format` must find nothing to change. Counted as one test.
mkdir -p "$RESULTS"
if dotnet format "$ROOT/Flux2Notebooks.sln" --verify-no-changes -v q >"$RESULTS/format.log" 2>&1; then
  passed=1; echo "dotnet format --verify-no-changes: nothing to change"
else
  failed=1; status=1
  echo "dotnet format --verify-no-changes: files need formatting (run: dotnet format Flux2Notebooks.sln)" >&2
  grep -E "error|warning" "$RESULTS/format.log" | head -20 >&2
fi
for trx in "$RESULTS"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  p="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"; f="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; echo "test run failed before producing results (build error?)" >&2; fi
echo "$passed passed, $failed failed"
exit $status
