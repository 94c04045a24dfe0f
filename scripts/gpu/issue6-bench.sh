#!/usr/bin/env bash
# Memory-saving benchmarks (quantization, offloading, low_vram) on one GPU with the portable bundle
# (scripts/make-gpu-bundle.sh --without-micro):
#   scripts/gpu/issue6-bench.sh <group>...   groups: trains, quant-error, memory, te, lowvram, all (the default)
# then: scripts/gpu/issue6-verdict.py <output folder> prints the pass/fail verdicts from these files.
# Every scenario is one `flux2 bench ...` command; outputs go to $OUT (or ./bench-out) as <scenario>.txt.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${FLUX2_RUN:-$ROOT/.gpu-bundle/run.sh}"
DEST="${OUT:-$ROOT/bench-out}"; mkdir -p "$DEST"
# Each scenario is bounded (FLUX2_BENCH_TIMEOUT seconds, default 300) so that one stuck run cannot eat the rest.
one() { local name=$1; shift; echo "=== $name: flux2 $*"; timeout "${FLUX2_BENCH_TIMEOUT:-300}" "$RUN" "$@" --device cuda 2>&1 | tee "$DEST/$name.txt" | grep -E "median|peak|MFU|achieved|error|memory at|tier|Error|error|offload" ; }
for group in "${@:-all}"; do
  case $group in
    trains|all) for s in 1024 512; do for r in 32 16; do for t in C B A; do
                  one "train-$t-$s-r$r" bench train --tier $t --size $s --rank $r --steps 6; done; done; done
                one "train-B-int8-1024-r32" bench train --tier B --qtype qint8 --size 1024 --rank 32 --steps 6 ;;&
    quant-error|all) for q in qfloat8 qint8; do for b in 1,1 8,48; do
                       one "forward-$q-1024-blocks-${b/,/-}" bench forward --size 1024 --qtype $q --steps 2 --blocks $b; done; done ;;&
    memory|all) one "memory-C-512-200" bench train --tier C --size 512 --rank 32 --memory-steps 200 ;;&
    te|all) one "te-write-random" bench text-encoder --layers 30 --write-random /tmp/flux2-te30
            one "te-fp8-streamed" bench text-encoder --layers 30 --tokens 512 --from /tmp/flux2-te30 --qtype qfloat8
            # model.low_vram's way: weights in CPU memory, one decoder layer at a time on the GPU
            one "te-fp8-low-vram" bench text-encoder --layers 30 --tokens 512 --from /tmp/flux2-te30 --qtype qfloat8 --low-vram
            rm -rf /tmp/flux2-te30 ;;&
    lowvram|all) # the micro job on the GPU, 40 steps: low_vram and layer offloading must train exactly as without
      # name | model keys | train keys ("key: value" separated by ';', added under model: / train:)
      variants=("plain||" "lowvram|low_vram: true|" "checkpointed||gradient_checkpointing: true"
                "offload|layer_offloading: true;layer_offloading_transformer_percent: 0.5|gradient_checkpointing: true")
      for v in "${variants[@]}"; do
        IFS='|' read -r name model train <<< "$v"
        sed -e "s#training_folder: output#training_folder: /tmp/micro-$name#" -e "s#device: cpu#device: cuda#" -e "s#steps: 300#steps: 40#" \
            -e "/gradient_checkpointing: false/d" "$ROOT/datasets-sample/midnight_tarot.yaml" > /tmp/micro-$name.yaml
        python3 - /tmp/micro-$name.yaml "$model" "$train" <<'PY'
import sys
path, model, train = sys.argv[1:4]
lines = open(path).read().split("\n")
def add(after, keys):
    i = next(n for n, l in enumerate(lines) if l.strip() == after)
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    for k in reversed([k for k in keys.split(";") if k]): lines.insert(i + 1, indent + k)
add("arch: flux2", model); add("batch_size: 1", train)
open(path, "w").write("\n".join(lines))
PY
        echo "=== micro-$name: flux2 train (micro, 40 steps; model: ${model:-as shipped}; train: ${train:-as shipped})"
        timeout "${FLUX2_BENCH_TIMEOUT:-300}" "$RUN" train /tmp/micro-$name.yaml --no-eval > "$DEST/micro-$name.txt" 2>&1; echo "exit $?"
        lora=$(sed -n 's/^done in .* LoRA: //p' "$DEST/micro-$name.txt")
        # The LoRA's tensor bytes (the safetensors data after the JSON header): equal hashes = bit-identical training.
        [[ -f $lora ]] && python3 -c 'import hashlib,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print("lora data sha256", hashlib.sha256(b[8+n:]).hexdigest())' "$lora" \
          | tee -a "$DEST/micro-$name.txt"
        grep -aoE "train loss [0-9.]+" "$DEST/micro-$name.txt" | tail -1
      done ;;&
    *) ;;
  esac
done
