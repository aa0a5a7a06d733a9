"""The run's key impl: Philox4x32's bits, its rounds a loop on the CPU."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.core.prng import RUN_KEY_IMPL, as_run_key


def _draws(key):
    k1, k2 = jax.random.split(key)
    return (
        jax.random.bits(k1, (5,), jnp.uint32),
        jax.random.bits(k1, (3,), jnp.uint8),
        jax.random.uniform(k2, (4, 3)),
        jax.random.randint(k1, (7,), 0, 9),
        jax.random.normal(k2, (3,)),
        jax.random.key_data(jax.random.fold_in(k2, 7)),
        jax.random.key_data(jax.random.split(key, (3, 2))),
    )


def _philox(seed):
    return jax.random.key(seed, impl="philox4x32")


@pytest.mark.parametrize("jit", [False, True])
def test_run_key_draws_the_bits_of_philox4x32(jit):
    draws = jax.jit(_draws) if jit else _draws
    for seed in (0, 3, 2**31 + 5):
        run_key = as_run_key(_philox(seed))
        assert jax.random.key_impl(run_key) == RUN_KEY_IMPL
        for a, b in zip(draws(_philox(seed)), draws(run_key), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_run_key_draws_the_64_bit_words_of_philox4x32():
    with jax.enable_x64(True):
        for seed in (0, 5):
            a = jax.random.bits(_philox(seed), (3,), jnp.uint64)
            b = jax.random.bits(as_run_key(_philox(seed)), (3,), jnp.uint64)
            assert b.dtype == jnp.uint64
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_run_key_draws_the_bits_of_philox4x32_under_vmap():
    keys = jax.random.split(_philox(1), 4)
    run_keys = jax.vmap(as_run_key)(keys)
    np.testing.assert_array_equal(
        np.asarray(jax.random.key_data(keys)), np.asarray(jax.random.key_data(run_keys))
    )
    draws = jax.jit(jax.vmap(_draws))
    for a, b in zip(draws(keys), draws(run_keys), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_as_run_key_keeps_the_seed_bits_of_any_uint32_pair_key():
    data = np.asarray(jax.random.key_data(jax.random.key(7)))
    for key in (
        jax.random.key(7),
        jax.random.PRNGKey(7),
        jax.random.wrap_key_data(data, impl="philox4x32"),
    ):
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(as_run_key(key))), data)
    run_key = as_run_key(jax.random.key(7))
    assert as_run_key(run_key) is run_key
    with pytest.raises(ValueError, match="^key: "):
        as_run_key(jax.random.key(0, impl="rbg"))


def _philox_fusions(key) -> int:
    """Fusions of the compiled program that compute Philox rounds (its first multiplier)."""

    def f(key):
        u = jax.random.uniform(key, (8, 4))  # read by five fusions below, like an auto-reset
        return u[:, 0] * 2, u[:, 1] + 1, u[:, 2] - 3, jnp.exp(u[:, 3]), jnp.max(u, axis=1)

    text = jax.jit(f).lower(key).compile().as_text()
    computations = re.split(r"\n(?=\S)", text)
    return sum(c.startswith("%fused") and "3528531795" in c for c in computations)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's fusion is what is avoided")
def test_a_draw_read_by_several_fusions_is_computed_once_on_the_cpu():
    assert _philox_fusions(_philox(0)) > 1  # XLA copies plain Philox into every reader
    assert _philox_fusions(as_run_key(_philox(0))) == 1


def test_other_platforms_get_the_plain_draws():
    """Lowered for a GPU or TPU (no device needed), a draw is JAX's unrolled Philox; on
    the CPU its rounds are a loop."""

    def draw(key):
        return jax.random.bits(key, (4,), jnp.uint32)

    key = as_run_key(jax.random.key(0))
    loops = {
        platform: jax.export.export(jax.jit(draw), platforms=[platform])(key)
        .mlir_module()
        .count("stablehlo.while")
        for platform in ("cpu", "cuda", "tpu")
    }
    assert loops == {"cpu": 1, "cuda": 0, "tpu": 0}


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's Philox is the loop")
def test_each_draw_compiles_to_one_small_loop_on_the_cpu():
    """JAX's Philox unrolls its ten rounds (two multiplies each, beside the two high
    multiplies) into the kernel of each draw site; here one loop body holds one round."""

    def multiplies_and_loops(key):
        draw = jax.jit(lambda k: jax.random.uniform(k, (8, 4)))
        text = draw.lower(key).compile().as_text()
        return text.count(" multiply("), text.count(" while(")

    multiplies, loops = multiplies_and_loops(_philox(0))
    assert multiplies >= 20 and loops == 0
    multiplies, loops = multiplies_and_loops(as_run_key(_philox(0)))
    assert multiplies <= 8 and loops == 1
