"""The run's random keys: which `jax.random` implementation draws every random number.

A run's key implementation is its config's `key_impl`, and `as_run_key` is the one place
that applies it: every other piece of the package sees ordinary typed `jax.random` keys.

* "threefry2x32": JAX's default.
* "philox4x32": Philox4x32-10 (Salmon et al. 2011), the bits of JAX's own "philox4x32".
  JAX's own impl multiplies with `lax.mulhi`, which a program partitioned over several
  devices cannot compile on jax 0.10 ("Unable to convert MHLO to StableHLO"), so this one
  is registered through `jax.extend.random` with `mulhi` built from 16-bit products.
  On the CPU a run draws faster with it than with threefry (benchmarks/RESULTS.md).

"rbg" and "unsafe_rbg" are refused: under `jax.vmap` their draws for one key depend on
the other keys in the batch, so a seed's run would depend on its neighbours.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import define_prng_impl

KEY_IMPLS = ("philox4x32", "threefry2x32")

# Philox4x32-10's constants (Random123).
_ROUNDS = 10
_MULTIPLIERS = (np.uint32(0xD2511F53), np.uint32(0xCD9E8D57))
_KEY_INCREMENTS = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))


def _mulhi(a: jax.Array, b: np.uint32) -> jax.Array:
    """The high 32 bits of the 64-bit product of uint32 `a` and the constant `b`."""
    a_lo, a_hi = a & 0xFFFF, a >> 16
    b_lo, b_hi = np.uint32(b & 0xFFFF), np.uint32(b >> 16)
    lo_lo, lo_hi, hi_lo = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo
    carry = ((lo_lo >> 16) + (lo_hi & 0xFFFF) + (hi_lo & 0xFFFF)) >> 16
    return a_hi * b_hi + (lo_hi >> 16) + (hi_lo >> 16) + carry


def _rounds(key_data: jax.Array, words: jax.Array, unroll: bool) -> jax.Array:
    """Philox4x32-10 of counters `words` (uint32[4, *shape]) under key_data (uint32[2])."""

    def round_(i: jax.Array, x: jax.Array) -> jax.Array:
        step = i.astype(jnp.uint32)  # round i uses the key bumped i times
        k0 = key_data[0] + step * _KEY_INCREMENTS[0]
        k1 = key_data[1] + step * _KEY_INCREMENTS[1]
        hi0, lo0 = _mulhi(x[0], _MULTIPLIERS[0]), x[0] * _MULTIPLIERS[0]
        hi1, lo1 = _mulhi(x[2], _MULTIPLIERS[1]), x[2] * _MULTIPLIERS[1]
        return jnp.stack([hi1 ^ x[1] ^ k0, lo1, hi0 ^ x[3] ^ k1, lo0])

    return jax.lax.fori_loop(0, _ROUNDS, round_, words, unroll=unroll)


def _philox(key_data: jax.Array, counters: list[jax.Array]) -> list[jax.Array]:
    """Philox4x32-10 of four uint32 counter words (equal shapes) under key_data (uint32[2]).

    On the CPU the ten rounds are a loop: each draw site of a program then compiles to
    one small kernel whose result XLA computes once, where the unrolled rounds (some 400
    operations) were compiled, and computed, into every fusion that reads the draw
    (benchmarks/RESULTS.md). Elsewhere they are unrolled, as in JAX's own impl."""
    words = jnp.stack(counters)
    out = jax.lax.platform_dependent(
        key_data,
        words,
        cpu=lambda k, w: _rounds(k, w, unroll=False),
        default=lambda k, w: _rounds(k, w, unroll=True),
    )
    return [out[0], out[1], out[2], out[3]]


def _counters(shape: tuple[int, ...]) -> jax.Array:
    """Each element's row-major index (the low word of JAX's 64-bit Philox counter)."""
    size = int(np.prod(shape, dtype=np.int64))
    if size >= 2**32:
        raise ValueError(f"random draws: at most 2**32 - 1 values per draw, got shape {shape}")
    return jax.lax.iota(jnp.uint32, size).reshape(shape)


def _seed(seed: jax.Array) -> jax.Array:
    return jax.random.key_data(jax.random.key(seed, impl="philox4x32"))


def _split(key_data: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    zeros = jnp.zeros(shape, jnp.uint32)
    out = _philox(key_data, [zeros, zeros, zeros, _counters(shape)])
    return jnp.stack(out[:2], axis=-1)


def _fold_in(key_data: jax.Array, data: Any) -> jax.Array:
    zero = jnp.uint32(0)
    out = _philox(key_data, [zero, zero, zero, jnp.asarray(data, jnp.uint32)])
    return jnp.stack(out[:2])


def _random_bits(key_data: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    zeros = jnp.zeros(shape, jnp.uint32)
    x0, x1, x2, x3 = _philox(key_data, [zeros, _counters(shape), zeros, zeros])
    dtype = jnp.dtype(f"uint{bit_width}")
    if bit_width == 64:
        return (x0.astype(dtype) << dtype.type(32)) | x1.astype(dtype)
    return (x0 ^ x1 ^ x2 ^ x3).astype(dtype)


PHILOX = define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="purejaxdqn_philox4x32",
    tag="pjp",
)


def check_impl(name: str) -> None:
    """Refuses a key implementation that a run cannot use, in one line."""
    if name in ("rbg", "unsafe_rbg"):
        raise ValueError(
            f"key_impl: {name} is refused: under jax.vmap its draws for one seed depend on "
            f"the other seeds; choose one of {KEY_IMPLS}"
        )
    if name not in KEY_IMPLS:
        raise ValueError(f"key_impl: must be one of {KEY_IMPLS}, got {name!r}")


def impl(name: str) -> Any:
    """The `impl` argument of `jax.random.key` / `wrap_key_data` for a `key_impl` name."""
    check_impl(name)
    return PHILOX if name == "philox4x32" else name


def is_key(x: Any) -> bool:
    """Whether `x` (an array or a shape-dtype struct) holds typed PRNG keys."""
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def as_run_key(key: jax.Array, name: str) -> jax.Array:
    """The same 64 seed bits as a key of implementation `name`.

    Accepts a typed key of any impl with uint32[2] data (`jax.random.key(seed)`) or a raw
    uint32[2] one (`jax.random.PRNGKey(seed)`); leading batch axes are kept.
    """
    if is_key(key):
        key = jax.random.key_data(key)
    if key.shape[-1:] != (2,) or key.dtype != jnp.uint32:
        raise ValueError(
            "key: expected jax.random.key(seed) or a uint32[2] PRNGKey, "
            f"got {key.dtype}{list(key.shape)}"
        )
    return jax.random.wrap_key_data(key, impl=impl(name))
