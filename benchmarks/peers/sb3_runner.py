"""Stable-Baselines3's DQN (torch, CPU) on gymnasium CartPole-v1 with the rl-zoo
hyperparameters, read from the installed rl_zoo3 package (hyperparams/dqn.yml), one seed.
Runs in benchmarks/.venv-sb3 (benchmarks/setup_sb3_venv.sh):

    benchmarks/.venv-sb3/bin/python benchmarks/peers/sb3_runner.py --seed 0

Trains for the zoo's own n_timesteps (or, with `--config-json`, DQN keyword arguments plus
"n_envs" and "total_timesteps" given by benchmarks/run_all.py), then evaluates the final
model on 100 fresh greedy episodes (`model.predict(obs, deterministic=True)`) of gymnasium
CartPole-v1. Prints one JSON object: compile_s (0: nothing to compile), run_s (training),
eval_s, env_steps, gradient_steps, final_returns (one per seed), solved and the
hyperparameters used.
"""

import argparse
import json
import os
import time

import gymnasium as gym
import numpy as np
import rl_zoo3
import stable_baselines3
import torch
import yaml
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

SOLVE = 475.0


def zoo_hyperparams(env_id: str = "CartPole-v1") -> tuple[dict, str]:
    path = os.path.join(os.path.dirname(rl_zoo3.__file__), "hyperparams", "dqn.yml")
    with open(path) as f:
        return yaml.load(f, Loader=yaml.UnsafeLoader)[env_id], path


def greedy_returns(model, episodes: int, seed: int) -> list[float]:
    env = gym.make("CartPole-v1")
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--total-timesteps", type=int, default=0, help="0: the zoo's")
    parser.add_argument(
        "--config-json", help="DQN kwargs + n_envs + total_timesteps instead of the zoo's"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.config_json:
        zoo, path = json.loads(args.config_json), "--config-json"
        hp = dict(zoo)
        n_timesteps = int(hp.pop("total_timesteps"))
        n_envs = int(hp.pop("n_envs", 1))
    else:
        zoo, path = zoo_hyperparams()
        hp = dict(zoo)
        n_timesteps = int(args.total_timesteps or hp.pop("n_timesteps"))
        n_envs = 1
    hp.pop("n_timesteps", None)
    policy = hp.pop("policy")
    if isinstance(hp.get("policy_kwargs"), str):  # the zoo evaluates this string itself
        hp["policy_kwargs"] = eval(hp["policy_kwargs"])
    start = time.perf_counter()
    env: object = "CartPole-v1"
    if n_envs > 1:
        env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=args.seed)
    model = DQN(policy, env, seed=args.seed, device="cpu", verbose=0, **hp)
    model.learn(total_timesteps=n_timesteps)
    run_s = time.perf_counter() - start
    start = time.perf_counter()
    returns = greedy_returns(model, args.episodes, seed=1_000_000 + 1000 * args.seed)
    eval_s = time.perf_counter() - start
    final = float(np.mean(returns))
    print(
        json.dumps(
            {
                "peer": "sb3",
                "seed": args.seed,
                "compile_s": 0.0,
                "run_s": run_s,
                "eval_s": eval_s,
                "env_steps": int(model.num_timesteps),
                "gradient_steps": int(model._n_updates),
                "final_returns": [final],
                "solved": int(final >= SOLVE),
                "torch_threads": torch.get_num_threads(),
                "hyperparams_file": path,
                "hyperparams": {**zoo, "policy_kwargs": str(zoo.get("policy_kwargs"))},
                "versions": {
                    "stable_baselines3": stable_baselines3.__version__,
                    "rl_zoo3": rl_zoo3.__version__,
                    "torch": torch.__version__,
                    "gymnasium": gym.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
