"""The measurements behind the `cartpole` preset (benchmarks/RESULTS.md, last table).

    python benchmarks/tune_cartpole.py 0,1 base lr3e-3      # keys, then candidate names

Each candidate is the DQNConfig defaults with freeze_when_solved plus its changes; each key
trains 8 vmapped seeds. Prints compile and run seconds, solved seeds (final greedy eval
>= 475 on 100 fresh episodes) and the env step at which each seed froze (-1: never).
"""

import sys
import time
from typing import Any

import jax
import numpy as np

import purejaxdqn

CANDIDATES = {
    "base": {},
    "h128": dict(hidden_sizes=(128,)),
    "h64": dict(hidden_sizes=(64,)),
    "h128_lr3e-3": dict(hidden_sizes=(128,), learning_rate=3e-3),
    "swish": dict(activation="swish"),
    "tf8": dict(
        train_frequency=8,
        target_update_frequency=512,
        eval_frequency=4096,
        total_timesteps=1000 + 4096 * 24,
    ),
    "eps10k": dict(epsilon_decay_steps=10_000),
    "lr2e-3": dict(learning_rate=2e-3),
    "lr2e-3_eps10k": dict(learning_rate=2e-3, epsilon_decay_steps=10_000),
    "lr3e-3": dict(learning_rate=3e-3),
}


def timed_seeds(config: purejaxdqn.DQNConfig, key: int, seeds: int) -> tuple[float, float, Any]:
    """`seeds` vmapped seeds of `config` split from `jax.random.key(key)`, in one compiled
    call: (compile seconds, run seconds, result). tune_presets.py times with it too."""
    keys = jax.random.split(jax.random.key(key), seeds)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(purejaxdqn.make_train(config))).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(keys))
    return compile_s, time.perf_counter() - start, result


def main() -> None:
    keys_arg, names = sys.argv[1], sys.argv[2:]
    base = purejaxdqn.DQNConfig(freeze_when_solved=True)
    for name in names:
        config = base.replace(**CANDIDATES[name])
        for k in (int(s) for s in keys_arg.split(",")):
            compile_s, run_s, result = timed_seeds(config, k, 8)
            final = np.asarray(result.final_eval_returns).mean(-1)
            steps = np.asarray(result.metrics.env_step[:, -1])
            frozen_at = np.where(np.asarray(result.metrics.frozen).any(1), steps, -1)
            print(
                f"{name} key{k} compile {compile_s:.1f} run {run_s:.1f} "
                f"solved {(final >= 475).sum()}/8 frozen_at {frozen_at.tolist()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
