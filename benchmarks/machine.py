"""The machine block every benchmark writes beside its figures: `purejaxdqn bench`'s."""

from purejaxdqn.run.bench import machine

__all__ = ["machine"]
