"""purejaxql's PQN (`purejaxql/pqn_gymnax.py`, or `pqn_minatar.py` with `--alg
pqn_minatar`, imported unchanged from the checkout that
benchmarks/setup_purejaxql_venv.sh recorded) on a gymnax env (CartPole-v1 by default), its
seeds vmapped as its own script does (`jax.jit(jax.vmap(make_train(config)))`). Runs in its venv:

    benchmarks/.venv-purejaxql/bin/python benchmarks/peers/purejaxql_runner.py --seeds 8
    ... --set TEST_DURING_TRAINING=false --set TOTAL_TIMESTEPS=204800
    ... --alg pqn_minatar --set ENV_NAME=Breakout-MinAtar   # its MinAtar script and config

The configuration is the checkout's own config.yaml with alg/pqn_cartpole.yaml merged as
`+alg=pqn_cartpole` would (its CartPole config, unchanged; `--alg pqn_minatar`: its
MinAtar config and `pqn_minatar.py`); --set KEY=VALUE overrides keys
of it (YAML values). Times: compile = `jit(vmap(train)).lower(keys).compile()`, run = the
compiled call to `block_until_ready` (its own test-during-training included when on).
eval: the common final evaluation, `--eval-episodes` (100) fresh greedy episodes of its env on each
seed's final network (batch statistics in inference mode). Prints one JSON object.
"""

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import yaml
from omegaconf import OmegaConf

CHECKOUT = Path((Path(sys.prefix) / "purejaxql-checkout").read_text().strip())
sys.path.insert(0, str(CHECKOUT))

from purejaxql import pqn_gymnax, pqn_minatar  # noqa: E402  (the checkout's, unchanged)

SCRIPTS = {"pqn_cartpole": pqn_gymnax, "pqn_minatar": pqn_minatar}  # its alg config: script


def config(overrides: list[str], alg_name: str = "pqn_cartpole") -> dict:
    """Loaded with OmegaConf as hydra loads it (its YAML reads 5e5 as a float)."""
    root = CHECKOUT / "purejaxql" / "config"
    base = OmegaConf.to_container(OmegaConf.load(root / "config.yaml"))
    alg = {
        **(base.get("alg") or {}),
        **OmegaConf.to_container(OmegaConf.load(root / "alg" / f"{alg_name}.yaml")),
    }
    merged = {**base, "alg": alg}
    merged = {**merged, **merged["alg"]}  # as its single_run does
    for item in overrides:
        key, _, value = item.partition("=")
        merged[key] = yaml.safe_load(value)
    return merged


def greedy_returns(cfg: dict, alg_name: str, train_state, key, episodes: int) -> np.ndarray:
    """(seeds,) mean return of `episodes` fresh greedy episodes per seed (gymnax 0.0.6)."""
    import gymnax

    env, env_params = gymnax.make(cfg["ENV_NAME"])
    mlp = {"hidden_size": cfg.get("HIDDEN_SIZE", 128), "num_layers": cfg.get("NUM_LAYERS", 2)}
    network = SCRIPTS[alg_name].QNetwork(  # pqn_minatar's is its CNN, with no MLP sizes
        action_dim=env.action_space(env_params).n,
        norm_type=cfg["NORM_TYPE"],
        norm_input=cfg.get("NORM_INPUT", False),
        **({} if alg_name == "pqn_minatar" else mlp),
    )
    max_steps = int(env_params.max_steps_in_episode)

    def one_seed(params, batch_stats, key):
        def episode(k):
            k_reset, k_run = jax.random.split(k)
            obs, state = env.reset(k_reset, env_params)

            def step(carry, k_step):
                obs, state, total, done = carry
                variables = {"params": params, "batch_stats": batch_stats}
                q = network.apply(variables, obs[None], train=False)[0]
                obs, state, reward, d, _ = env.step(k_step, state, jnp.argmax(q), env_params)
                total = total + jnp.where(done, 0.0, reward)
                return (obs, state, total, jnp.logical_or(done, d)), None

            carry = (obs, state, jnp.float32(0.0), jnp.bool_(False))
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k_run, max_steps))
            return carry[2]

        return jax.vmap(episode)(jax.random.split(key, episodes)).mean()

    seeds = jax.tree_util.tree_leaves(train_state.params)[0].shape[0]
    keys = jax.random.split(key, seeds)
    evaluate = jax.jit(jax.vmap(one_seed))
    return np.asarray(evaluate(train_state.params, train_state.batch_stats, keys))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument(
        "--alg", choices=sorted(SCRIPTS), default="pqn_cartpole", help="its config and script"
    )
    args = parser.parse_args()
    cfg = config([f"NUM_SEEDS={args.seeds}", *args.set], args.alg)
    script = SCRIPTS[args.alg]
    rngs = jax.random.split(jax.random.PRNGKey(cfg["SEED"]), cfg["NUM_SEEDS"])
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(script.make_train(cfg))).lower(rngs).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    outs = jax.block_until_ready(compiled(rngs))
    run_s = time.perf_counter() - start
    start = time.perf_counter()
    final = greedy_returns(
        cfg, args.alg, outs["runner_state"][0], jax.random.PRNGKey(1), args.eval_episodes
    )
    eval_s = time.perf_counter() - start
    metrics = outs["metrics"]
    test = metrics.get("test/returned_episode_returns")
    steps_per_seed = int(np.asarray(metrics["env_step"])[0, -1])
    print(
        json.dumps(
            {
                "tool": "purejaxql",
                "alg": args.alg,
                "config": {k: v for k, v in cfg.items() if k != "alg"},
                "seeds": args.seeds,
                "compile_s": compile_s,
                "run_s": run_s,
                "eval_s": eval_s,
                "env_steps": steps_per_seed * args.seeds,
                "final_greedy": final.tolist(),
                "test_return_last": None if test is None else np.asarray(test)[:, -1].tolist(),
                "versions": {p: version(p) for p in ("jax", "flax", "optax", "gymnax", "chex")},
                "checkout": str(CHECKOUT),
            }
        )
    )


if __name__ == "__main__":
    main()
