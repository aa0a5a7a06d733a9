#!/usr/bin/env bash
# Builds benchmarks/.venv-rejax: rejax's DQN and PQN for benchmarks/peers/rejax_runner.py.
# rejax 0.1.3 is the release that requires gymnax >= 0.0.9; the versions below are the ones
# its own lock file (uv.lock in the rejax 0.1.3 sdist) resolves: jax 0.5.3, gymnax 0.0.9.
# rejax's tuned configs are not in its wheel, only in its sdist (configs/gymnax/*.yaml):
# the sdist is downloaded from PyPI and its configs/ directory unpacked into the venv, so
# the runner reads rejax's own CartPole file, unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-rejax"
python3 -m venv "$venv"
"$venv/bin/pip" install -q rejax==0.1.3 gymnax==0.0.9 jax==0.5.3 jaxlib==0.5.3 flax==0.10.6 \
    optax==0.2.6 distrax==0.1.5 chex==0.1.90 tensorflow-probability==0.25.0 numpy==1.26.4 \
    pyyaml
tmp="$(mktemp -d)"
"$venv/bin/pip" download -q --no-deps --no-binary :all: rejax==0.1.3 -d "$tmp"
tar -xzf "$tmp"/rejax-0.1.3.tar.gz -C "$tmp"
rm -rf "$venv/rejax-configs"
cp -r "$tmp/rejax-0.1.3/configs" "$venv/rejax-configs"
rm -rf "$tmp"
