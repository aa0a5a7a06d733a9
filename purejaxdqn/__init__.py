"""purejaxdqn: deep Q-learning in pure, functional JAX.

The names below load on first use, so that `purejaxdqn train --distributed` can start
`jax.distributed` before anything (gymnax's import included) initialises a JAX backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.4.0"

_EXPORTS = {
    "ChunkedRun": "purejaxdqn.run.runner",
    "DQNConfig": "purejaxdqn.config",
    "Hyperparams": "purejaxdqn.config",
    "PeriodMetrics": "purejaxdqn.train",
    "TrainResult": "purejaxdqn.train",
    "TrainState": "purejaxdqn.train",
    "enable_compilation_cache": "purejaxdqn.run.compilation_cache",
    "greedy_policy": "purejaxdqn.run.policy",
    "load_policy": "purejaxdqn.run.policy",
    "make_train": "purejaxdqn.train",
    "make_trainer": "purejaxdqn.train",
    "seed_summaries": "purejaxdqn.run.reporting",
}
_SUBMODULES = ("presets",)

__all__ = [
    "ChunkedRun",
    "DQNConfig",
    "Hyperparams",
    "PeriodMetrics",
    "TrainResult",
    "TrainState",
    "enable_compilation_cache",
    "greedy_policy",
    "load_policy",
    "make_train",
    "make_trainer",
    "presets",
    "seed_summaries",
]

if TYPE_CHECKING:
    from purejaxdqn import presets
    from purejaxdqn.config import DQNConfig, Hyperparams
    from purejaxdqn.run.compilation_cache import enable_compilation_cache
    from purejaxdqn.run.policy import greedy_policy, load_policy
    from purejaxdqn.run.reporting import seed_summaries
    from purejaxdqn.run.runner import ChunkedRun
    from purejaxdqn.train import (
        PeriodMetrics,
        TrainResult,
        TrainState,
        make_train,
        make_trainer,
    )


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"purejaxdqn.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'purejaxdqn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
