"""The MinAtar network's gradient step with flax's `nn.Conv` against the patch matmul
(`core.networks.Conv3x3`), called directly and inside a `lax.scan`, for 1
and 4 vmapped seeds (benchmarks/RESULTS.md, "the MinAtar conv as a matmul of patches").

    python benchmarks/bench_conv.py
    python benchmarks/bench_conv.py --seeds 1,4,16 --batch 128 --steps 50

Each row: milliseconds per SGD step of `mean(Q ** 2)` on a random batch of 10 x 10 x 4
observations through one 3x3, 16-channel conv, a 128-unit layer and 6 outputs; median
of 5 timings of `--steps` steps, after a compile and a warm-up call.
"""

from __future__ import annotations

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from machine import machine  # benchmarks/machine.py

from purejaxdqn.core.networks import Conv3x3


class Net(nn.Module):
    as_matmul: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = Conv3x3(16) if self.as_matmul else nn.Conv(16, (3, 3), padding="SAME")
        x = nn.relu(conv(x)).reshape(x.shape[0], -1)
        return nn.Dense(6)(nn.relu(nn.Dense(128)(x)))


def timed(f, params, xs) -> float:
    """Median seconds of one call of f (a jitted, donated update) over 5 timings."""
    params = jax.block_until_ready(f(params, xs))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        params = jax.block_until_ready(f(params, xs))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def row(seeds: int, batch: int, n: int, as_matmul: bool) -> tuple[float, float]:
    """ms per step of `seeds` vmapped SGD steps, called directly and inside a scan."""
    net = Net(as_matmul)
    xs = jax.random.uniform(jax.random.key(1), (seeds, batch, 10, 10, 4))

    def init() -> dict:
        return jax.vmap(lambda k: net.init(k, xs[0, :1]))(
            jax.random.split(jax.random.key(0), seeds)
        )

    def step(p, x):
        grads = jax.grad(lambda p: jnp.mean(net.apply(p, x) ** 2))(p)
        return jax.tree.map(lambda w, g: w - 1e-3 * g, p, grads)

    one = jax.jit(jax.vmap(step), donate_argnums=0)

    def direct(p, x):
        for _ in range(n):
            p = one(p, x)
        return p

    scanned = jax.jit(
        jax.vmap(lambda p, x: jax.lax.scan(lambda p, _: (step(p, x), None), p, None, n)[0]),
        donate_argnums=0,
    )
    return timed(direct, init(), xs) / n * 1e3, timed(scanned, init(), xs) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,4")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50, help="steps per timing")
    args = parser.parse_args()
    print(machine())
    print("| seeds | conv | called directly, ms per step | inside lax.scan, ms per step |")
    print("|---|---|---|---|")
    for seeds in (int(s) for s in args.seeds.split(",")):
        for as_matmul in (False, True):
            a, b = row(seeds, args.batch, args.steps, as_matmul)
            name = "patch matmul" if as_matmul else "nn.Conv"
            print(f"| {seeds} | {name} | {a:.2f} | {b:.2f} |", flush=True)


if __name__ == "__main__":
    main()
