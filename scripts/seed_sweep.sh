#!/usr/bin/env bash
# A grid of traced hyperparameters x seeds in one compiled program, sharded over every
# local device; writes sweep.csv (best first) and sweep.png into the run directory.
#   bash scripts/seed_sweep.sh                         # 4 settings x 256 seeds
#   SEEDS=16 bash scripts/seed_sweep.sh --grid tau=1.0,0.5
set -euo pipefail
exec "${PYTHON:-python}" -m purejaxdqn sweep --seeds "${SEEDS:-256}" \
  --grid "learning_rate=${LEARNING_RATES:-1e-3,3e-3}" --grid "gamma=${GAMMAS:-0.99,0.995}" "$@"
