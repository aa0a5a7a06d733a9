#!/usr/bin/env bash
# Builds benchmarks/.venv-purejaxql for benchmarks/peers/purejaxql_runner.py: purejaxql's
# PQN (not on the package index) from a checkout of its repository, which stays where it
# is (nothing of it is copied into this repository):
#
#     git clone https://github.com/mttga/purejaxql /path/to/purejaxql
#     git -C /path/to/purejaxql checkout 47af6d7b35c89ddfe633aaf7341bdb8964cb7cce
#     bash benchmarks/setup_purejaxql_venv.sh /path/to/purejaxql
#
# purejaxql pins jax <= 0.4.38 and, for its gymnax scripts, gymnax 0.0.6 (the API before
# gymnax 1.0's terminated/truncated split); flax, optax and chex are the releases of the
# same month as jax 0.4.38. wandb, hydra and omegaconf are imported by its script.
set -euo pipefail
checkout="${1:?usage: setup_purejaxql_venv.sh PATH_TO_PURE_JAXQL_CHECKOUT}"
pinned=47af6d7b35c89ddfe633aaf7341bdb8964cb7cce
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-purejaxql"
test -f "$checkout/purejaxql/pqn_gymnax.py" || { echo "no purejaxql/pqn_gymnax.py in $checkout" >&2; exit 2; }
commit="$(git -C "$checkout" rev-parse HEAD 2>/dev/null || echo unknown)"
[ "$commit" = "$pinned" ] || echo "warning: $checkout is at $commit, the figures were made at $pinned" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q jax==0.4.38 jaxlib==0.4.38 flax==0.10.2 optax==0.2.4 chex==0.1.88 \
    gymnax==0.0.6 "gym>=0.26,<0.27" numpy==1.26.4 hydra-core==1.3.2 omegaconf==2.3.0 \
    safetensors wandb six
echo "$(cd "$checkout" && pwd)" > "$venv/purejaxql-checkout"
