#!/usr/bin/env bash
# Seeds sharded over every local device (all GPUs of the machine, or the CPU). The seed
# count is padded up to a multiple of the device count; extra arguments go to `train`.
#   bash scripts/train_all_gpus.sh                     # 4096 seeds of the cartpole preset
#   SEEDS=64 bash scripts/train_all_gpus.sh --preset notebook
set -euo pipefail
exec "${PYTHON:-python}" -m purejaxdqn train --seeds "${SEEDS:-4096}" "$@"
