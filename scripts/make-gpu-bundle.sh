#!/usr/bin/env bash
# Builds a portable bundle for a CUDA machine that has PyTorch but no .NET (environment.md, "GPU bundle"):
#   <out>/dotnet-runtime.tar.xz  the .NET runtime (dotnet host + Microsoft.NETCore.App), ~26 MB
#   <out>/app.tar.xz             framework-dependent publish of the CLI without the CPU libtorch, ~8 MB
#   <out>/run.sh                 unpacks both once, finds PyTorch's torch/lib, runs flux2
# Both parts are xz-compressed so the bundle stays small enough to travel with a working tree (~35 MB).
# Usage: scripts/make-gpu-bundle.sh [--without-micro] [out-dir]
#   --without-micro leaves the 23 MB FLUX.2-micro weights out; run.sh then links them from the checkout it is run in
#   (src/Flux2.Core/Micro/flux2-micro) — for shipping the bundle together with a clone, where size matters.   (default .gpu-bundle). Copy the folder over and run <out>/run.sh <command>.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_MICRO=1
if [[ "${1:-}" == "--without-micro" ]]; then WITH_MICRO=0; shift; fi
OUT="$(realpath -m "${1:-$ROOT/.gpu-bundle}")"
rm -rf "$OUT"; mkdir -p "$OUT"
STAGE="$(mktemp -d)"; trap 'rm -rf "$STAGE"' EXIT
dotnet publish "$ROOT/src/Flux2.Cli/Flux2.Cli.csproj" -c Release -p:Flux2CpuLibTorch=false --self-contained false -o "$STAGE/app" --nologo -v quiet -clp:ErrorsOnly
if [[ $WITH_MICRO == 0 ]]; then rm -rf "$STAGE/app/models/flux2-micro"; fi
tar -C "$STAGE" -cJf "$OUT/app.tar.xz" app
DOTNET_DIR="$(dirname "$(readlink -f "$(command -v dotnet)")")"
RUNTIME="$(ls -d "$DOTNET_DIR"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)"
tar -C "$DOTNET_DIR" -cJf "$OUT/dotnet-runtime.tar.xz" dotnet host "shared/Microsoft.NETCore.App/$(basename "$RUNTIME")"
cat > "$OUT/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the bundled flux2 CLI against this machine's PyTorch (CUDA) libtorch.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DN="${FLUX2_DOTNET_DIR:-${TMPDIR:-/tmp}/flux2-dotnet}"
if [[ ! -x "$DN/dotnet" ]]; then mkdir -p "$DN" && tar -C "$DN" -xJf "$HERE/dotnet-runtime.tar.xz"; fi
# The app is unpacked next to the runtime, keyed by the archive's checksum so a new bundle replaces an old one.
APP="$DN/app-$(cksum < "$HERE/app.tar.xz" | cut -d' ' -f1)"
if [[ ! -f "$APP/app/flux2.dll" ]]; then rm -rf "$APP.tmp" && mkdir -p "$APP.tmp" && tar -C "$APP.tmp" -xJf "$HERE/app.tar.xz" && mv "$APP.tmp" "$APP"; fi
TORCH_LIB="${FLUX2_TORCH_LIB:-$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))' 2>/dev/null || true)}"
if [[ -z "$TORCH_LIB" || ! -f "$TORCH_LIB/libtorch.so" ]]; then
  echo "run.sh: PyTorch not found (python3 -c 'import torch' failed). Install PyTorch with CUDA or set FLUX2_TORCH_LIB=<site-packages>/torch/lib" >&2
  exit 2
fi
export DOTNET_ROOT="$DN" FLUX2_TORCH_LIB="$TORCH_LIB" LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"
MICRO="$APP/app/models/flux2-micro"
if [[ ! -e "$MICRO" && -f "$PWD/src/Flux2.Core/Micro/flux2-micro/model_index.json" ]]; then
  mkdir -p "$APP/app/models" && ln -sfn "$PWD/src/Flux2.Core/Micro/flux2-micro" "$MICRO"
fi
exec "$DN/dotnet" "$APP/app/flux2.dll" "$@"
RUN
chmod +x "$OUT/run.sh"
du -sh "$OUT"/* | sed 's/^/  /'
echo "bundle ready: $OUT (copy it to the GPU machine, then: $OUT/run.sh bench forward --device cuda)"
