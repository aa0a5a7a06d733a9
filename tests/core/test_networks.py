"""Q-network torsos and heads: shapes, the dueling identity, torso choice from the env."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.core.networks import CONV_CHANNELS, make_q_network


@pytest.mark.parametrize(
    "batch_shape, obs_shape, torso",
    [
        ((), (4,), "mlp"),
        ((5,), (4,), "mlp"),
        ((2, 3), (10, 10, 4), "conv"),
        ((5,), (10, 5), "auto"),
    ],
)
def test_dueling_head_shapes(batch_shape, obs_shape, torso):
    net = make_q_network(3, (32, 16), "relu", obs_shape, torso=torso, dueling=True)
    obs = jnp.ones((*batch_shape, *obs_shape))
    params = net.init(jax.random.key(0), obs)
    assert net.apply(params, obs).shape == (*batch_shape, 3)
    p = params["params"]
    assert p["value"]["kernel"].shape == (16, 1)
    assert p["advantage"]["kernel"].shape == (16, 3)


def test_dueling_q_is_value_plus_mean_free_advantage():
    net = make_q_network(4, (8,), "tanh", (3,), dueling=True)
    obs = jax.random.normal(jax.random.key(1), (6, 3))
    params = net.init(jax.random.key(2), obs)
    p = params["params"]
    h = jnp.tanh(obs @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    value = h @ p["value"]["kernel"] + p["value"]["bias"]  # (6, 1)
    adv = h @ p["advantage"]["kernel"] + p["advantage"]["bias"]  # (6, 4)
    q = np.asarray(net.apply(params, obs))
    np.testing.assert_allclose(q, value + adv - adv.mean(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q.mean(-1), value[:, 0], rtol=1e-5, atol=1e-6)


def test_plain_head_has_no_dueling_streams():
    net = make_q_network(2, (8,), "relu", (4,))
    params = net.init(jax.random.key(0), jnp.ones((4,)))["params"]
    assert set(params) == {"Dense_0", "Dense_1"}  # unchanged from before dueling existed


@pytest.mark.parametrize(
    "env_id, conv",
    [("CartPole-v1", False), ("Breakout-MinAtar", True), ("Catch-bsuite", False),
     ("Pong-misc", True), ("FrozenLake-misc", False)],
)  # fmt: skip
def test_auto_torso_is_conv_exactly_for_image_observations(env_id, conv):
    env, env_params = gymnax.make(env_id)
    shape = env.observation_space(env_params).shape
    net = make_q_network(3, (16,), "relu", shape, torso="auto")
    assert net.conv is conv
    obs, _ = env.reset(jax.random.key(0), env_params)
    params = net.init(jax.random.key(0), jnp.stack([obs, obs]))["params"]
    assert net.apply({"params": params}, jnp.stack([obs, obs])).shape == (2, 3)
    if conv:
        assert params["Conv_0"]["kernel"].shape == (3, 3, shape[-1], CONV_CHANNELS)
    else:
        assert "Conv_0" not in params
        assert params["Dense_0"]["kernel"].shape[0] == int(np.prod(shape))  # flattened


def test_mlp_torso_flattens_images_and_conv_needs_images():
    net = make_q_network(3, (16,), "relu", (10, 10, 4), torso="mlp")
    params = net.init(jax.random.key(0), jnp.ones((10, 10, 4)))["params"]
    assert params["Dense_0"]["kernel"].shape == (400, 16)
    with pytest.raises(ValueError, match="torso: conv needs image-like"):
        make_q_network(3, (16,), "relu", (4,), torso="conv")


def test_observation_scaling_maps_bounds_to_unit_range_and_skips_unbounded_dims():
    from purejaxdqn.core.networks import observation_scaling

    env, params = gymnax.make("MountainCar-v0")  # position [-1.2, 0.6], velocity +-0.07
    space = env.observation_space(params)
    s = observation_scaling(space.shape, space.low, space.high)
    np.testing.assert_allclose(s["obs_center"], [-0.3, 0.0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s["obs_scale"], [0.9, 0.07], rtol=1e-6)
    env, params = gymnax.make("CartPole-v1")  # velocities bounded by float32's max
    space = env.observation_space(params)
    s = observation_scaling(space.shape, space.low, space.high)
    assert s["obs_scale"][1] == 1.0 and s["obs_scale"][3] == 1.0
    assert s["obs_center"] == (0.0, 0.0, 0.0, 0.0)
    np.testing.assert_allclose([s["obs_scale"][0], s["obs_scale"][2]], [4.8, 0.41887903], 1e-6)
    s = observation_scaling((2,), -np.inf, 1.0)  # infinite bounds: untouched
    assert s == {"obs_center": (0.0, 0.0), "obs_scale": (1.0, 1.0)}


def test_normalized_network_is_the_plain_one_on_rescaled_observations():
    bounds = (np.array([-1.2, -0.07]), np.array([0.6, 0.07]))
    plain = make_q_network(3, (16,), "relu", (2,))
    scaled = make_q_network(3, (16,), "relu", (2,), obs_bounds=bounds)
    obs = jax.random.uniform(jax.random.key(0), (5, 2), minval=bounds[0], maxval=bounds[1])
    params = plain.init(jax.random.key(1), obs)
    assert jax.tree.structure(params) == jax.tree.structure(scaled.init(jax.random.key(1), obs))
    rescaled = (obs - jnp.array([-0.3, 0.0])) / jnp.array([0.9, 0.07])
    assert float(jnp.max(jnp.abs(rescaled))) <= 1.0 + 1e-6
    np.testing.assert_allclose(
        scaled.apply(params, obs), plain.apply(params, rescaled), rtol=1e-5, atol=1e-6
    )


def test_normalize_observations_reaches_every_q_network_of_a_run():
    """Training, the policy outside JAX and evaluation build the network in one place."""
    from purejaxdqn.train.trainer import q_network_for

    env, params = gymnax.make("MountainCar-v0")
    config = purejaxdqn.presets.mountaincar()
    assert config.normalize_observations
    assert q_network_for(config, env, params).obs_scale is not None
    plain = config.replace(normalize_observations=False)
    assert q_network_for(plain, env, params).obs_scale is None


@pytest.mark.parametrize(
    "obs_shape, hidden, dueling",
    [((4,), (64, 64), False), ((10, 10, 4), (16,), True)],
)
def test_init_params_matches_flax_structure_and_initializer_distributions(
    obs_shape, hidden, dueling
):
    """One draw for the whole network, cut per layer: flax's tree, shapes and dtypes;
    Glorot-uniform Dense kernels, truncated LeCun-normal conv kernel, zero biases."""
    from purejaxdqn.core.networks import init_params

    net = make_q_network(3, hidden, "relu", obs_shape, dueling=dueling)
    obs = jnp.zeros((2, *obs_shape))
    key = jax.random.key(0)
    reference = net.init(key, obs)
    params = init_params(net, key, obs)
    assert jax.tree.structure(params) == jax.tree.structure(reference)
    for ours, flax_leaf in zip(jax.tree.leaves(params), jax.tree.leaves(reference)):
        assert ours.shape == flax_leaf.shape and ours.dtype == flax_leaf.dtype
    seen = []
    for name, layer in params["params"].items():
        np.testing.assert_array_equal(layer["bias"], 0.0)
        kernel = np.asarray(layer["kernel"])
        fan_in, fan_out = int(np.prod(kernel.shape[:-1])), kernel.shape[-1]
        if kernel.ndim == 2:  # Glorot uniform: U(-limit, limit), std limit / sqrt(3)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(kernel).max() <= limit
            expected_std = limit / np.sqrt(3.0)
        else:  # conv: LeCun normal truncated at 2 stddev, std sqrt(1 / fan_in)
            assert name == "Conv_0"
            expected_std = np.sqrt(1.0 / fan_in)
            assert np.abs(kernel).max() <= 2 * expected_std / 0.87962566 + 1e-6
        if kernel.size >= 200:  # the std of a few hundred draws is within ~10%
            assert abs(kernel.std() / expected_std - 1) < 0.15, (name, kernel.std())
        assert abs(kernel.mean()) < 3 * expected_std / np.sqrt(kernel.size)
        seen.append(kernel.ravel()[:2])
    # Every layer has its own part of the draw (no two start with the same numbers).
    starts = {tuple(np.round(s, 7)) for s in seen}
    assert len(starts) == len(seen)
    np.testing.assert_array_equal(
        jax.tree.leaves(init_params(net, key, obs))[1], jax.tree.leaves(params)[1]
    )  # deterministic
    other = init_params(net, jax.random.key(1), obs)
    assert not np.array_equal(jax.tree.leaves(other)[1], jax.tree.leaves(params)[1])
