#!/usr/bin/env bash
# One process per host, all hosts running this same command: the seeds are sharded over
# every device of every host (jax.distributed); process 0 writes the run directory's
# files, every process its own checkpoint shards, so the run directory must be on a
# filesystem every host sees (checked at the start). Under SLURM or Open MPI, JAX finds the three values itself:
#   srun --nodes=4 --ntasks-per-node=1 bash scripts/train_multihost.sh --out runs/big
# Elsewhere give them (process 0's host and a free port; the same --out on every host):
#   COORDINATOR=host0:12345 NUM_PROCESSES=2 PROCESS_ID=0 bash scripts/train_multihost.sh
#   COORDINATOR=host0:12345 NUM_PROCESSES=2 PROCESS_ID=1 bash scripts/train_multihost.sh
set -euo pipefail
flags=(--distributed)
[[ -n "${COORDINATOR:-}" ]] && flags+=(--coordinator "$COORDINATOR")
[[ -n "${NUM_PROCESSES:-}" ]] && flags+=(--num-processes "$NUM_PROCESSES")
[[ -n "${PROCESS_ID:-}" ]] && flags+=(--process-id "$PROCESS_ID")
exec "${PYTHON:-python}" -m purejaxdqn train --seeds "${SEEDS:-4096}" "${flags[@]}" "$@"
