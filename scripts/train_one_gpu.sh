#!/usr/bin/env bash
# Many seeds of one config on one GPU (GPU=1 picks another; on a machine with no GPU it
# runs on the CPU). Extra arguments go to `purejaxdqn train`, e.g. --preset notebook.
#   bash scripts/train_one_gpu.sh                      # 1024 seeds of the cartpole preset
#   SEEDS=4 bash scripts/train_one_gpu.sh --set total_timesteps=21000
set -euo pipefail
export CUDA_VISIBLE_DEVICES="${GPU:-0}"
exec "${PYTHON:-python}" -m purejaxdqn train --seeds "${SEEDS:-1024}" --devices 1 "$@"
