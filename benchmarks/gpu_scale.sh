#!/usr/bin/env bash
# Issue 4's GPU figures in one call: bench_scale.py from 1 to 8192 seeds with the gymnax
# env-only ceiling, 1024 seeds of the cartpole preset to the end, and the same 1024 seeds
# through `purejaxdqn train` in a fresh process. Everything lands in $OUT (default
# benchmarks/results). On a machine with no package index, put the wheels of gymnax and
# gymnasium in .whl/ first (benchmarks/RESULTS.md says which); they are installed here.
#
#     bash benchmarks/gpu_scale.sh    # SEEDS=1,16,256,1024,4096,8192 REPEATS=2 SOLVE_SEEDS=1024
set -uo pipefail
OUT=${OUT:-benchmarks/results}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -c "import jax, flax, optax, chex, gymnax; print('jax', jax.__version__, 'flax', \
flax.__version__, 'optax', optax.__version__, 'chex', chex.__version__, jax.devices())" \
  | tee -a "$OUT/gpu.txt" || exit 1
$PY benchmarks/bench_scale.py --seeds "${SEEDS:-1,16,256,1024,4096,8192}" \
  --repeats "${REPEATS:-2}" --solve-seeds "${SOLVE_SEEDS:-1024}" --timesteps "${TIMESTEPS:-50000}" \
  --out "$OUT" 2>&1 | tee "$OUT/bench_scale.log"
start=$(date +%s.%N)
$PY -m purejaxdqn train --seeds "${SOLVE_SEEDS:-1024}" --no-progress --no-plot --force --out /tmp/cli1024 2>&1 \
  | tee "$OUT/cli1024.log"
echo "cli ${SOLVE_SEEDS:-1024} seeds: $($PY -c "import time; print(round(time.time() - $start, 2))") s \
wall, launch to exit" \
  | tee -a "$OUT/cli1024.log"
