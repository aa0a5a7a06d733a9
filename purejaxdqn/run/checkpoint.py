"""Checkpoints with orbax-checkpoint: RUN_DIR/checkpoints/<n>/ holds three items.

- `state`: every leaf of the sharded training state (typed keys as their key data), each
  process writing only the shards it holds; restorable onto another mesh (run/runner.py).
- `params`: each run's network parameters alone, restorable as numpy arrays by one CPU
  process without the buffers or the devices they were saved from (eval, watch,
  load_policy).
- `meta`: JSON: the format, versions, config, run info, the run count before padding, the
  run's position, and a digest of every array of the other two (orbax's own checksums do
  not cover every byte).

Saves are asynchronous (orbax writes in the background while training goes on; the next
save or `close` waits for it) and atomic: orbax writes into a temporary folder and renames
it once complete, so a kill during a save leaves the previous checkpoint usable. The last
`keep` are kept.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from purejaxdqn.core import prng

# Bumped whenever a state saved before would resume into another run than the one it came
# from. 4: orbax items (3 and before: one msgpack file, checkpoints/latest.ckpt).
FORMAT = 4
STATE, PARAMS, META = "state", "params", "meta"
OLD_FILE = "latest.ckpt"  # formats 1-3
# Test hook: the save with this number (0, 1, ...) pauses mid-save, its folder not yet
# committed, after writing "paused" to the file named by PAUSE_FILE.
PAUSE_SAVE, PAUSE_FILE = "PUREJAXDQN_TEST_PAUSE_SAVE", "PUREJAXDQN_TEST_PAUSE_FILE"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated or does not fit the run."""


class _Meta(ocp.JsonCheckpointHandler):
    """orbax's JSON item, with the test hook that pauses a save before it commits."""

    async def async_save(self, directory, item=None, args=None):
        meta = args.item if args is not None else item
        if meta is not None and str(meta.get("save")) == os.environ.get(PAUSE_SAVE):
            Path(os.environ[PAUSE_FILE]).write_text("paused")
            time.sleep(3600)  # until the test kills this process
        return await super().async_save(directory, item=item, args=args)


@ocp.args.register_with_handler(_Meta, for_save=True)
class _MetaSave(ocp.args.JsonSave):
    """`JsonSave` for the `meta` item (orbax finds an item's handler by its args class)."""


@ocp.args.register_with_handler(_Meta, for_restore=True)
class _MetaRestore(ocp.args.JsonRestore):
    """`JsonRestore` for the `meta` item."""


def manager(directory: Path, keep: int = 2, read_only: bool = False) -> ocp.CheckpointManager:
    """The orbax manager of `directory` (RUN_DIR/checkpoints); every process makes one."""
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep,
        read_only=read_only,
        create=not read_only,
        cleanup_tmp_directories=not read_only,  # a save killed before its commit
        enable_async_checkpointing=not read_only,
    )
    # The state uncompressed: zstd holds each array's compressed copy in memory and costs
    # the cores training shares with the background write, for little on float buffers.
    handlers = {
        STATE: ocp.PyTreeCheckpointHandler(use_compression=False),
        PARAMS: ocp.PyTreeCheckpointHandler(),
    }
    return ocp.CheckpointManager(
        directory.absolute(), options=options, item_handlers={**handlers, META: _Meta()}
    )


def flat(tree: Any) -> dict[str, Any]:
    """A pytree's leaves by position ("0", "1", ...), typed keys as their key data."""
    return {
        str(i): jax.random.key_data(x) if prng.is_key(x) else x
        for i, x in enumerate(jax.tree.leaves(tree))
    }


# Words a digest handles at once: XLA on the CPU materialises the terms of an integer sum,
# so one sum over a whole replay buffer would take twice its size in memory.
BLOCK_WORDS = 1 << 22


@partial(jax.jit, static_argnames="block_words")
def _digest(leaves: dict[str, jax.Array], block_words: int = BLOCK_WORDS) -> dict[str, jax.Array]:
    """Two position-dependent 32-bit sums of each array's words, and its size: every byte
    counts, and the sums do not depend on how the array is split (blocks, shards)."""
    return {k: _leaf_digest(x, block_words) for k, x in leaves.items()}


def _leaf_digest(x: jax.Array, block_words: int) -> jax.Array:
    # (rows, cols), rows the leading (seed, possibly sharded) axis; summed `block` columns
    # at a time, the position of row r, column c being r * cols + c as in x.ravel().
    rows = x.shape[0] if x.ndim >= 2 else 1
    x = x.reshape(rows, -1)
    cols = x.shape[1]
    block = max(1, min(cols, block_words // rows))
    row_start = jnp.arange(rows, dtype=jnp.uint32)[:, None] * jnp.uint32(cols)

    def sums(part: jax.Array, col0: jax.Array) -> jax.Array:
        i = row_start + col0 + jnp.arange(part.shape[1], dtype=jnp.uint32)[None, :]
        w = _words(part)
        a = jnp.sum(w * (2 * i + 1), dtype=jnp.uint32)
        b = jnp.sum((w ^ (i * jnp.uint32(0x9E3779B9))) * jnp.uint32(0x85EBCA6B), dtype=jnp.uint32)
        return jnp.stack([a, b])

    def body(j, acc):
        col0 = (j * block).astype(jnp.uint32)
        return acc + sums(jax.lax.dynamic_slice_in_dim(x, j * block, block, axis=1), col0)

    full = cols // block
    if full == 1:
        acc = sums(x[:, :block], jnp.uint32(0))
    else:
        acc = jax.lax.fori_loop(0, full, body, jnp.zeros(2, jnp.uint32))
    if cols % block:
        acc = acc + sums(x[:, full * block :], jnp.uint32(full * block))
    return jnp.concatenate([acc, jnp.array([x.size], jnp.uint32)])


def _words(x: jax.Array) -> jax.Array:
    x = x.astype(jnp.uint8) if x.dtype == jnp.bool_ else x
    unsigned = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32}[x.dtype.itemsize]
    return jax.lax.bitcast_convert_type(x, unsigned).astype(jnp.uint32)


def digest(leaves: dict[str, Any]) -> dict[str, list[int]]:
    """`_digest` on the host: JSON-ready (every process calls it on a sharded state)."""
    return {k: [int(v) for v in np.asarray(d)] for k, d in _digest(leaves).items()}


def save(mgr: ocp.CheckpointManager, number: int, state: Any, params: Any, meta: dict) -> None:
    """Starts writing checkpoint `number` (every process calls it with the same values)
    after the previous one has finished; raises that one's error if it failed."""
    wait(mgr)
    leaves, param_leaves = flat(state), flat(params)
    meta = {
        **meta,
        "format": FORMAT,
        "save": number,
        "shapes": {k: [str(x.dtype), list(x.shape)] for k, x in leaves.items()},
        "digest": digest(leaves),
        "params_digest": digest(param_leaves),
    }
    args = ocp.args.Composite(
        **{
            STATE: ocp.args.PyTreeSave(leaves),
            PARAMS: ocp.args.PyTreeSave(params),
            META: _MetaSave(meta),
        }
    )
    try:
        mgr.save(number, args=args)
    except OSError as error:
        raise _write_error(mgr, error) from None


def wait(mgr: ocp.CheckpointManager) -> None:
    """Waits for the save in flight; a failed one raises OSError in one line."""
    try:
        mgr.wait_until_finished()
    except OSError as error:
        raise _write_error(mgr, error) from None


def _write_error(mgr: ocp.CheckpointManager, error: OSError) -> OSError:
    kept = mgr.latest_step()
    what = f"checkpoint {kept} is intact" if kept is not None else "no checkpoint was written"
    return OSError(
        error.errno, f"cannot write a checkpoint in {mgr.directory} ({error.strerror}); {what}"
    )


def latest(directory: Path) -> tuple[ocp.CheckpointManager, int] | None:
    """A read-only manager of `directory` and its last complete checkpoint, or None where
    there is none; a directory of the format before orbax is refused in one line."""
    old = directory / OLD_FILE
    if old.exists():
        raise CheckpointError(
            f"{directory.parent}: a run directory of the checkpoint format before 0.4.0 "
            f"(written by purejaxdqn {_old_version(old)}); finish it with that release"
        )
    if not directory.is_dir():
        return None
    mgr = manager(directory, read_only=True)
    step = mgr.latest_step()
    return None if step is None else (mgr, step)


def _old_version(path: Path) -> str:
    import json

    try:
        with open(path, "rb") as f:
            return str(json.loads(f.readline()).get("purejaxdqn", "an unknown version"))
    except (OSError, ValueError, AttributeError):
        return "an unknown version"


def read_meta(mgr: ocp.CheckpointManager, step: int) -> dict[str, Any]:
    where = f"{mgr.directory}/{step}"
    try:
        meta = mgr.restore(step, args=ocp.args.Composite(**{META: _MetaRestore()}))[META]
    except Exception as error:  # orbax raises several types on a missing or bad item
        raise CheckpointError(f"{where}: corrupt checkpoint ({_what(error)})") from None
    if not isinstance(meta, dict) or "format" not in meta:
        raise CheckpointError(f"{where}: not a purejaxdqn checkpoint (no meta item)")
    if meta["format"] != FORMAT:
        raise CheckpointError(
            f"{where}: checkpoint format {meta['format']}, this purejaxdqn reads format "
            f"{FORMAT} (written by another version); start the run afresh"
        )
    return meta


def restore_state(
    mgr: ocp.CheckpointManager, step: int, meta: dict, abstract: dict[str, Any]
) -> dict[str, Any]:
    """The state's leaves (key data as stored), placed as `abstract` says (shapes, dtypes
    and shardings of the saved arrays), checked against the saved digest."""
    where = f"{mgr.directory}/{step}"
    shapes = {k: [str(x.dtype), list(x.shape)] for k, x in abstract.items()}
    if shapes != meta["shapes"]:
        raise CheckpointError(
            f"{where}: holds {len(meta['shapes'])} arrays of other shapes than this run's "
            f"{len(shapes)}; it was written by another config or version"
        )
    restore = ocp.args.PyTreeRestore(
        item=abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract)
    )
    leaves = _restore(mgr, step, STATE, restore)
    if digest(leaves) != meta["digest"]:
        raise CheckpointError(f"{where}: corrupt checkpoint (checksum mismatch)")
    return leaves


def restore_params(mgr: ocp.CheckpointManager, step: int, meta: dict) -> Any:
    """Every run's parameters as numpy arrays (padding rows included), checked."""
    where = f"{mgr.directory}/{step}"
    try:
        tree = mgr.item_metadata(step)[PARAMS]
        restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree.tree)
    except Exception as error:
        raise CheckpointError(f"{where}: corrupt checkpoint ({_what(error)})") from None
    params = _restore(mgr, step, PARAMS, ocp.args.PyTreeRestore(restore_args=restore_args))
    if digest(flat(params)) != meta["params_digest"]:
        raise CheckpointError(f"{where}: corrupt checkpoint (checksum mismatch)")
    return params


def _restore(mgr: ocp.CheckpointManager, step: int, item: str, args: Any) -> Any:
    try:
        return mgr.restore(step, args=ocp.args.Composite(**{item: args}))[item]
    except Exception as error:  # tensorstore and orbax raise several types on bad bytes
        raise CheckpointError(
            f"{mgr.directory}/{step}: corrupt checkpoint ({_what(error)})"
        ) from None


def _what(error: Exception) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:120]}" if first else type(error).__name__
