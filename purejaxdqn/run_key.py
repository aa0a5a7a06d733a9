"""The run's random keys: Philox4x32, with each draw computed once on the CPU.

`as_run_key(key)` turns the user's key into the run's key. Its impl, `RUN_KEY_IMPL`,
gives exactly the bits of JAX's "philox4x32" (same seed, split, fold_in and
random_bits: it calls them), so a key's numbers do not depend on which of the two
carries it. Why Philox and not JAX's default threefry: on the CPU its sampling compiles
about 1.5x faster and runs about 1.4x faster (benchmarks/RESULTS.md), and a run draws
random numbers at every environment step (gymnax resets draw too).

Why not plain "philox4x32": XLA's CPU fusion copies cheap elementwise producers into
every consumer, and Philox is nothing but cheap elementwise ops. A draw read by k
fusions (gymnax's auto-reset reads the reset draw once per state field, and once for
the observation) was compiled and computed k times: 56 of the program's fusions held a
copy of Philox, 78% of all fused ops. On the CPU the draws here end in an integer
division by a 1 that XLA cannot prove is 1: a division by a non-constant counts as
expensive, and XLA never copies an expensive op, so the bits are computed once, stored,
and read. The division leaves every bit as it was. Other platforms get the plain
draws (`lax.platform_dependent` picks at lowering time; no branch runs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.random import define_prng_impl

_PHILOX = "philox4x32"


def _philox(data: jax.Array) -> jax.Array:
    return jax.random.wrap_key_data(data, impl=_PHILOX)


def _opaque_one(key_data: jax.Array) -> jax.Array:
    """uint32 1, computed from the key so that XLA cannot fold it: (k >> 31) | 1."""
    return (key_data[0] >> 31) | jnp.uint32(1)


def _computed_once(x: jax.Array, key_data: jax.Array) -> jax.Array:
    """x (unsigned ints), unchanged; on the CPU it is stored rather than fused into readers."""

    def divided(x: jax.Array, key_data: jax.Array) -> jax.Array:
        return jax.lax.div(x, jnp.broadcast_to(_opaque_one(key_data).astype(x.dtype), x.shape))

    return jax.lax.platform_dependent(x, key_data, cpu=divided, default=lambda x, _: x)


def _seed(seed: jax.Array) -> jax.Array:
    return jax.random.key_data(jax.random.key(seed, impl=_PHILOX))


def _split(key_data: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    keys = jax.random.key_data(jax.random.split(_philox(key_data), shape))
    return _computed_once(keys, key_data)


def _fold_in(key_data: jax.Array, data: int | jax.Array) -> jax.Array:
    key = jax.random.key_data(jax.random.fold_in(_philox(key_data), data))
    return _computed_once(key, key_data)


def _random_bits(key_data: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    bits = jax.random.bits(_philox(key_data), shape, jnp.dtype(f"uint{bit_width}"))
    return _computed_once(bits, key_data)


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
