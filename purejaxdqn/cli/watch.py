"""`purejaxdqn watch RUN_DIR`: one greedy episode of a seed, rendered to a GIF."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from purejaxdqn.cli.common import FORMATTER, UsageError, cache_compiled_programs


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "watch", help="render one greedy episode of a saved run to a GIF", formatter_class=FORMATTER
    )
    p.add_argument("run_dir", type=Path, help="a run directory (`purejaxdqn train`) or an export")
    p.add_argument("--seed-index", type=int, default=0, help="which seed's agent plays")
    p.add_argument("--out", type=Path, default=Path("agent.gif"), help="GIF file to write")
    p.add_argument("--seed", type=int, default=0, help="random seed of the episode")
    p.add_argument("--max-steps", type=int, default=500, help="stop the episode after this")
    p.add_argument("--human", action="store_true", help="also show it in a window")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    import jax

    from purejaxdqn.core import envs
    from purejaxdqn.run import export
    from purejaxdqn.run.policy import select_seed
    from purejaxdqn.run.watch import greedy_episode, render_gif

    if args.out.suffix.lower() != ".gif":
        raise UsageError(f"--out {args.out}: must end in .gif")
    cfg, params, torso = export.load_params(args.run_dir)
    cache_compiled_programs()
    params = select_seed(params, args.seed_index, batched=True)
    env, env_params = envs.make_env(cfg.env_id)
    key = jax.random.key(args.seed)
    states, total = greedy_episode(cfg, env, env_params, params, key, args.max_steps, torso)
    try:
        render_gif(env, env_params, states, args.out, show=args.human)
    except ImportError as error:
        raise UsageError(f"rendering needs a missing package ({error})") from None
    except Exception as error:  # the renderers raise their own error types
        raise UsageError(f"cannot render {cfg.env_id}: {type(error).__name__}: {error}") from None
    print(
        f"{cfg.env_id}: seed {args.seed_index}, return {total:.1f} over "
        f"{len(states)} steps -> {args.out}"
    )
    return 0
