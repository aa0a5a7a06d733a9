"""The training program: `make_train(config) -> train(key)`, one compiled scan."""

from purejaxdqn.train.state import (
    ActorState,
    LearnerState,
    PeriodMetrics,
    Progress,
    TrainResult,
    TrainState,
)
from purejaxdqn.train.trainer import Trainer, make_train, make_trainer

__all__ = [
    "ActorState",
    "LearnerState",
    "PeriodMetrics",
    "Progress",
    "TrainResult",
    "TrainState",
    "Trainer",
    "make_train",
    "make_trainer",
]
