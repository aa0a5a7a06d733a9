"""`purejaxdqn.runner.ChunkedRun`, where earlier releases kept it (now `purejaxdqn.run.runner`)."""

from purejaxdqn.run.runner import ChunkedRun

__all__ = ["ChunkedRun"]
