"""The training program: `make_train(config) -> train(key)`, one compiled scan."""

from purejaxdqn.train.trainer import (
    PeriodMetrics,
    Trainer,
    TrainResult,
    TrainState,
    make_train,
    make_trainer,
)

__all__ = ["PeriodMetrics", "TrainResult", "TrainState", "Trainer", "make_train", "make_trainer"]
