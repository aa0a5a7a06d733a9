"""Runs sharded over devices and processes: a 1-D `Mesh` over the run axis.

Every leaf of a run's state has a leading run axis (seeds x settings), and no run reads
another's data, so sharding that axis over all devices partitions the program with no
communication but the "has every run stopped?" reduction once per eval period. The same
code runs on one CPU, all GPUs of a machine, or every device of a `jax.distributed` job.

    mesh = run_mesh()                                # all devices of all processes
    keys = to_global(keys, run_sharding(mesh))       # same values on every process -> sharded
    host = to_host(state)                            # the whole state as numpy, on every process

The run count is padded up to a multiple of the device count (`padded`): extra runs copy
the last one and are dropped from results (`unpad`).

Rounding: the partitioned program is deterministic (the same mesh gives the same bits, one
process or several), but XLA compiles it differently from the one-device program: a sum
over the batch (a bias gradient) is added in another order. Parameters then differ from
the one-device run by a few float32 ulps while integers (env steps, episodes, actions) and
greedy returns agree on the test runs (tests/run/test_sharding.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from purejaxdqn.core import prng

RUN_AXIS = "run"


def run_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named "run" over `devices` (default: every device of every process)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (RUN_AXIS,))


def run_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (run) axis split over the mesh; other axes whole."""
    return NamedSharding(mesh, PartitionSpec(RUN_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def padded(num_runs: int, mesh: Mesh) -> int:
    """The run count rounded up to a multiple of the mesh's device count."""
    devices = mesh.devices.size
    return -(-num_runs // devices) * devices


def pad_runs(tree: Any, num_runs: int) -> Any:
    """Extends every leaf's leading axis to `num_runs` by repeating its last entry."""

    def pad(x):
        extra = num_runs - x.shape[0]
        if extra == 0:
            return x
        return jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def unpad(tree: Any, num_runs: int) -> Any:
    return jax.tree.map(lambda x: x[:num_runs], tree)


def to_global(tree: Any, sharding: NamedSharding) -> Any:
    """Places a pytree that every process holds whole (same values everywhere) on `sharding`.

    Typed PRNG keys travel as their key data and are re-wrapped.
    """

    def put(x):
        if prng.is_key(x):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=impl)
        if jax.process_count() == 1:
            return jax.device_put(x, sharding)
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """The whole pytree as numpy arrays on this process (gathered from all processes).

    Typed PRNG keys come back as key arrays. In a multi-process run every process must
    call this (one collective for the whole tree).
    """
    if jax.process_count() == 1:
        return jax.device_get(tree)
    leaves, treedef = jax.tree.flatten(tree)
    impls = [jax.random.key_impl(x) if prng.is_key(x) else None for x in leaves]
    data = [x if impl is None else jax.random.key_data(x) for x, impl in zip(leaves, impls)]
    remote = [i for i, x in enumerate(data) if not x.is_fully_addressable]
    gathered = multihost_utils.process_allgather([data[i] for i in remote], tiled=True)
    host: list[Any] = [None if i in remote else np.asarray(x) for i, x in enumerate(data)]
    for i, x in zip(remote, gathered):
        host[i] = np.asarray(x)
    out = [
        x if impl is None else jax.random.wrap_key_data(x, impl=impl)
        for x, impl in zip(host, impls)
    ]
    return jax.tree.unflatten(treedef, out)


def initialize_distributed(
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    heartbeat_timeout_s: int = 100,
) -> None:
    """`jax.distributed.initialize`, from flags or the environment.

    Unset values are read from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID,
    and otherwise left to JAX's cluster detection (SLURM, Open MPI, Kubernetes, Cloud TPU).
    On the CPU the processes talk through JAX's default gloo collectives.
    """
    env = os.environ
    coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("JAX_NUM_PROCESSES"):
        num_processes = int(env["JAX_NUM_PROCESSES"])
    if process_id is None and env.get("JAX_PROCESS_ID"):
        process_id = int(env["JAX_PROCESS_ID"])
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        heartbeat_timeout_seconds=heartbeat_timeout_s,
    )


_barriers = 0


def barrier(name: str, timeout_s: float = 3600.0) -> None:
    """Waits until every process gets here (a no-op in a one-process run).

    CPU collectives (gloo) give up after 30 s when one process reaches a collective long
    before another (one compiles slower, process 0 writes a large checkpoint); orbax's
    barrier goes through the coordination service and waits as long as `timeout_s`.
    """
    global _barriers
    if jax.process_count() == 1:
        return
    from orbax.checkpoint import multihost

    _barriers += 1  # each barrier's name is used once
    multihost.get_barrier_sync_fn()(
        key=f"purejaxdqn-{name}-{_barriers}", timeout_ms=int(timeout_s * 1000)
    )


def agree(flag: bool) -> bool:
    """Process 0's `flag`, on every process (itself in a one-process run).

    For decisions that must not differ between processes, such as "checkpoint now?" when
    each process reads its own clock: the processes would otherwise enter different
    collectives. A device collective: call it where the processes are in step (after a
    chunk, whose program ends with a reduction over every run)."""
    if jax.process_count() == 1:
        return flag
    return bool(multihost_utils.broadcast_one_to_all(np.asarray(flag)))


class ProcessFailed(OSError):
    """Another process of the job failed at a step all take together."""


def together(what: str, step: Any) -> Any:
    """Runs `step()` here and tells every process whether it failed on any: then each
    raises a one-line error of its own (the failed one its error, the others one naming
    the failed process and its message), so that no process waits forever for another.
    A no-op wrapper in a one-process run."""
    if jax.process_count() == 1:
        return step()
    try:
        result, failure = step(), ""
    except Exception as error:  # reported to the others, then raised here
        result, failure, raised = None, f"{what}: {error}", error
    encoded = np.zeros(512, np.uint8)
    data = failure.encode()[:512]
    encoded[: len(data)] = np.frombuffer(data, np.uint8)
    everyone = np.asarray(multihost_utils.process_allgather(encoded))
    if failure:
        raise raised
    failed = [i for i, row in enumerate(everyone) if row.any()]
    if failed:
        message = bytes(everyone[failed[0]]).rstrip(b"\0").decode(errors="replace")
        raise ProcessFailed(f"process {failed[0]} failed {message}")
    return result


def any_process(flag: bool) -> bool:
    """Whether `flag` is set on any process (itself in a one-process run): the sync point
    where a Ctrl-C that reached one process stops them all after the same chunk."""
    if jax.process_count() == 1:
        return flag
    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))


def preemption_service() -> bool:
    """Whether JAX's preemption service catches SIGTERM: a multi-process run with it on
    (`jax_enable_preemption_service`, the default); `preempted` then reads it."""
    return jax.process_count() > 1 and bool(jax.config.values["jax_enable_preemption_service"])


def preempted(step: int) -> bool:
    """Whether a SIGTERM reached any process, through JAX's preemption sync point: every
    process answers True at the same `step` (increasing, and the same on every process)."""
    return preemption_service() and multihost_utils.reached_preemption_sync_point(step)


def check_shared_directory(path: Any) -> None:
    """Refuses, on every process, a run directory that not every process sees (each writes
    its own checkpoint shards into it): process 0 writes a token there that all must read."""
    if jax.process_count() == 1:
        return
    token = int(multihost_utils.broadcast_one_to_all(np.asarray(np.random.randint(1 << 30))))
    file = Path(path) / ".shared-directory-token"
    if is_writer():
        file.write_text(str(token))
    barrier("token-written")
    try:
        seen = file.read_text().strip() == str(token)
    except OSError:
        seen = False
    everyone = multihost_utils.process_allgather(np.asarray(seen))
    barrier("token-read")
    if not np.all(everyone):
        blind = [i for i, ok in enumerate(np.ravel(everyone)) if not ok]
        raise OSError(
            f"{path}: process(es) {blind} cannot see the run directory process 0 writes; "
            "put it on a filesystem every process mounts"
        )


def is_writer() -> bool:
    """Only process 0 writes the run directory."""
    return jax.process_index() == 0
