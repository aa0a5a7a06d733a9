"""Memory planning: what a run's state needs on the device, checked before compiling."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from purejaxdqn.core import prng

# Headroom for what XLA allocates beside the carried state (batches, activations,
# evaluation episodes, double-buffered loop carries).
OVERHEAD = 1.25


def state_bytes(template: Any) -> int:
    """Bytes of a (shape-only) pytree, e.g. `jax.eval_shape` of the vmapped init."""
    total = 0
    for x in jax.tree.leaves(template):
        if prng.is_key(x):
            total += int(np.prod(x.shape)) * 8  # two uint32 words per key
        else:
            total += int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
    return total


def transition_bytes(buffer_storage: Any, capacity: int, num_runs: int) -> float:
    """Bytes of one stored transition (obs, action, reward, next obs, terminated flag)."""
    return state_bytes(buffer_storage) / (capacity * num_runs)


def device_memory_bytes() -> int | None:
    """Memory the runs are sharded over: every device's accelerator limit, or (CPU) the
    available RAM of each process's host."""
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) * jax.device_count()
    try:
        host = int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
    return host * jax.process_count()


def plan(template: Any, capacity: int, num_runs: int, num_seeds: int) -> dict[str, Any]:
    """The estimate, and whether it fits; `max_seeds` is the largest seed count that does."""
    total = state_bytes(template)
    per_run = total / num_runs
    available = device_memory_bytes()
    runs_per_seed = num_runs // num_seeds
    fits = available is None or total * OVERHEAD <= available
    max_seeds = (
        int(available // (per_run * OVERHEAD * runs_per_seed)) if available is not None else None
    )
    per_transition = None  # PQN keeps no replay buffer
    if template.buffer is not None:
        per_transition = transition_bytes(_storage(template.buffer), capacity, num_runs)
    return {
        "state_bytes": total,
        "bytes_per_run": per_run,
        "bytes_per_transition": per_transition,
        "available_bytes": available,
        "fits": fits,
        "max_seeds": max_seeds,
    }


def _storage(buffer: Any) -> Any:
    """The stored transitions of a uniform or prioritized buffer's state."""
    return getattr(buffer, "ring", buffer).storage


def describe(p: dict[str, Any], num_runs: int) -> str:
    avail = "unknown" if p["available_bytes"] is None else format_bytes(p["available_bytes"])
    stored = ""
    if p["bytes_per_transition"] is not None:
        stored = f", {p['bytes_per_transition']:.0f} bytes per stored transition"
    return (
        f"memory: {format_bytes(p['state_bytes'] * OVERHEAD)} planned for {num_runs} runs "
        f"({format_bytes(p['bytes_per_run'])} of state each{stored}); available: {avail}"
    )


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
