#!/usr/bin/env bash
# Installs what the notebooks need in Jupyter Notebook / JupyterLab, idempotently, from the package registries:
#   - Debian packages: Jupyter Notebook, nbconvert, jupyter_client, nbformat (apt-get; root or sudo);
#     with --browser also chromium, libjs-marked and the npm package playwright-core (the chart test in
#     scripts/notebooks-jupyter.sh; the screenshots of scripts/notebook-screenshots.sh)
#   - the .NET Jupyter kernel Microsoft.dotnet-interactive at a pinned version, into .tools/ of this checkout
#   - the kernelspec ".net-csharp" (the name the notebooks ask for) in the user's Jupyter folder, pointing at that
#     kernel by absolute path, so Jupyter finds it without ~/.dotnet/tools on PATH
#   - the Release build of src/Flux2.Interactive, which each notebook's first cell #r's
# Usage: scripts/setup-notebooks.sh [--browser]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KERNEL_VERSION=1.0.712001
TOOLS="$ROOT/.tools"
browser=0
for a in "$@"; do
  case "$a" in
    --browser) browser=1 ;;
    *) echo "unknown option $a (usage: scripts/setup-notebooks.sh [--browser])" >&2; exit 2 ;;
  esac
done

debs=(jupyter-notebook jupyter-nbconvert python3-nbconvert python3-jupyter-client python3-nbformat)
(( browser )) && debs+=(chromium libjs-marked)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "ok installed" || missing+=("$d")
done
if (( ${#missing[@]} )); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's Jupyter runs on Debian's python3; a python3 earlier on PATH (pyenv, venv) would not see its modules.
PY=/usr/bin/python3

if [[ ! -x "$TOOLS/dotnet-interactive" ]] \
   || ! dotnet tool list --tool-path "$TOOLS" | grep -q "microsoft.dotnet-interactive *$KERNEL_VERSION"; then
  dotnet tool uninstall Microsoft.dotnet-interactive --tool-path "$TOOLS" >/dev/null 2>&1 || true
  dotnet tool install Microsoft.dotnet-interactive --version "$KERNEL_VERSION" --tool-path "$TOOLS" >/dev/null
fi

# The kernelspec dotnet-interactive would write (`dotnet interactive jupyter install`), with the tool's absolute path
# and interrupt_mode "signal" (Jupyter's default, written out): Interrupt sends SIGINT to the kernel process, which
# stops a notebook training run after its current step (Flux2.Interactive takes SIGINT over while a run trains) and
# otherwise shuts the kernel down. With "message" the kernel ignores Interrupt while a cell runs.
spec="$(mktemp -d)/.net-csharp"; mkdir -p "$spec"
cat >"$spec/kernel.json" <<JSON
{
  "argv": ["$TOOLS/dotnet-interactive", "jupyter", "--default-kernel", "csharp", "{connection_file}",
           "--http-port-range", "2048-3000"],
  "env": {"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT": "1",
          "OMP_WAIT_POLICY": "PASSIVE"},
  "display_name": ".NET (C#)",
  "language": "C#",
  "interrupt_mode": "signal"
}
JSON
$PY -c 'import sys; from jupyter_client.kernelspec import KernelSpecManager as M
M().install_kernel_spec(sys.argv[1], ".net-csharp", user=True)' "$spec"
rm -rf "$(dirname "$spec")"

if (( browser )) && [[ ! -d "$TOOLS/node_modules/playwright-core" ]]; then
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent playwright-core@1.65.2 >/dev/null
fi

dotnet build "$ROOT/src/Flux2.Interactive/Flux2.Interactive.csproj" -c Release --nologo -v q >/dev/null

echo "Ready. Next step: cd \"$ROOT/notebooks\" && jupyter notebook   (or: jupyter lab, if JupyterLab is installed)"
