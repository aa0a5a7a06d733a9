"""Checkpoints of the complete training state, written atomically and verified on load.

A checkpoint file is one JSON header line (format, versions, config, run position, the
payload's length and sha256) followed by the payload: the `TrainState` leaves (all seeds)
as msgpack (`flax.serialization`). It is written to a temporary file, fsynced and renamed
over the old one, so a crash leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from purejaxdqn.core import prng

# Bumped whenever a state saved before would resume into another run than the one it came
# from (its random streams, its layout or its period grid changed at the same version).
FORMAT = 3
LATEST = "latest.ckpt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated or does not fit the run."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def save(directory: Path, state: Any, header: dict[str, Any]) -> Path:
    """Writes `state` (any pytree; typed PRNG keys allowed) as `directory/latest.ckpt`."""
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [
        np.asarray(jax.random.key_data(x)) if _is_key(x) else np.asarray(x)
        for x in jax.tree.leaves(state)
    ]
    payload = serialization.msgpack_serialize({str(i): leaf for i, leaf in enumerate(leaves)})
    head = {
        **header,
        "format": FORMAT,
        "num_leaves": len(leaves),
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    path = directory / LATEST
    tmp = directory / f".{LATEST}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(head).encode() + b"\n")
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        kept = "the previous checkpoint is intact" if path.exists() else "no checkpoint was written"
        raise OSError(
            error.errno, f"cannot write checkpoint {path} ({error.strerror or error}); {kept}"
        ) from None
    return path


def read_header(path: Path) -> dict[str, Any]:
    header, _ = _read(path, payload=False)
    return header


def load(path: Path, template: Any, key_impl: str) -> tuple[Any, dict[str, Any]]:
    """Restores a state shaped like `template` (e.g. `jax.eval_shape` of the init), its
    keys of implementation `key_impl` (the config's)."""
    header, payload = _read(path, payload=True)
    try:
        restored = serialization.msgpack_restore(payload)
    except Exception as error:  # msgpack raises several types on bad bytes
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(error).__name__})") from None
    t_leaves, treedef = jax.tree.flatten(template)
    if len(restored) != len(t_leaves):
        raise CheckpointError(
            f"{path}: holds {len(restored)} arrays, this run needs {len(t_leaves)}; "
            f"it was written by another config or version"
        )
    leaves = []
    for i, t in enumerate(t_leaves):
        x = np.asarray(restored[str(i)])
        if _is_key(t):  # the run's keys, stored as their raw data
            try:
                key = jax.random.wrap_key_data(jnp.asarray(x), impl=prng.impl(key_impl))
            except (TypeError, ValueError):
                key = None
            if key is None or key.shape != tuple(t.shape) or key.dtype != t.dtype:
                raise CheckpointError(f"{path}: key array {i} does not fit this run")
            leaves.append(key)
            continue
        if x.shape != tuple(t.shape) or x.dtype != t.dtype:
            raise CheckpointError(
                f"{path}: array {i} is {x.dtype}{list(x.shape)}, this run needs "
                f"{t.dtype}{list(t.shape)}; it was written by another config or version"
            )
        leaves.append(jnp.asarray(x))
    return jax.tree.unflatten(treedef, leaves), header


def _read(path: Path, payload: bool) -> tuple[dict[str, Any], bytes]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint")
    with open(path, "rb") as f:
        first = f.readline()
        try:
            header = json.loads(first)
            size, digest = int(header["payload_bytes"]), header["sha256"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path}: not a purejaxdqn checkpoint (bad header)") from None
        if header.get("format") != FORMAT:
            raise CheckpointError(
                f"{path}: checkpoint format {header.get('format')}, this purejaxdqn reads "
                f"format {FORMAT} (written by another version); start the run afresh"
            )
        if not payload:
            return header, b""
        data = f.read()
    if len(data) != size:
        raise CheckpointError(f"{path}: truncated checkpoint ({len(data)} of {size} bytes)")
    if hashlib.sha256(data).hexdigest() != digest:
        raise CheckpointError(f"{path}: corrupt checkpoint (checksum mismatch)")
    return header, data
