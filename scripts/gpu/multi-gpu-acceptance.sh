#!/usr/bin/env bash
# Multi-GPU acceptance checks on a machine with 2 GPUs (docs/multi-gpu.md). Run from the repository root, after
# scripts/make-gpu-bundle.sh, on the GPU machine:   OUT=/some/dir scripts/gpu/multi-gpu-acceptance.sh
#   A1  micro model, same seed: 2 GPUs x batch 1 vs 1 GPU x batch 2 -> both loss curves and the max difference
#   A3  2-rank training, kill -9 of rank 1 after a checkpoint -> seconds to exit and the message; rerun -> "resuming from step N"
#   A2  full FLUX.2-dev dims (random weights), 1024^2, rank 32: bench train on 1 GPU, then --gpus 2 -> throughput ratio (>= 1.8x)
# Everything goes to $OUT (summary.txt plus each command's log). FLUX2_RUN overrides the launcher (default .gpu-bundle/run.sh).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUN="${FLUX2_RUN:-$ROOT/.gpu-bundle/run.sh}"
OUT="$(realpath -m "${OUT:-$ROOT/multi-gpu-acceptance}")"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
[[ -x "$RUN" ]] || { echo "no $RUN: build the bundle first (scripts/make-gpu-bundle.sh)" >&2; exit 2; }
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader | tee "$OUT/gpus.txt"
[[ "$(wc -l < "$OUT/gpus.txt")" -ge 2 ]] || { echo "needs 2 GPUs" >&2; exit 2; }
export NCCL_DEBUG="${NCCL_DEBUG:-WARN}"

# A micro job derived from datasets-sample/midnight_tarot.yaml: on the GPU, fp32, 40 steps, no mid-run samples.
micro_job() { # <training_folder> <batch_size> <steps> <save_every>
  sed -e "s#training_folder: output#training_folder: $1#" -e "s#device: cpu#device: cuda#" \
      -e "s#batch_size: 1#batch_size: $2#" -e "s#steps: 300#steps: $3#" -e "s#sample_every: 100#sample_every: 100000#" \
      -e "s#save_every: 100#save_every: $4#" datasets-sample/midnight_tarot.yaml
}
losses() { python3 - "$1" <<'PY'
import sqlite3, sys
for step, loss in sqlite3.connect(sys.argv[1]).execute("select step, loss from steps order by step"): print(step, repr(loss))
PY
}

say "== A1: 2 GPUs x batch 1 vs 1 GPU x batch 2 (micro model, same seed)"
rm -rf "$OUT/a1-single" "$OUT/a1-pair"
micro_job "$OUT/a1-single" 2 40 1000 > "$OUT/a1-single.yaml"
micro_job "$OUT/a1-pair" 1 40 1000 > "$OUT/a1-pair.yaml"
"$RUN" train "$OUT/a1-single.yaml" --no-eval > "$OUT/a1-single.log" 2>&1; say "1 GPU x batch 2: exit $?"
"$RUN" train "$OUT/a1-pair.yaml" --gpus 2 --no-eval > "$OUT/a1-pair.log" 2>&1; say "2 GPUs x batch 1: exit $?"
python3 - "$OUT/a1-single/midnight_tarot_micro/run.sqlite" "$OUT/a1-pair/midnight_tarot_micro/run.sqlite" <<'PY' | tee -a "$SUMMARY"
import sqlite3, sys
a = dict(sqlite3.connect(sys.argv[1]).execute("select step, loss from steps"))
b = dict(sqlite3.connect(sys.argv[2]).execute("select step, loss from steps"))
print(f"{'step':>4} {'1 GPU x b2':>14} {'2 GPU x b1':>14} {'|diff|':>10}")
for s in sorted(a): print(f"{s:>4} {a[s]:>14.7f} {b.get(s, float('nan')):>14.7f} {abs(a[s] - b.get(s, float('nan'))):>10.2e}")
d = max(abs(a[s] - b[s]) for s in a if s in b) if a and b else float('nan')
print(f"A1 steps {len(a)} vs {len(b)}; max |loss difference| {d:.3e}  ->  {'PASS' if len(a) == len(b) == 40 and d < 1e-3 else 'CHECK'} (tolerance 1e-3)")
PY

say "== A3: kill -9 of rank 1 ends the job within 60 s; a restart resumes"
rm -rf "$OUT/a3"
micro_job "$OUT/a3" 1 100000 10 > "$OUT/a3.yaml"
"$RUN" train "$OUT/a3.yaml" --gpus 2 --no-eval > "$OUT/a3-train.log" 2>&1 &
LAUNCHER=$!
for _ in $(seq 600); do ls "$OUT"/a3/midnight_tarot_micro/*.state.safetensors >/dev/null 2>&1 && break; sleep 0.5; done
sleep 2
RANK1=""
for pid in $(pgrep -f "flux2.dll train $OUT/a3.yaml" || true); do
  if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1"; then RANK1=$pid; fi
done
if [[ -z "$RANK1" ]]; then say "A3: rank 1 not found (see $OUT/a3-train.log)"; kill "$LAUNCHER" 2>/dev/null
else
  T0=$(date +%s.%N); kill -9 "$RANK1"
  wait "$LAUNCHER"; CODE=$?
  T1=$(date +%s.%N)
  say "A3: killed rank 1 (pid $RANK1); launcher exited with code $CODE after $(python3 -c "print(f'{$T1-$T0:.1f}')") s"
  grep -E "rank [0-9]+ .*(killed|exited|stops the job|stopping)|job stopped" "$OUT/a3-train.log" | sed 's/^/  message: /' | tee -a "$SUMMARY"
  micro_job "$OUT/a3" 1 $(( $(ls "$OUT"/a3/midnight_tarot_micro/*.state.safetensors | sed -E 's/.*_0*([0-9]+)\.state\.safetensors/\1/' | sort -n | tail -1) + 10 )) 10 > "$OUT/a3-resume.yaml"
  "$RUN" train "$OUT/a3-resume.yaml" --gpus 2 --no-eval > "$OUT/a3-resume.log" 2>&1; say "A3 restart: exit $?"
  grep -o "resuming from step [0-9]*" "$OUT/a3-resume.log" | head -1 | sed 's/^/  /' | tee -a "$SUMMARY"
fi

say "== A2: throughput at FLUX.2-dev dims, 1024^2, rank 32 (random weights): 2 GPUs >= 1.8x one GPU"
throughput() { grep -oE "^throughput: [0-9.]+ images/s" "$1" | grep -oE "[0-9.]+" | tail -1; }
"$RUN" bench train --config dev --size 1024 --rank 32 --tier C --steps 5 > "$OUT/a2-1gpu.log" 2>&1; say "1 GPU: exit $?"
grep -E "^(train step|throughput:)" "$OUT/a2-1gpu.log" | sed 's/^/  /' | tee -a "$SUMMARY"
if "$RUN" help bench 2>/dev/null | grep -q -- "--gpus"; then
  "$RUN" bench train --config dev --size 1024 --rank 32 --tier C --steps 5 --gpus 2 > "$OUT/a2-2gpu.log" 2>&1; say "2 GPUs: exit $?"
  grep -E "^(train step|throughput:)" "$OUT/a2-2gpu.log" | sed 's/^/  /' | tee -a "$SUMMARY"
  ONE="$(throughput "$OUT/a2-1gpu.log")"; TWO="$(throughput "$OUT/a2-2gpu.log")"
  if [[ -n "$ONE" && -n "$TWO" ]]; then
    python3 -c "r = $TWO / $ONE; print(f'A2 throughput 2 GPUs / 1 GPU = {$TWO} / {$ONE} = {r:.2f}x  ->  ' + ('PASS' if r >= 1.8 else 'FAIL') + ' (needs >= 1.8x)')" | tee -a "$SUMMARY"
  else
    say "A2: a throughput line is missing (see $OUT/a2-1gpu.log, $OUT/a2-2gpu.log)"
  fi
else
  say "2 GPUs: not measured - bench train has no --gpus option in this build"
fi
say "outputs: $OUT"
