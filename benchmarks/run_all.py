"""purejaxdqn side by side with the tools users would pick instead, in one command.

    python benchmarks/run_all.py            # everything; 71 minutes on the shared 2-core CPU
    python benchmarks/run_all.py --quick    # regression guard, about 1 minute

The peers run as subprocesses, each in its own virtual environment built from registry
packages by a script in benchmarks/ (a missing one is built with --build-venvs, or the
exact command is printed and that peer skipped):

    bash benchmarks/setup_rejax_venv.sh    # rejax 0.1.3 DQN, jax 0.5.3, gymnax 0.0.9
    bash benchmarks/setup_sb3_venv.sh      # Stable-Baselines3 2.9.2 DQN, torch CPU, rl_zoo3
    bash benchmarks/setup_keras_venv.sh    # the notebook's Keras loop

The full run writes benchmarks/results/peers.json (every figure, the commands, a machine
block with versions), regenerates the tables between `<!-- peers:begin -->` and
`<!-- peers:end -->` in benchmarks/RESULTS.md and the plots
benchmarks/results/steps_per_s_vs_seeds.png and benchmarks/results/time_to_solve.png.

--quick reruns a few purejaxdqn figures (time to solve with 8 seeds, env steps/s with 1
and 8 seeds, compile time) and prints each that is more than 20% worse than recorded in
benchmarks/results/peers.json as "figure: old -> new (new/old ratio)", exiting with
status 1 if any; it writes benchmarks/results/quick.json and nothing else.

What is measured, for purejaxdqn and each peer:
- time to solve CartPole-v1 with 1 and 8 seeds: wall time of compile + training + the
  final evaluation; solved = the final parameters score a mean greedy return >= 475 on
  100 fresh episodes (gymnax CartPole-v1 for the JAX libraries, gymnasium CartPole-v1
  with `predict(deterministic=True)` for SB3). Each at its own training length.
- env steps per second at equal work (purejaxdqn and rejax at the same config: 51,000
  env steps and 12,500 gradient steps per seed, 1/8/32/64 vmapped seeds), compile apart;
- the notebook's Keras loop: its env steps per second only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import purejaxdqn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import guard  # noqa: E402
from bench_train import timed_train  # noqa: E402
from machine import machine  # noqa: E402

RESULTS = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
SOLVE = 475.0
PEERS = {
    "rejax": ("setup_rejax_venv.sh", ".venv-rejax"),
    "sb3": ("setup_sb3_venv.sh", ".venv-sb3"),
    "keras": ("setup_keras_venv.sh", ".venv-keras"),
}
# Equal work for env steps/s: steps per seed and rejax's eval interval that gives the same
# env steps, gradient steps and number of evaluations as purejaxdqn's periods.
EQUAL_WORK_STEPS = 51_000
REJAX_EQUAL_WORK_EVAL_FREQ = 5_100


# ------------------------------------------------------------------ peer configurations
def rejax_equal_config(config: purejaxdqn.DQNConfig) -> tuple[dict, list[str]]:
    """purejaxdqn's config mapped onto rejax's DQN fields, and what could not be matched."""
    if config.train_frequency != config.num_envs:
        raise ValueError("rejax updates once per vectorized step: train_frequency must be num_envs")
    rejax = {
        "env": config.env_id,
        "agent": "QNetwork",
        "agent_kwargs": {"activation": config.activation},
        "num_envs": config.num_envs,
        "buffer_size": config.buffer_size,
        "fill_buffer": config.learning_starts,
        "batch_size": config.batch_size,
        "num_epochs": config.gradient_steps,
        "learning_rate": config.learning_rate,
        "max_grad_norm": config.max_grad_norm if config.max_grad_norm is not None else 1e30,
        "gamma": config.gamma,
        "ddqn": config.double_q,
        "target_update_freq": config.target_update_frequency,
        "polyak": 1.0 - config.tau,
        "eps_start": config.epsilon_start,
        "eps_end": config.epsilon_end,
        "exploration_fraction": config.epsilon_decay_steps / config.total_timesteps,
        "total_timesteps": config.total_timesteps,
        "eval_freq": config.eval_frequency,
        "normalize_observations": False,
    }
    unmatched = [
        f"hidden_sizes {config.hidden_sizes}: rejax's DQN hard-codes (64, 64)"
        if config.hidden_sizes != (64, 64)
        else "hidden_sizes (64, 64): matched (rejax hard-codes it)",
        f"epsilon decays over {config.epsilon_decay_steps} steps from step 0 in rejax "
        f"(exploration_fraction x total_timesteps), from learning_starts "
        f"({config.learning_starts}) in purejaxdqn",
        f"loss {config.loss}: rejax uses optax.l2_loss (half the squared error; Adam makes "
        "the scale nearly irrelevant); no Huber option",
        "evaluation: rejax's own periodic evaluation plays 128 episodes with epsilon 0.005 "
        f"(fixed in rejax); purejaxdqn plays {config.eval_episodes} greedy episodes",
        "freeze_when_solved / early stop: rejax has none, it always trains total_timesteps",
        "rejax's first evaluation is before training (purejaxdqn's last is after it)",
        "network initialisation: flax defaults in rejax",
    ]
    return rejax, unmatched


# --------------------------------------------------------------------------- helpers
def peer_python(args, name: str) -> Path | None:
    override = getattr(args, f"{name}_python")
    python = Path(override) if override else HERE / PEERS[name][1] / "bin" / "python"
    if python.exists():
        return python
    script = HERE / PEERS[name][0]
    if args.build_venvs:
        print(f"building {name}'s venv: bash {script}", flush=True)
        subprocess.run(["bash", str(script)], check=True)
        return python
    print(f"({name}: no venv at {python}; build it with `bash {script}`; skipped)")
    return None


def run_json(cmd: list[str], env: dict | None = None) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(HERE.parent))
    except ValueError:
        return str(path)


def pure_row(config, seeds: int, key: int = 0) -> dict:
    r = timed_train(config, seeds, 1, seed=key)
    r.pop("summaries", None)
    r["total_s"] = r["compile_s"] + r["run_s"]
    return r


# ------------------------------------------------------------------------------ parts
def part_solve(args, out: dict) -> None:
    """Time to solve CartPole-v1 with 1 and 8 seeds, each tool at its own config."""
    rows = out["solve"] = []
    preset = purejaxdqn.presets.cartpole()
    for n in (1, 8):
        print(f"solve: purejaxdqn cartpole preset, {n} seeds", flush=True)
        r = pure_row(preset, n)
        rows.append(
            {
                "tool": "purejaxdqn",
                "config": "cartpole preset",
                "seeds": n,
                "compile_s": r["compile_s"],
                "run_s": r["run_s"],
                "eval_s": 0.0,  # the final evaluation is inside the compiled program
                "total_s": r["total_s"],
                "env_steps": r["env_steps"],
                "final_returns": r["final_eval_return"],
                "solved": r["solved"],
            }
        )
    rejax = peer_python(args, "rejax")
    if rejax:
        equal, _ = rejax_equal_config(preset)
        for label, extra in (
            ("rejax tuned (configs/gymnax/cartpole.yaml)", []),
            ("equal to purejaxdqn's cartpole preset", ["--config-json", json.dumps(equal)]),
        ):
            for n in (1, 8):
                print(f"solve: rejax {label}, {n} seeds", flush=True)
                r = run_json(
                    [str(rejax), str(HERE / "peers/rejax_runner.py"), "--seeds", str(n)] + extra
                )
                rows.append(
                    {
                        "tool": "rejax",
                        "config": label,
                        "seeds": n,
                        "compile_s": r["compile_s"],
                        "run_s": r["run_s"],
                        "eval_s": r["eval_s"],
                        "total_s": r["compile_s"] + r["run_s"] + r["eval_s"],
                        "env_steps": r["env_steps"],
                        "final_returns": [round(f, 1) for f in r["final_returns"]],
                        "solved": r["solved"],
                        "rejax_config": r["config"],
                        "versions": r["versions"],
                    }
                )
    sb3 = peer_python(args, "sb3")
    if sb3:
        workers = os.cpu_count() or 1
        for n in (1, 8):
            print(
                f"solve: sb3 rl-zoo, {n} seeds ({min(n, workers)} processes at a time)", flush=True
            )

            def one(seed: int) -> dict:
                cmd = [str(sb3), str(HERE / "peers/sb3_runner.py"), "--seed", str(seed)]
                return run_json(cmd + ["--threads", "1"])

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=min(n, workers)) as pool:
                results = list(pool.map(one, range(n)))
            wall = time.perf_counter() - start
            rows.append(
                {
                    "tool": "sb3",
                    "config": "rl-zoo hyperparams/dqn.yml CartPole-v1",
                    "seeds": n,
                    "processes_at_once": min(n, workers),
                    "compile_s": 0.0,
                    "run_s": statistics.median(x["run_s"] for x in results),
                    "eval_s": statistics.median(x["eval_s"] for x in results),
                    "total_s": wall,
                    "env_steps": sum(x["env_steps"] for x in results),
                    "final_returns": [round(x["final_returns"][0], 1) for x in results],
                    "solved": sum(x["solved"] for x in results),
                    "sb3_hyperparams": results[0]["hyperparams"],
                    "versions": results[0]["versions"],
                }
            )


def sb3_equal_config(config: purejaxdqn.DQNConfig) -> tuple[dict, list[str]]:
    """SB3 DQN keyword arguments doing the work of `config`, and what could not be matched."""
    equal = {
        "policy": "MlpPolicy",
        "n_envs": config.num_envs,
        "total_timesteps": config.total_timesteps,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "buffer_size": config.buffer_size,
        "learning_starts": config.learning_starts,
        "gamma": config.gamma,
        # one round per vector step of num_envs env steps, as config.train_frequency
        "train_freq": config.train_frequency // config.num_envs,
        "gradient_steps": config.gradient_steps,
        "target_update_interval": config.target_update_frequency,  # env steps in SB3 too
        "tau": config.tau,
        "exploration_initial_eps": config.epsilon_start,
        "exploration_final_eps": config.epsilon_end,
        "exploration_fraction": config.epsilon_decay_steps / config.total_timesteps,
        "max_grad_norm": config.max_grad_norm,
        "policy_kwargs": f"dict(net_arch={list(config.hidden_sizes)})",
    }
    unmatched = [
        "double_q: SB3's DQN has no Double DQN targets (plain max over the target network)",
        f"loss {config.loss}: SB3 uses the Huber loss (smooth L1)",
        "epsilon decays from step 0 in SB3, from learning_starts in purejaxdqn",
        "no periodic greedy evaluation inside SB3's training (purejaxdqn runs one every "
        f"{config.eval_frequency} steps)",
    ]
    return equal, unmatched


def part_sb3_throughput(args, out: dict) -> None:
    """SB3's env steps/s at purejaxdqn's equal-work config: 1 seed, and 8 seeds as a pool
    of one process per core (how SB3 runs several seeds)."""
    sb3 = peer_python(args, "sb3")
    if not sb3:
        return
    config = purejaxdqn.presets.cartpole().replace(
        freeze_when_solved=False, total_timesteps=EQUAL_WORK_STEPS
    )
    equal, unmatched = sb3_equal_config(config)
    out["sb3_equal_config"], out["sb3_equal_config_unmatched"] = equal, unmatched
    rows = out["sb3_throughput"] = []
    workers = os.cpu_count() or 1
    for n in (1, 8):
        print(f"throughput: sb3 (equal config), {n} seeds", flush=True)

        def one(seed: int) -> dict:
            cmd = [str(sb3), str(HERE / "peers/sb3_runner.py"), "--seed", str(seed)]
            return run_json(cmd + ["--threads", "1", "--episodes", "10", "--config-json",
                                   json.dumps(equal)])  # fmt: skip

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(n, workers)) as pool:
            results = list(pool.map(one, range(n)))
        wall = time.perf_counter() - start
        # training time only: the wall time of the pool less each process's evaluation
        train_s = wall - statistics.median(x["eval_s"] for x in results) * -(-n // workers)
        steps = sum(x["env_steps"] for x in results)
        print(f"throughput: purejaxdqn (same run, for the ratio), {n} seeds", flush=True)
        ours = pure_row(config, n)
        rows.append(
            {
                "tool": "sb3",
                "purejaxdqn_env_steps_per_s": ours["env_steps_per_s"],
                "seeds": n,
                "processes_at_once": min(n, workers),
                "run_s": train_s,
                "env_steps": steps,
                "gradient_steps_per_seed": results[0]["gradient_steps"],
                "env_steps_per_s": round(steps / train_s),
            }
        )


def part_throughput(args, out: dict) -> None:
    """Env steps/s at equal work: purejaxdqn and rejax, same config, 1/8/32/64 seeds."""
    rows = out["throughput"] = []
    config = purejaxdqn.presets.cartpole().replace(
        freeze_when_solved=False, total_timesteps=EQUAL_WORK_STEPS
    )
    grads = (config.total_timesteps - config.learning_starts) // config.train_frequency
    out["throughput_config"] = {
        "purejaxdqn": config.to_dict(),
        "gradient_steps_per_seed": grads * config.gradient_steps,
    }
    for n in args.seed_counts:
        print(f"throughput: purejaxdqn, {n} seeds", flush=True)
        r = pure_row(config, n)
        rows.append({"tool": "purejaxdqn", "seeds": n, **{k: r[k] for k in (
            "compile_s", "run_s", "env_steps", "env_steps_per_s", "solved")}})  # fmt: skip
    rejax = peer_python(args, "rejax")
    if not rejax:
        return
    equal, _ = rejax_equal_config(config)
    equal["eval_freq"] = REJAX_EQUAL_WORK_EVAL_FREQ
    out["throughput_config"]["rejax"] = equal
    for n in args.seed_counts:
        print(f"throughput: rejax (equal config), {n} seeds", flush=True)
        r = run_json(
            [
                str(rejax),
                str(HERE / "peers/rejax_runner.py"),
                "--seeds",
                str(n),
                "--config-json",
                json.dumps(equal),
                "--episodes",
                "10",
            ]  # fmt: skip
        )
        rows.append(
            {
                "tool": "rejax",
                "seeds": n,
                "compile_s": r["compile_s"],
                "run_s": r["run_s"],
                "env_steps": r["env_steps"],
                "env_steps_per_s": round(r["env_steps"] / r["run_s"]),
                "gradient_steps_per_seed": r["gradient_steps_per_seed"],
                "solved": r["solved"],
            }
        )


def part_keras(args, out: dict) -> None:
    """The notebook's Keras loop, env steps/s, beside the notebook preset (1 seed)."""
    keras = peer_python(args, "keras")
    if not keras:
        return
    print("keras: the notebook's loop", flush=True)
    r = run_json([str(keras), str(HERE / "keras_notebook.py"), "--steps", str(args.keras_steps)])
    version_cmd = "import tensorflow as t; print(t.__version__)"
    tf_version = subprocess.run(
        [str(keras), "-c", version_cmd], capture_output=True, text=True
    ).stdout.strip()
    print("keras: purejaxdqn notebook preset, 1 seed", flush=True)
    nb = pure_row(purejaxdqn.presets.notebook().replace(total_timesteps=21_000), 1)
    out["keras"] = {
        "keras_env_steps_per_s": r["env_steps_per_s"],
        "keras_steps": r["steps"],
        "tensorflow": tf_version,
        "purejaxdqn_notebook_preset_env_steps_per_s": nb["env_steps_per_s"],
    }


# --------------------------------------------------------------------------- reports
def fmt_returns(values) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def tables(data: dict) -> str:
    m = data["machine"]
    v = m["versions"]
    lines = [
        "<!-- generated by benchmarks/run_all.py: do not edit by hand -->",
        "",
        f"Command: `{data['command']}`, {m['date']}, total {data['duration_s'] / 60:.1f} min. "
        f"Machine: {m['cpu_count']} CPUs ({m['processor']}, {m['system']}), jax device "
        f"{m['device']}. Versions: "
        + ", ".join(f"{k} {val}" for k, val in sorted(v.items()))
        + ".",
        "",
    ]
    for u in data.get("updates", []):
        lines += [
            f"Rerun later and merged in, part {', '.join(u['parts'])}: `{u['command']}`, "
            f"{u['machine']['date']}, {u['duration_s'] / 60:.1f} min.",
            "",
        ]
    solve = data.get("solve", [])
    if solve:
        lines += [
            "### Time to solve CartPole-v1 (compile + training + final evaluation)",
            "",
            "Each tool at its own training length; solved = final greedy mean return >= 475 "
            "on 100 fresh episodes.",
            "",
            "| tool | config | seeds | compile s | run s | eval s | total s | solved "
            "| final greedy return per seed | purejaxdqn faster by |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        ours = {r["seeds"]: r["total_s"] for r in solve if r["tool"] == "purejaxdqn"}
        for r in solve:
            speed = "" if r["tool"] == "purejaxdqn" else f"{r['total_s'] / ours[r['seeds']]:.1f}x"
            lines.append(
                f"| {r['tool']} | {r['config']} | {r['seeds']} | {r['compile_s']:.1f} | "
                f"{r['run_s']:.1f} | {r['eval_s']:.1f} | {r['total_s']:.1f} | "
                f"{r['solved']}/{r['seeds']} | {fmt_returns(r['final_returns'])} | {speed} |"
            )
        lines.append("")
    thr = data.get("throughput", [])
    if thr:
        grads = data["throughput_config"]["gradient_steps_per_seed"]
        lines += [
            "### Env steps per second at equal work",
            "",
            f"purejaxdqn's `cartpole` preset without freezing, {EQUAL_WORK_STEPS:,} env steps "
            f"and {grads:,} gradient steps per seed, and rejax at the equal config (eval_freq "
            f"{REJAX_EQUAL_WORK_EVAL_FREQ} so that env steps, gradient steps and the number "
            "of evaluations match); one timed call each, compile apart.",
            "",
            "| seeds | purejaxdqn compile s | purejaxdqn run s | purejaxdqn env steps/s "
            "| rejax compile s | rejax run s | rejax env steps/s | purejaxdqn / rejax |",
            "|---|---|---|---|---|---|---|---|",
        ]
        by = {(r["tool"], r["seeds"]): r for r in thr}
        for n in sorted({r["seeds"] for r in thr}):
            p, x = by.get(("purejaxdqn", n)), by.get(("rejax", n))
            cells = [str(n)]
            for r in (p, x):
                cells += (
                    [f"{r['compile_s']:.1f}", f"{r['run_s']:.2f}", f"{r['env_steps_per_s']:,}"]
                    if r
                    else ["", "", ""]
                )
            cells.append(f"{p['env_steps_per_s'] / x['env_steps_per_s']:.2f}x" if p and x else "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    sb3_rows = data.get("sb3_throughput", [])
    if sb3_rows:
        lines += [
            "SB3 at the same config (`sb3_equal_config` in run_all.py; its unmatched parts "
            'are listed under "How the peers ran"), one process per seed with 1 torch '
            "thread, as many processes at once as cores; run s is the pool's wall time "
            "less the final evaluations; purejaxdqn measured again in the same run for the "
            "ratio:",
            "",
            "| seeds | sb3 run s | sb3 env steps/s | gradient steps per seed "
            "| purejaxdqn env steps/s (same run) | purejaxdqn / sb3 |",
            "|---|---|---|---|---|---|",
        ]
        for r in sb3_rows:
            p = r["purejaxdqn_env_steps_per_s"]
            lines.append(
                f"| {r['seeds']} | {r['run_s']:.1f} | {r['env_steps_per_s']:,} | "
                f"{r['gradient_steps_per_seed']:,} | {p:,} | {p / r['env_steps_per_s']:.1f}x |"
            )
        lines.append("")
    k = data.get("keras")
    if k:
        ours = k["purejaxdqn_notebook_preset_env_steps_per_s"]
        lines += [
            "### The notebook's Keras loop",
            "",
            f"Env steps/s of the notebook's loop (TensorFlow {k['tensorflow']}, "
            f"{k['keras_steps']} timed training steps): **{k['keras_env_steps_per_s']:.1f}**; "
            f"purejaxdqn's `notebook` preset (its hyperparameters), 1 seed, 21k steps: "
            f"{ours:,} env steps/s, **{ours / k['keras_env_steps_per_s']:,.0f}x**.",
            "",
        ]
    lines += peer_notes(data)
    if data.get("goals"):
        lines += [
            "### Goals of issue 6 in this run",
            "",
            "| goal | measured | met |",
            "|---|---|---|",
        ]
        lines += [f"| {g} | {m_} | {ok} |" for g, m_, ok in data["goals"]]
        lines.append("")
    lines += [
        "![env steps per second against seeds](results/steps_per_s_vs_seeds.png)",
        "![time to solve](results/time_to_solve.png)",
    ]
    return "\n".join(lines)


def peer_notes(data: dict) -> list[str]:
    """How each peer was configured in this run, from the recorded rows."""
    lines = []
    solve = data.get("solve", [])
    sb3 = [r for r in solve if r["tool"] == "sb3"]
    if sb3:
        hp = sb3[0]["sb3_hyperparams"]
        at_once = max(r["processes_at_once"] for r in sb3)
        lines += [
            "### How the peers ran",
            "",
            f"- **SB3**: rl-zoo's CartPole-v1 entry of `rl_zoo3/hyperparams/dqn.yml`, as "
            f"installed: `{json.dumps(hp)}`; trained for its n_timesteps; one process per "
            f"seed with `torch.set_num_threads(1)`, {at_once} processes at a time (one per "
            "core, a process pool as a practitioner would run seeds on this machine); the "
            "8-seed total is the wall time for all 8 processes, each including its final "
            "evaluation (100 gymnasium episodes, `predict(deterministic=True)`); its run s and "
            "eval s columns are per-process medians.",
        ]
    if data.get("sb3_equal_config"):
        lines.append(
            f"- **SB3 at equal work**: `{json.dumps(data['sb3_equal_config'])}` (DQN keyword "
            "arguments, `n_envs` vectorized envs via `make_vec_env`). Not matched:"
        )
        lines += [f"  - {u}" for u in data.get("sb3_equal_config_unmatched", [])]
    rejax = {r["config"]: r["rejax_config"] for r in solve if r["tool"] == "rejax"}
    if rejax:
        for label, cfg in rejax.items():
            lines.append(f"- **rejax, {label}**: `{json.dumps(cfg)}`")
        unmatched = data.get("rejax_equal_config_unmatched", [])
        if unmatched:
            lines.append(
                "- rejax's equal config maps the preset's fields one to one (num_envs, "
                "buffer_size, learning_starts -> fill_buffer, batch_size, gradient_steps -> "
                "num_epochs, learning_rate, max_grad_norm, gamma, double_q -> ddqn, "
                "target_update_frequency -> target_update_freq, tau -> polyak = 1 - tau, "
                "epsilon ends, epsilon_decay_steps -> exploration_fraction = decay / "
                "total_timesteps, activation, eval_frequency -> eval_freq). Not matched:"
            )
            lines += [f"  - {u}" for u in unmatched]
        lines += [
            "- Every rejax run trains its full total_timesteps (it has no early stop); "
            "purejaxdqn's preset stops once all seeds' periodic greedy evaluations reached "
            "475. The final evaluation of rejax runs (the eval s column) is compiled and run "
            "in rejax's venv with the same protocol as purejaxdqn's: 100 fresh greedy "
            "episodes of gymnax CartPole-v1.",
        ]
    if lines:
        lines.append("")
    return lines


def goals(data: dict) -> list[tuple[str, str, str]]:
    out = []
    solve = data.get("solve", [])
    ours8 = [r for r in solve if r["tool"] == "purejaxdqn" and r["seeds"] == 8]
    peers8 = [r for r in solve if r["tool"] != "purejaxdqn" and r["seeds"] == 8]
    if ours8 and peers8:
        worst = min(r["total_s"] / ours8[0]["total_s"] for r in peers8)
        solved_peers = [r for r in peers8 if r["solved"] > 0]
        out.append(
            (
                ">= 3x faster to solve than every peer, 8 seeds",
                f"smallest ratio {worst:.1f}x (over {len(peers8)} peer rows, "
                f"{len(solved_peers)} of which solved at least one seed)",
                "yes" if worst >= 3 else "**no**",
            )
        )
    thr = data.get("throughput", [])
    by = {(r["tool"], r["seeds"]): r["env_steps_per_s"] for r in thr}
    ratios = [
        by[("purejaxdqn", n)] / by[("rejax", n)]
        for n in sorted({r["seeds"] for r in thr})
        if ("rejax", n) in by and ("purejaxdqn", n) in by
    ]
    if ratios:
        out.append(
            (
                ">= 1.5x the env steps/s of the fastest JAX peer at equal work",
                f"{min(ratios):.2f}x to {max(ratios):.2f}x over the seed counts",
                "yes" if min(ratios) >= 1.5 else "**no**",
            )
        )
    return out


def plots(data: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thr = data.get("throughput", [])
    if thr:
        fig, ax = plt.subplots(figsize=(6, 4))
        for tool in ("purejaxdqn", "rejax"):
            rows = sorted((r for r in thr if r["tool"] == tool), key=lambda r: r["seeds"])
            if rows:
                ax.plot([r["seeds"] for r in rows], [r["env_steps_per_s"] for r in rows], "o-",
                        label=tool)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("seeds (vmapped)")
        ax.set_ylabel("env steps per second (all seeds, learning included)")
        ax.set_title(f"CartPole-v1, equal work, {data['machine']['cpu_count']} CPUs")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "steps_per_s_vs_seeds.png", dpi=100)
        plt.close(fig)
    solve = data.get("solve", [])
    if solve:
        labels = sorted(
            {(r["tool"], r["config"]) for r in solve}, key=lambda t: t[0] != "purejaxdqn"
        )
        fig, ax = plt.subplots(figsize=(7, 4))
        width = 0.38
        for j, n in enumerate((1, 8)):
            values = []
            for tool, cfg in labels:
                match = [
                    r for r in solve if (r["tool"], r["config"]) == (tool, cfg) and r["seeds"] == n
                ]
                values.append(match[0]["total_s"] if match else 0.0)
            ax.bar(np.arange(len(labels)) + (j - 0.5) * width, values, width, label=f"{n} seed(s)")
        names = [f"{t}\n{c.split(' (')[0][:28]}" for t, c in labels]
        ax.set_xticks(np.arange(len(labels)), names, fontsize=7)
        ax.set_ylabel("seconds: compile + train + final eval")
        ax.set_yscale("log")
        ax.set_title("Time to solve CartPole-v1 (each at its own config)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "time_to_solve.png", dpi=100)
        plt.close(fig)


def update_results_md(text: str) -> None:
    md = RESULTS_MD.read_text()
    begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
    block = f"{begin}\n{text}\n{end}"
    if begin in md and end in md:
        md = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, md, flags=re.S)
    else:
        md = md.rstrip("\n") + "\n\n## Side by side with the peers\n\n" + block + "\n"
    RESULTS_MD.write_text(md)


# ------------------------------------------------------------------------ quick guard
def quick_figures(args) -> dict[str, dict]:
    preset = purejaxdqn.presets.cartpole()
    solve = pure_row(preset, 8)
    config = preset.replace(freeze_when_solved=False, total_timesteps=EQUAL_WORK_STEPS)
    figs = {
        "purejaxdqn time to solve, 8 seeds (s)": {"value": solve["total_s"], "better": "lower"},
        "purejaxdqn solved of 8": {"value": solve["solved"], "better": "higher"},
        "purejaxdqn compile, 8 seeds (s)": {"value": solve["compile_s"], "better": "lower"},
    }
    for n in (1, 8):
        r = pure_row(config, n)
        figs[f"purejaxdqn env steps/s, {n} seeds"] = {
            "value": r["env_steps_per_s"],
            "better": "higher",
        }
    return figs


def recorded_figures(data: dict) -> dict[str, dict]:
    figs = {}
    for r in data.get("solve", []):
        if r["tool"] == "purejaxdqn" and r["seeds"] == 8:
            figs["purejaxdqn time to solve, 8 seeds (s)"] = {
                "value": r["total_s"],
                "better": "lower",
            }
            figs["purejaxdqn solved of 8"] = {"value": r["solved"], "better": "higher"}
            figs["purejaxdqn compile, 8 seeds (s)"] = {"value": r["compile_s"], "better": "lower"}
    for r in data.get("throughput", []):
        if r["tool"] == "purejaxdqn" and r["seeds"] in (1, 8):
            figs[f"purejaxdqn env steps/s, {r['seeds']} seeds"] = {
                "value": r["env_steps_per_s"],
                "better": "higher",
            }
    return figs


def quick(args) -> int:
    recorded = RESULTS / "peers.json"
    if not recorded.exists():
        print(f"no recorded results at {rel(recorded)}: run `python benchmarks/run_all.py` first")
        return 2
    old = recorded_figures(json.loads(recorded.read_text()))
    start = time.perf_counter()
    new = quick_figures(args)
    duration = time.perf_counter() - start
    (RESULTS / "quick.json").write_text(
        json.dumps({"machine": machine(), "duration_s": duration, "figures": new}, indent=2) + "\n"
    )
    for name, fig in new.items():
        before = old.get(name, {}).get("value")
        print(f"{name}: recorded {before}, now {fig['value']:g}")
    worse = guard.regressions(old, new)
    print(f"quick check took {duration:.0f} s")
    if worse:
        print(f"\n{len(worse)} figure(s) more than {guard.THRESHOLD:.0%} worse:")
        print("\n".join(worse))
        return 1
    print(f"no figure more than {guard.THRESHOLD:.0%} worse than recorded")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the regression guard only")
    parser.add_argument(
        "--part",
        choices=("solve", "throughput", "sb3-throughput", "keras"),
        action="append",
        help="run only these parts (default: all); with --update, merged into the record",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the recorded results/peers.json and replace only the parts run",
    )
    parser.add_argument(
        "--render-only", action="store_true", help="tables and plots from results/peers.json"
    )
    parser.add_argument("--build-venvs", action="store_true", help="build missing peer venvs")
    parser.add_argument("--seed-counts", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--keras-steps", type=int, default=300)
    for name in PEERS:
        parser.add_argument(f"--{name}-python", help=f"python of {name}'s venv (default: "
                            f"benchmarks/{PEERS[name][1]}/bin/python)")  # fmt: skip
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.quick:
        return quick(args)
    if args.render_only:
        render(json.loads((RESULTS / "peers.json").read_text()))
        return 0
    start = time.perf_counter()
    data: dict = {
        "machine": machine(),
        "command": "python " + " ".join([rel(Path(sys.argv[0]).resolve()), *sys.argv[1:]]),
    }
    print(f"machine: {data['machine']}", flush=True)
    update = None
    if args.update and (RESULTS / "peers.json").exists():
        update = {"machine": data["machine"], "command": data["command"]}
        data = json.loads((RESULTS / "peers.json").read_text())
        data.setdefault("updates", []).append(update)
    parts = {
        "solve": part_solve,
        "throughput": part_throughput,
        "sb3-throughput": part_sb3_throughput,
        "keras": part_keras,
    }
    partial = RESULTS / "peers.partial.json"  # what finished so far, if a part fails
    for name in args.part or list(parts):
        parts[name](args, data)
        partial.write_text(json.dumps(data, indent=2) + "\n")
    data["machine"]["versions"] = all_versions(data)
    data["rejax_equal_config_unmatched"] = rejax_equal_config(purejaxdqn.presets.cartpole())[1]
    data["goals"] = goals(data)
    duration = time.perf_counter() - start
    if update is not None:  # the recorded run's own duration stays
        update["parts"], update["duration_s"] = args.part or list(parts), duration
    else:
        data["duration_s"] = duration
    (RESULTS / "peers.json").write_text(json.dumps(data, indent=2) + "\n")
    partial.unlink(missing_ok=True)
    render(data)
    return 0


def all_versions(data: dict) -> dict:
    """Our versions, then each peer's venv's, named "package (peer)" but for the peer itself."""
    ours = ("purejaxdqn", "jax", "gymnax")
    versions = {k: data["machine"]["versions"][k] for k in ours}
    for r in data.get("solve", []):
        for k, v in r.get("versions", {}).items():
            versions.setdefault(k if k == r["tool"] else f"{k} ({r['tool']})", v)
    if "keras" in data:
        versions["tensorflow (keras)"] = data["keras"]["tensorflow"]
    return versions


def render(data: dict) -> None:
    data["machine"]["versions"] = all_versions(data)
    plots(data)
    text = tables(data)
    update_results_md(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
