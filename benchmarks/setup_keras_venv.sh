#!/usr/bin/env bash
# Builds benchmarks/.venv-keras with TensorFlow (CPU) and gymnasium for keras_notebook.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-keras"
"$here/.venv-keras/bin/pip" install -q tensorflow-cpu gymnasium
