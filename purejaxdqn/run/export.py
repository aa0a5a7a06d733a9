"""An exported policy: the greedy network of some seeds of a run, without the training
state. A folder of two files, small and self-describing:

    policy.safetensors   the Q-network's parameters, each with a leading seed axis,
                         named by their path in the flax variables ("params/Dense_0/kernel")
    policy.json          format, versions, env id, observation shape, action count,
                         the config, the exported seeds' indices in the run, the torso's
                         record, and where it came from

`load_params` reads an export or a run directory (its checkpoint's params item) alike:
`eval`, `watch` and `load_policy` build no trainer and compile no training program.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from purejaxdqn.config import DQNConfig

FORMAT = "purejaxdqn-policy"
FORMAT_VERSION = 1
PARAMS_FILE = "policy.safetensors"
INFO_FILE = "policy.json"


class ExportError(ValueError):
    """A folder that is not a usable export, or an export that cannot be written."""


def is_export(path: Path) -> bool:
    return (path / INFO_FILE).is_file()


def export(run: Path, out: Path, seed_indices: list[int] | None = None) -> dict[str, Any]:
    """Writes the greedy policy of `seed_indices` (None: every seed) of the run directory
    `run` into the folder `out`; returns policy.json's contents."""
    from safetensors.numpy import save_file

    from purejaxdqn import __version__
    from purejaxdqn.core import envs
    from purejaxdqn.run import run_dir

    config, params, _ = run_dir.load_params(run, network=_NOT_REBUILT)
    _, info = run_dir.load_run(run)
    num_runs = jax.tree.leaves(params)[0].shape[0]
    chosen = list(range(num_runs)) if seed_indices is None else seed_indices
    for i in chosen:
        if not 0 <= i < num_runs:
            raise ExportError(f"--seed-index {i}: the run has seeds 0 .. {num_runs - 1}")
    env, env_params = envs.make_env(config.env_id)
    flat = traverse_util.flatten_dict(jax.device_get(params), sep="/")
    tensors = {name: np.ascontiguousarray(np.asarray(x)[chosen]) for name, x in flat.items()}
    summary = _final_returns(run)
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "purejaxdqn": __version__,
        "jax": jax.__version__,
        "env_id": config.env_id,
        "observation_shape": list(env.observation_space(env_params).shape),
        "num_actions": int(envs.num_discrete_actions(env, env_params)),
        "seed_indices": chosen,
        "final_eval_return": None if summary is None else [summary[i] for i in chosen],
        "network": info.get("network"),
        "source": str(run),
        "config": config.to_dict(),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{PARAMS_FILE}.tmp"
    save_file(tensors, str(tmp), metadata={"format": FORMAT})
    os.chmod(tmp, 0o644)  # safetensors creates it owner-only; an export is for sharing
    os.replace(tmp, out / PARAMS_FILE)
    run_dir.write_atomic(out / INFO_FILE, json.dumps(description, indent=2) + "\n")
    return description


_NOT_REBUILT = object()  # export copies a custom torso's record; it needs no module


def _final_returns(run: Path) -> list[float] | None:
    try:
        return list(json.loads((run / "summary.json").read_text())["final_eval_return"])
    except (OSError, ValueError, KeyError):
        return None  # an unfinished run: its latest checkpoint, no final evaluation yet


def read(path: Path) -> tuple[DQNConfig, Any, dict[str, Any]]:
    """An export's config, parameters (leading axis: its seeds) and policy.json."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    for name in (INFO_FILE, PARAMS_FILE):
        if not (path / name).is_file():
            raise ExportError(f"{path}: incomplete export ({name} missing)")
    try:
        description = json.loads((path / INFO_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ExportError(f"{path}: damaged export ({type(error).__name__}: {error})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ExportError(f"{path}: {INFO_FILE} is not a purejaxdqn policy")
    if description.get("format_version") != FORMAT_VERSION:
        raise ExportError(
            f"{path}: policy format {description.get('format_version')}, this purejaxdqn "
            f"reads {FORMAT_VERSION}; load it with the release that wrote it "
            f"({description.get('purejaxdqn')})"
        )
    try:
        config = DQNConfig.from_dict(description["config"])
        flat = load_file(str(path / PARAMS_FILE))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as error:
        raise ExportError(f"{path}: damaged export ({type(error).__name__}: {error})") from None
    params = traverse_util.unflatten_dict(flat, sep="/")
    return config, params, description


def load_params(path: Path, network: Any = None) -> tuple[DQNConfig, Any, Any]:
    """Config, (seeds, ...) parameters and torso of an export or of a run directory."""
    if not is_export(path):
        from purejaxdqn.run import run_dir  # the trainer's modules: not for an export

        return run_dir.load_params(path, network)
    from purejaxdqn.run import torso_record

    config, params, description = read(path)
    if network is None:
        network = torso_record.rebuild(description.get("network"))
    return config, params, network
