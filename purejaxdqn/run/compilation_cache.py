"""Compiled programs kept across launches, in two layers.

- JAX's persistent compilation cache (`enable_compilation_cache`), keyed by the lowered
  program: a second launch skips XLA's compile but still traces and lowers the program
  (about 0.9 s for the `cartpole` preset on the 2-core CPU).
- purejaxdqn's program cache (`compile_program`, `load_program`), in a subfolder of it:
  the compiled executable itself, keyed by what the program is built from (the caller's
  `identity`: config, mesh, ...; argument shapes and dtypes, devices, the host CPU, this
  package's source, library versions, JAX's flags and XLA_FLAGS). A second launch loads
  it without tracing (`ChunkedRun(program_cache=True)`, which the `train` command uses).

The program cache cannot see code outside this package and its libraries, so callers
leave it off for a user's own env instance (`identity=None`); it is off in multi-process
runs, and `JAX_ENABLE_COMPILATION_CACHE=false` turns off both layers. It keeps to JAX's
`jax_compilation_cache_max_size` as JAX's cache does: the least recently used entries
are removed once the folder is larger (-1, the default: no limit; 0: off). Entries are
pickles (as `jax.experimental.serialize_executable` makes them): keep the cache folder
one that only you write to.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import pickle
import platform
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jax

DEFAULT_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "purejaxdqn" / "xla"
PROGRAMS = "purejaxdqn-programs"  # the program cache's folder inside JAX's cache folder
_LIBRARIES = ("jax", "jaxlib", "flax", "optax", "gymnax", "chex", "numpy")


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turns on JAX's persistent cache in `path` (default ~/.cache/purejaxdqn/xla).

    Every compiled program is cached, however fast it compiled: ours take seconds on
    the CPU, above JAX's default one-second floor only sometimes.
    """
    cache = Path(path) if path is not None else DEFAULT_DIR
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return cache


def compile_program(
    jitted: Any, args: tuple, identity: dict[str, Any] | None, key_args: tuple | None = None
) -> jax.stages.Compiled:
    """`jitted.lower(*args).compile()`, stored in the program cache under `identity` and
    the types of `key_args` (default `args`) for `load_program` to find in a later launch.

    `identity`: JSON-able, everything the traced program depends on beyond this package
    and the key arguments' types (the config, say). None, or a process where JAX's
    persistent cache is off, compiles without the program cache.
    """
    return compile_programs([(jitted, args, identity, key_args)])[0]


Program = tuple[Any, tuple, dict[str, Any] | None, tuple | None]


def compile_programs(programs: Sequence[Program]) -> list[jax.stages.Compiled]:
    """`compile_program` for several (jitted, args, identity, key_args) at once.

    Each program is lowered in turn (Python, holding the GIL) while XLA compiles the ones
    lowered before it in other threads (XLA releases the GIL), so lowering and compiling
    overlap and the compiles share the cores. Those the program cache will keep are
    compiled together in one stretch with JAX's cache off (`_jax_cache_off`), then written.
    """
    paths = [
        _entry(args if key_args is None else key_args, identity)
        for _, args, identity, key_args in programs
    ]
    kept = {i: program[:2] for i, program in enumerate(programs) if paths[i] is not None}
    plain = {i: program[:2] for i, program in enumerate(programs) if paths[i] is None}
    compiled = {}
    if kept:
        with _jax_cache_off():
            compiled.update(_compile_concurrently(kept))
    compiled.update(_compile_concurrently(plain))
    for i, path in enumerate(paths):
        if path is not None:
            _write(path, compiled[i])
    return [compiled[i] for i in range(len(programs))]


def _compile_concurrently(programs: dict[int, tuple[Any, tuple]]) -> dict[int, Any]:
    if len(programs) <= 1:
        return {i: jitted.lower(*args).compile() for i, (jitted, args) in programs.items()}
    with ThreadPoolExecutor(len(programs)) as pool:
        futures = {
            i: pool.submit(jitted.lower(*args).compile) for i, (jitted, args) in programs.items()
        }
        return {i: future.result() for i, future in futures.items()}


@contextlib.contextmanager
def _jax_cache_off() -> Iterator[None]:
    """JAX's persistent cache off while the block runs, so that its compiles are compiled.

    An executable that JAX loaded from its cache serializes without its kernels (on the
    CPU it fails when run: "Function ... not found"), so what this cache stores must be
    compiled, not loaded. JAX decides once per process whether its cache is used;
    `reset_cache` makes it decide again, before and after. The flag is global: one such
    block at a time (`_AFRESH`), or a second one's restoring the flag could turn JAX's
    cache back on under the first, and `_entry` reads the flags under the same lock (else
    it would take the program cache for off meanwhile). Other code's compiles meanwhile
    only skip JAX's cache."""
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    with _AFRESH:
        enabled = jax.config.jax_enable_compilation_cache  # type: ignore[attr-defined]
        jax.config.update("jax_enable_compilation_cache", False)
        jax_cache.reset_cache()
        try:
            yield
        finally:
            jax.config.update("jax_enable_compilation_cache", enabled)
            jax_cache.reset_cache()


_AFRESH = threading.Lock()


def load_program(
    key_args: tuple, identity: dict[str, Any] | None, devices: list | None = None
) -> jax.stages.Compiled | None:
    """The executable `compile_program` stored for `identity` and these key argument
    types, or None. `devices`: the ones it runs on, in its mesh's order (default: all of
    the backend's). An unreadable entry warns in one line, is removed and gives None."""
    path = _entry(key_args, identity)
    return None if path is None else _load(path, devices)


def _load(path: Path, devices: list | None) -> jax.stages.Compiled | None:
    if not path.exists():
        return None
    try:
        from jax.experimental.serialize_executable import deserialize_and_load

        payload, in_tree, out_tree = pickle.loads(path.read_bytes())
        compiled = deserialize_and_load(payload, in_tree, out_tree, execution_devices=devices)
    except Exception as error:  # any unreadable entry: removed, compiled again
        warnings.warn(
            f"program cache: {path} is unreadable ({type(error).__name__}); compiling again",
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None
    try:
        _touch(path)  # used now: the last entry to go when the folder is over its limit
    except OSError:
        pass
    return compiled


def _touch(path: str | os.PathLike) -> None:
    """Sets the modification time to now, from the fine clock: files written or touched
    without a time get the kernel's coarse one (a few ms a tick), so an entry loaded right
    after another was written could tie with it and be evicted first."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _evict(keep: Path) -> None:
    """Removes the least recently used entries beside `keep` (by modification time, which
    a load renews) until the folder fits JAX's `jax_compilation_cache_max_size`."""
    limit = jax.config.jax_compilation_cache_max_size  # type: ignore[attr-defined]
    if limit is None or limit < 0:
        return
    entries = []
    for entry in keep.parent.glob("*.pkl"):
        try:
            stat = entry.stat()
        except OSError:  # removed meanwhile by another launch
            continue
        entries.append((stat.st_mtime, stat.st_size, entry))
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if entry != keep:
            entry.unlink(missing_ok=True)
            total -= size


def _type(x: Any) -> tuple:
    """(shape, dtype, weak) of an argument, concrete or abstract alike."""
    if isinstance(x, bool | int | float):
        return ((), type(x).__name__, True)
    return (tuple(x.shape), str(x.dtype), bool(getattr(x, "weak_type", False)))


def _entry(args: tuple, identity: dict[str, Any] | None) -> Path | None:
    with _AFRESH:  # the user's flags, not those of another thread's `_jax_cache_off`
        cache = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
        enabled = jax.config.jax_enable_compilation_cache  # type: ignore[attr-defined]
        limit = jax.config.jax_compilation_cache_max_size  # type: ignore[attr-defined]
    if identity is None or not cache or not enabled or limit == 0 or jax.process_count() > 1:
        return None
    return Path(cache) / PROGRAMS / f"{fingerprint(identity, args)}.pkl"


def fingerprint(identity: dict[str, Any], args: tuple) -> str:
    """A hex digest of everything a compiled program depends on (see module docstring)."""
    leaves, treedef = jax.tree.flatten(args)
    parts = {
        "identity": identity,
        "args": str(treedef),
        # Shapes and types only: the programs fix their own shardings (and the devices
        # are below), and an abstract argument must match the concrete one it stands for.
        "leaves": [_type(x) for x in leaves],
        "source": _source_digest(),
        "libraries": {name: _version(name) for name in _LIBRARIES},
        "python": sys.version,
        "devices": [(d.platform, d.device_kind, d.id) for d in jax.devices()],
        "host": _host_cpu(),  # CPU code is compiled for this CPU's instruction set
        "jax_flags": {k: str(v) for k, v in jax.config.values.items() if not _cache_flag(k)},
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _cache_flag(name: str) -> bool:
    """JAX's flags that manage its caches (folder, size, thresholds) and not what compiles."""
    return "compilation_cache" in name or "persistent_cache" in name


def _write(path: Path, compiled: jax.stages.Compiled) -> None:
    """Writes atomically (a concurrent launch reads the old entry or the new one); a
    program that cannot be serialized or a full disk only costs the next launch a compile."""
    try:
        from jax.experimental.serialize_executable import serialize

        data = pickle.dumps(serialize(compiled))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            try:
                tmp.write(data)
            except BaseException:
                os.unlink(tmp.name)
                raise
        _touch(tmp.name)
        os.replace(tmp.name, path)
        _evict(keep=path)
    except Exception as error:
        warnings.warn(
            f"program cache: could not write {path} ({type(error).__name__}: {error})",
            stacklevel=3,
        )


# What follows is fixed for the life of a process: read once, not once per program.


@functools.cache
def _source_digest() -> str:
    """sha256 over this package's .py files (an edited package never loads old programs)."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for file in sorted(package.rglob("*.py")):
        digest.update(str(file.relative_to(package)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@functools.cache
def _host_cpu() -> str:
    """The CPU's model and feature flags (Linux), else the platform's machine name: a cache
    folder shared between machines (a network home) never runs another CPU's code."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() + " " + platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(dict.fromkeys(line for line in lines if line.startswith(wanted)))


@functools.cache
def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
