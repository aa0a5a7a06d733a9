"""The checkpoint digest: its value is the stored format's, however it is computed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.run import checkpoint


def reference(x: np.ndarray) -> list[int]:
    """The digest's definition, in NumPy: over the words w[i] of x.ravel() (uint32 after
    widening), sum((2i + 1) w[i]) and sum((w[i] ^ 0x9E3779B9 i) 0x85EBCA6B), mod 2**32."""
    x = x.astype(np.uint8) if x.dtype == np.bool_ else x
    unsigned = {1: np.uint8, 2: np.uint16, 4: np.uint32}[x.dtype.itemsize]
    w = x.view(unsigned).ravel().astype(np.uint64)
    i = np.arange(w.size, dtype=np.uint64)
    mod = np.uint64(2**32)
    a = (w * (2 * i + 1)) % mod
    b = ((w ^ ((i * np.uint64(0x9E3779B9)) % mod)) * np.uint64(0x85EBCA6B)) % mod
    return [int(a.sum() % mod), int(b.sum() % mod), int(w.size)]


def leaves() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((5, 7, 3)).astype(np.float32),
        "bool": rng.random((5, 11)) < 0.5,
        "i32": rng.integers(-(2**31), 2**31 - 1, size=(3,), dtype=np.int32),
        "u8": rng.integers(0, 255, size=(4, 9), dtype=np.uint8),
        "f16": rng.standard_normal((2, 3, 5)).astype(np.float16),
        "keys": np.asarray(jax.random.key_data(jax.random.split(jax.random.key(1), 6))),
        "scalar": np.float32(3.5),
    }


@pytest.mark.parametrize("block_words", [1, 4, 13, checkpoint.BLOCK_WORDS])
def test_digest_equals_its_definition_for_every_block_size(block_words):
    xs = leaves()
    got = {
        k: [int(v) for v in np.asarray(d)]
        for k, d in checkpoint._digest(xs, block_words=block_words).items()
    }
    assert got == {k: reference(x) for k, x in xs.items()}


def test_digest_sees_every_byte_and_its_position():
    x = np.zeros((4, 1000), np.float32)
    base = checkpoint.digest({"x": x})
    changed = x.copy()
    changed[3, 999] = np.float32(1e-30)
    swapped = x.copy()
    swapped[0, 0], swapped[0, 1] = 1.0, 2.0
    swapped_back = x.copy()
    swapped_back[0, 0], swapped_back[0, 1] = 2.0, 1.0
    assert checkpoint.digest({"x": changed}) != base
    assert checkpoint.digest({"x": swapped}) != checkpoint.digest({"x": swapped_back})
    assert checkpoint.digest({"x": jnp.asarray(x)}) == base
