"""The run's key implementations: plain `jax.random` keys, Philox with JAX's own bits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.core import prng


def _draws(key):
    k1, k2 = jax.random.split(key)
    return (
        jax.random.bits(k1, (5,), jnp.uint32),
        jax.random.bits(k1, (3,), jnp.uint16),
        jax.random.bits(k1, (3,), jnp.uint8),
        jax.random.uniform(k2, (4, 3)),
        jax.random.randint(k1, (7,), 0, 9),
        jax.random.normal(k2, (3,)),
        jax.random.key_data(jax.random.fold_in(k2, 7)),
        jax.random.key_data(jax.random.split(key, (3, 2))),
    )


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("jit", [False, True])
def test_philox_draws_the_bits_of_jax_philox4x32(jit):
    draws = jax.jit(_draws) if jit else _draws
    for seed in (0, 1, 2**31 + 5):
        stock = jax.random.key(seed, impl="philox4x32")
        ours = prng.as_run_key(stock, "philox4x32")  # the same key data, our impl
        assert jax.random.key_impl(ours) == prng.PHILOX
        assert jax.random.key_impl(jax.random.key(seed, impl=prng.PHILOX)) == prng.PHILOX
        _same(draws(stock), draws(ours))
        _same(draws(stock), draws(jax.random.key(seed, impl=prng.PHILOX)))


def test_philox_under_vmap_draws_each_keys_own_bits():
    keys = jax.random.split(jax.random.key(3), 4)
    ours = prng.as_run_key(keys, "philox4x32")
    batched = jax.vmap(_draws)(ours)
    for i in range(4):
        _same([x[i] for x in batched], _draws(ours[i]))
    stock = jax.vmap(_draws)(jax.random.wrap_key_data(jax.random.key_data(keys), impl="philox4x32"))
    _same(stock, batched)


def test_as_run_key_keeps_the_seed_bits_of_any_uint32_pair_key():
    data = np.asarray(jax.random.key_data(jax.random.key(7)))
    for name in prng.KEY_IMPLS:
        for key in (
            jax.random.key(7),
            jax.random.PRNGKey(7),
            jax.random.wrap_key_data(data, impl="philox4x32"),
        ):
            run_key = prng.as_run_key(key, name)
            np.testing.assert_array_equal(np.asarray(jax.random.key_data(run_key)), data)
    assert jax.random.key_impl(prng.as_run_key(jax.random.key(7), "threefry2x32")) == (
        jax.random.key_impl(jax.random.key(7, impl="threefry2x32"))
    )
    with pytest.raises(ValueError, match="^key: "):
        prng.as_run_key(jax.random.key(0, impl="rbg"), "philox4x32")


@pytest.mark.parametrize("name", ["rbg", "unsafe_rbg", "mersenne"])
def test_other_key_impls_are_refused_in_one_line(name):
    with pytest.raises(ValueError, match="^key_impl: ") as error:
        prng.check_impl(name)
    assert "\n" not in str(error.value)
