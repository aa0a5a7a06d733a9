#!/usr/bin/env bash
# Builds benchmarks/.venv-sb3: Stable-Baselines3's DQN (torch, CPU) with the rl-zoo
# hyperparameters (rl_zoo3's hyperparams/dqn.yml), for benchmarks/peers/sb3_runner.py.
# torch is installed first, pinned, so that pip takes a CPU wheel and not a multi-GB CUDA
# build. Where PyPI's torch==2.13.0 wheel for your platform is the CUDA one, set
# TORCH_INDEX=https://download.pytorch.org/whl/cpu to take the CPU build from there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-sb3"
pip="$here/.venv-sb3/bin/pip"
if [ -n "${TORCH_INDEX:-}" ]; then
    "$pip" install -q torch==2.13.0 --index-url "$TORCH_INDEX"
else
    "$pip" install -q torch==2.13.0
fi
"$pip" install -q torch==2.13.0 stable-baselines3==2.9.2 rl_zoo3==2.9.2 gymnasium
