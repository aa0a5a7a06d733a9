"""JAX's persistent compilation cache, where a second launch finds its compiled programs."""

from __future__ import annotations

import os
from pathlib import Path

import jax

DEFAULT_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "purejaxdqn" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turns on JAX's persistent cache in `path` (default ~/.cache/purejaxdqn/xla).

    Every compiled program is cached, however fast it compiled: ours take seconds on the
    CPU, above JAX's default one-second floor only sometimes. `JAX_ENABLE_COMPILATION_CACHE=
    false` turns it off; `JAX_COMPILATION_CACHE_MAX_SIZE` (bytes) caps it.
    """
    cache = Path(path) if path is not None else DEFAULT_DIR
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return cache
