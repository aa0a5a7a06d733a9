"""The run's random keys: Philox4x32, its rounds in a loop on the CPU.

`as_run_key(key)` turns the user's key into the run's key. Its impl, `RUN_KEY_IMPL`,
gives exactly the bits of JAX's "philox4x32" (same seed, split, fold_in and
random_bits), so a key's numbers do not depend on which of the two carries it. Why
Philox and not JAX's default threefry: on the CPU its sampling compiles about 1.5x
faster and runs about 1.4x faster (benchmarks/RESULTS.md), and a run draws random
numbers at every environment step (gymnax resets draw too).

Why not plain "philox4x32" on the CPU: each draw site of the program is compiled to its
own kernel, and a Philox kernel is ten unrolled rounds of multiplies and xors, some 350
operations where most of the program's kernels have a few dozen. The run has about 30
draw sites, and compiling them took about 0.9 s of its 3 to 4 s cold compile. XLA's CPU
fusion also copies such cheap elementwise producers into every reader (gymnax's
auto-reset reads the reset draw once per state field), so a draw was compiled and
computed once per reader. Here, on the CPU, the rounds run as a `lax.fori_loop` over the four Philox
words stacked in one array: one small kernel per draw site, run ten times, and a loop
result, which XLA computes once and stores. Other platforms get JAX's own draws
(`lax.platform_dependent` picks at lowering time; no branch runs).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import define_prng_impl

_PHILOX = "philox4x32"
# Philox4x32-10 (Salmon et al. 2011, Random123), as in JAX's "philox4x32".
_ROUNDS = 10
_MULTIPLIERS = (np.uint32(0xD2511F53), np.uint32(0xCD9E8D57))
_KEY_INCREMENTS = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))


def _philox(data: jax.Array) -> jax.Array:
    return jax.random.wrap_key_data(data, impl=_PHILOX)


def _rolled_philox(key_data: jax.Array, words: jax.Array) -> jax.Array:
    """Philox4x32-10 of counters `words` (uint32[4, *shape]) under key_data (uint32[2]).

    The same bits as JAX's `philox4x32` primitive; the rounds are a loop instead of
    being unrolled."""
    m0, m1 = _MULTIPLIERS
    w0, w1 = _KEY_INCREMENTS

    def round_(i: jax.Array, x: jax.Array) -> jax.Array:
        step = i.astype(jnp.uint32)  # round i uses the key bumped i times
        k0, k1 = key_data[0] + step * w0, key_data[1] + step * w1
        x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
        hi0 = lax.mulhi(jnp.full_like(x0, m0), x0)
        hi1 = lax.mulhi(jnp.full_like(x2, m1), x2)
        return jnp.stack([hi1 ^ x1 ^ k0, x2 * m1, hi0 ^ x3 ^ k1, x0 * m0])

    return lax.fori_loop(0, _ROUNDS, round_, words)


def _indices(shape: tuple[int, ...]) -> jax.Array:
    """Each element's row-major index: the low word of JAX's 64-bit Philox counter (the
    high word is 0 below 2**32 elements)."""
    size = math.prod(shape)
    if size >= 2**32:
        raise ValueError(f"random draws: at most 2**32 - 1 values per draw, got shape {shape}")
    return lax.iota(jnp.uint32, size).reshape(shape)


def _cpu_split(key_data: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    zeros = jnp.zeros(shape, jnp.uint32)
    out = _rolled_philox(key_data, jnp.stack([zeros, zeros, zeros, _indices(shape)]))
    return jnp.stack([out[0], out[1]], axis=len(shape))


def _cpu_fold_in(key_data: jax.Array, data: jax.Array) -> jax.Array:
    zero = jnp.uint32(0)
    out = _rolled_philox(key_data, jnp.stack([zero, zero, zero, jnp.asarray(data, jnp.uint32)]))
    return out[:2]


def _cpu_random_bits(key_data: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    zeros = jnp.zeros(shape, jnp.uint32)
    out = _rolled_philox(key_data, jnp.stack([zeros, _indices(shape), zeros, zeros]))
    dtype = jnp.dtype(f"uint{bit_width}")
    if bit_width == 64:
        return (out[0].astype(dtype) << dtype.type(32)) | out[1].astype(dtype)
    return (out[0] ^ out[1] ^ out[2] ^ out[3]).astype(dtype)


def _seed(seed: jax.Array) -> jax.Array:
    return jax.random.key_data(jax.random.key(seed, impl=_PHILOX))


def _split(key_data: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    def plain(key_data: jax.Array) -> jax.Array:
        return jax.random.key_data(jax.random.split(_philox(key_data), shape))

    return lax.platform_dependent(
        key_data, cpu=lambda k: _cpu_split(k, tuple(shape)), default=plain
    )


def _fold_in(key_data: jax.Array, data: int | jax.Array) -> jax.Array:
    def plain(key_data: jax.Array, data: jax.Array) -> jax.Array:
        return jax.random.key_data(jax.random.fold_in(_philox(key_data), data))

    return lax.platform_dependent(
        key_data, jnp.asarray(data, jnp.uint32), cpu=_cpu_fold_in, default=plain
    )


def _random_bits(key_data: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    def plain(key_data: jax.Array) -> jax.Array:
        return jax.random.bits(_philox(key_data), shape, jnp.dtype(f"uint{bit_width}"))

    return lax.platform_dependent(
        key_data, cpu=lambda k: _cpu_random_bits(k, bit_width, tuple(shape)), default=plain
    )


RUN_KEY_IMPL = define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="purejaxdqn_philox4x32",
    tag="pjdqn",
)


def as_run_key(key: jax.Array) -> jax.Array:
    """The run's key: the same 64 seed bits, as a `RUN_KEY_IMPL` key.

    Accepts a typed key (`jax.random.key`, any impl with uint32[2] data, e.g. the
    default threefry or "philox4x32") or a raw uint32[2] one (`jax.random.PRNGKey`).
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if jax.random.key_impl(key) == RUN_KEY_IMPL:
            return key
        key = jax.random.key_data(key)
    if key.shape[-1:] != (2,) or key.dtype != jnp.uint32:
        raise ValueError(
            "key: expected jax.random.key(seed) or a uint32[2] PRNGKey, "
            f"got {key.dtype}{list(key.shape)}"
        )
    return jax.random.wrap_key_data(key, impl=RUN_KEY_IMPL)
