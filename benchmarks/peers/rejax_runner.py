"""rejax's DQN or PQN on gymnax CartPole-v1, seeds vmapped as rejax does
(`jax.vmap(algo.train)`). Runs in benchmarks/.venv-rejax (benchmarks/setup_rejax_venv.sh):

    benchmarks/.venv-rejax/bin/python benchmarks/peers/rejax_runner.py --seeds 8
    benchmarks/.venv-rejax/bin/python benchmarks/peers/rejax_runner.py --alg pqn --seeds 8
    benchmarks/.venv-rejax/bin/python benchmarks/peers/rejax_runner.py --config-json '{...}'

Without --config-json the configuration is rejax's own tuned CartPole file, the `dqn` (or
`pqn`) entry of configs/gymnax/cartpole.yaml from the rejax sdist (unpacked by the setup
script into .venv-rejax/rejax-configs), used unchanged; --set KEY=VALUE overrides fields
of either (given as YAML values). Times: compile = `jit(vmap(train)).lower(keys).compile()`,
run = the compiled call to `block_until_ready` (rejax's own periodic evaluations
included), eval = compile and run of the common final evaluation: 100 fresh greedy
episodes (argmax of the Q-network) of gymnax CartPole-v1 on each seed's final parameters.
Prints one JSON object.
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
from rejax import DQN, PQN

SOLVE = 475.0
CONFIG_FILE = Path(sys.prefix) / "rejax-configs" / "gymnax" / "cartpole.yaml"


def greedy_eval(algo, params, key, episodes: int):
    """Mean return of `episodes` fresh greedy episodes, for one seed's parameters."""
    env, env_params = algo.env, algo.env_params
    max_steps = int(env_params.max_steps_in_episode)

    def episode(k):
        k_reset, k_run = jax.random.split(k)
        obs, state = env.reset(k_reset, env_params)

        def step(carry, k_step):
            obs, state, total, done = carry
            q = algo.agent.apply(params, obs[None])[0]
            action = jnp.argmax(q)
            obs, state, reward, d, _ = env.step(k_step, state, action, env_params)
            total = total + jnp.where(done, 0.0, reward)
            return (obs, state, total, jnp.logical_or(done, d)), None

        carry = (obs, state, jnp.float32(0.0), jnp.bool_(False))
        carry, _ = jax.lax.scan(step, carry, jax.random.split(k_run, max_steps))
        return carry[2]

    return jax.vmap(episode)(jax.random.split(key, episodes)).mean()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alg", choices=("dqn", "pqn"), default="dqn")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--key", type=int, default=0)
    parser.add_argument("--config-json", help="a full rejax config (else rejax's own)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs (median)")
    args = parser.parse_args()
    if args.config_json:
        config, source = json.loads(args.config_json), "--config-json"
    else:
        config = yaml.safe_load(CONFIG_FILE.read_text())[args.alg]
        source = f"{CONFIG_FILE} ({args.alg})"
    for item in args.set:
        name, value = item.split("=", 1)
        config[name] = yaml.safe_load(value)
    algo = (DQN if args.alg == "dqn" else PQN).create(**config)
    keys = jax.random.split(jax.random.PRNGKey(args.key), args.seeds)

    start = time.perf_counter()
    train = jax.jit(jax.vmap(algo.train)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ts, _ = jax.block_until_ready(train(keys))
        runs.append(time.perf_counter() - start)
    run_s = float(np.median(runs))

    eval_keys = jax.random.split(jax.random.PRNGKey(1_000_000 + args.key), args.seeds)
    start = time.perf_counter()
    evaluate = jax.jit(jax.vmap(lambda p, k: greedy_eval(algo, p, k, args.episodes)))
    final = np.asarray(jax.block_until_ready(evaluate(ts.q_ts.params, eval_keys)))
    eval_s = time.perf_counter() - start

    steps = np.asarray(ts.global_step)
    if args.alg == "dqn":
        iterations = int(np.ceil(algo.total_timesteps / algo.eval_freq)) * int(
            np.ceil(algo.eval_freq / algo.num_envs)
        )
        updating = sum(
            1 for i in range(1, iterations + 1) if (i - 1) * algo.num_envs > algo.fill_buffer
        )
        gradient_steps = updating * algo.num_epochs
    else:  # every rollout of num_envs x num_steps, then num_epochs x num_minibatches
        rollouts = int(steps[0]) // (algo.num_envs * algo.num_steps)
        gradient_steps = rollouts * algo.num_epochs * algo.num_minibatches
    print(
        json.dumps(
            {
                "peer": "rejax",
                "tool": f"rejax {args.alg}",
                "seeds": args.seeds,
                "config_source": source,
                "config": config,
                "compile_s": compile_s,
                "run_s": run_s,
                "run_s_all": runs,
                "eval_s": eval_s,
                "env_steps": int(steps.sum()),
                "env_steps_per_seed": int(steps[0]),
                "gradient_steps_per_seed": gradient_steps,
                "final_returns": [float(f) for f in final],
                "solved": int((final >= SOLVE).sum()),
                "versions": {
                    p: version(p) for p in ("rejax", "jax", "jaxlib", "gymnax", "flax", "optax")
                },
                "device": jax.devices()[0].device_kind,
            }
        )
    )


if __name__ == "__main__":
    main()
