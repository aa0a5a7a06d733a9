"""purejaxdqn: deep Q-learning in pure, functional JAX."""

from purejaxdqn import presets
from purejaxdqn.compilation_cache import enable_compilation_cache
from purejaxdqn.config import DQNConfig, Hyperparams
from purejaxdqn.policy import greedy_policy, load_policy
from purejaxdqn.reporting import seed_summaries
from purejaxdqn.train import PeriodMetrics, TrainResult, TrainState, make_train, make_trainer

__version__ = "0.1.0"

__all__ = [
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
