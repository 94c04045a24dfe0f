#!/usr/bin/env bash
# Second-pass issue 6 checks on one GPU (run after the bundle is built): quantization error on few full-width blocks and
# the whole model, and the fp8 text encoder streamed from a random 30-layer checkpoint on disk. Outputs to $OUT.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${FLUX2_RUN:-$ROOT/.gpu-bundle/run.sh}"
DEST="${OUT:-$ROOT/bench-out}"; mkdir -p "$DEST/issue6"
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
for q in qfloat8 qint8; do for b in 1,1 8,48; do
  echo "=== forward $q blocks $b"; timeout 200 "$RUN" bench forward --size 1024 --qtype $q --steps 1 --blocks $b --device cuda > "$DEST/issue6/forward-$q-${b/,/-}.txt" 2>&1
  grep -E "error|median" "$DEST/issue6/forward-$q-${b/,/-}.txt"; done; done
echo "=== text encoder"; timeout 200 "$RUN" bench text-encoder --layers 30 --write-random /tmp/flux2-te30 --device cuda > "$DEST/issue6/te-write.txt" 2>&1; tail -2 "$DEST/issue6/te-write.txt"
timeout 200 "$RUN" bench text-encoder --layers 30 --tokens 512 --from /tmp/flux2-te30 --qtype qfloat8 --device cuda > "$DEST/issue6/te-fp8.txt" 2>&1; echo "exit $?"; tail -25 "$DEST/issue6/te-fp8.txt"
rm -rf /tmp/flux2-te30
echo "=== low_vram on the GPU: the micro job with model.low_vram, 40 steps (must train and sample like without it)"
for lv in false true; do
  sed -e "s#training_folder: output#training_folder: /tmp/lowvram-$lv#" -e "s#device: cpu#device: cuda#" -e "s#steps: 300#steps: 40#" \
      -e "s#arch: flux2#arch: flux2, low_vram: $lv#" "$ROOT/datasets-sample/midnight_tarot.yaml" > /tmp/lowvram-$lv.yaml
  timeout 200 "$RUN" train /tmp/lowvram-$lv.yaml --no-eval > "$DEST/issue6/lowvram-$lv.txt" 2>&1; echo "low_vram $lv: exit $?"
  grep -E "low_vram|step 40" "$DEST/issue6/lowvram-$lv.txt" | tail -3
done
