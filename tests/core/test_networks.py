"""Torsos, the Q-network composition, the torso check and observation scaling."""

import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.agents import make_agent
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.core.networks import (
    CONV_CHANNELS,
    Conv3x3,
    ConvTorso,
    MLPTorso,
    QNetwork,
    builtin_torso,
    check_torso,
    observation_scaling,
)


def q_network(num_actions, hidden, obs_shape, torso="auto", dueling=False, **scaling):
    return QNetwork(
        torso=builtin_torso(torso, hidden, "relu", obs_shape),
        head=ActionHead(num_actions, 1, dueling),
        obs_shape=tuple(obs_shape),
        **scaling,
    )


@pytest.mark.parametrize(
    "batch_shape, obs_shape, torso",
    [((), (4,), "mlp"), ((5,), (4,), "mlp"), ((2, 3), (10, 10, 4), "conv"),
     ((5,), (10, 5), "auto")],
)  # fmt: skip
def test_q_values_keep_any_batch_shape(batch_shape, obs_shape, torso):
    net = q_network(3, (32, 16), obs_shape, torso=torso, dueling=True)
    obs = jnp.ones((*batch_shape, *obs_shape))
    params = net.init(jax.random.key(0), obs)
    assert net.apply(params, obs).shape == (*batch_shape, 3, 1)
    head = params["params"]["head"]
    assert head["value"]["kernel"].shape == (16, 1)
    assert head["advantage"]["kernel"].shape == (16, 3)


@pytest.mark.parametrize(
    "env_id, conv",
    [("CartPole-v1", False), ("Breakout-MinAtar", True), ("Catch-bsuite", False),
     ("Pong-misc", True), ("FrozenLake-misc", False)],
)  # fmt: skip
def test_auto_torso_is_conv_exactly_for_image_observations(env_id, conv):
    env, env_params = gymnax.make(env_id)
    shape = env.observation_space(env_params).shape
    torso = builtin_torso("auto", (16,), "relu", shape)
    assert isinstance(torso, ConvTorso if conv else MLPTorso)
    obs, _ = env.reset(jax.random.key(0), env_params)
    obs = jnp.stack([obs, obs])
    params = torso.init(jax.random.key(0), obs)["params"]
    assert torso.apply({"params": params}, obs).shape == (2, 16)
    if conv:
        assert params["Conv_0"]["kernel"].shape == (3, 3, shape[-1], CONV_CHANNELS)
    else:
        assert params["Dense_0"]["kernel"].shape[0] == int(np.prod(shape))  # flattened


class _LaxConvTorso(nn.Module):
    """ConvTorso as it was written with flax's nn.Conv: the reference Conv3x3 replaces."""

    @nn.compact
    def __call__(self, obs):
        x = nn.relu(nn.Conv(CONV_CHANNELS, (3, 3), padding="SAME")(obs))
        return MLPTorso((32,))(x.reshape(x.shape[0], -1))


@pytest.mark.parametrize("image", [(10, 10, 4), (7, 5, 3)])
def test_patch_conv_torso_equals_the_nn_conv_torso(image):
    """Same parameter tree and initial values for a key (checkpoints and exports of the
    nn.Conv torso load unchanged), same outputs and gradients, jitted and not."""
    obs = jax.random.uniform(jax.random.key(1), (6, *image))
    ours, ref = ConvTorso((32,)), _LaxConvTorso()
    params = ours.init(jax.random.key(0), obs)
    ref_params = ref.init(jax.random.key(0), obs)
    jax.tree.map(np.testing.assert_array_equal, params, ref_params)
    params = jax.tree.map(  # nonzero biases too, so that they are checked
        lambda x: x + 0.1 * jax.random.normal(jax.random.key(x.size), x.shape), params
    )

    def loss(net, p):
        return jnp.mean(net.apply(p, obs) ** 2)

    for wrap in (lambda f: f, jax.jit):
        np.testing.assert_allclose(
            wrap(ours.apply)(params, obs), wrap(ref.apply)(params, obs), rtol=1e-5, atol=1e-5
        )
        grads = wrap(jax.grad(lambda p: loss(ours, p)))(params)
        ref_grads = wrap(jax.grad(lambda p: loss(ref, p)))(params)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grads, ref_grads
        )


def test_conv3x3_is_flax_conv():
    """The matmul of patches computes nn.Conv's SAME 3x3 convolution."""
    x = jax.random.uniform(jax.random.key(3), (2, 6, 5, 3))
    conv = Conv3x3(4)
    params = conv.init(jax.random.key(0), x)
    params = jax.tree.map(lambda a: a + jax.random.normal(jax.random.key(1), a.shape), params)
    ref = nn.Conv(4, (3, 3), padding="SAME").apply(params, x)
    np.testing.assert_allclose(conv.apply(params, x), ref, rtol=1e-5, atol=1e-5)
    img = jnp.arange(2 * 3 * 3 * 1, dtype=jnp.float32).reshape(2, 3, 3, 1)
    p = {"params": {"kernel": jnp.ones((3, 3, 1, 2)), "bias": jnp.array([0.0, 1.0])}}
    # a 3x3 box sum with zero padding: the centre sees all 9 pixels, a corner 4 (+ bias 1)
    out = Conv3x3(2).apply(p, img)
    assert out[0, 1, 1, 0] == 36 and out[0, 0, 0, 1] == 0 + 1 + 3 + 4 + 1


def test_conv_torso_off_the_cpu_is_the_nn_conv_torso_exactly(monkeypatch):
    """Other backends keep flax's nn.Conv: the earlier torso, bit for bit."""
    obs = jax.random.uniform(jax.random.key(1), (6, 10, 10, 4))
    params = _LaxConvTorso().init(jax.random.key(0), obs)
    ref = _LaxConvTorso().apply(params, obs)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    np.testing.assert_array_equal(ConvTorso((32,)).apply(params, obs), ref)


def test_mlp_torso_flattens_images_and_conv_needs_images():
    torso = builtin_torso("mlp", (16,), "relu", (10, 10, 4))
    params = torso.init(jax.random.key(0), jnp.ones((10, 10, 4)))["params"]
    assert params["Dense_0"]["kernel"].shape == (400, 16)
    with pytest.raises(ValueError, match="^torso: conv needs image-like"):
        builtin_torso("conv", (16,), "relu", (4,))


def test_builtin_torsos_are_initialised_by_flax_with_keras_dense_defaults():
    """Glorot-uniform Dense kernels and zero biases (the notebook's Keras defaults)."""
    torso = MLPTorso((64, 64))
    params = torso.init(jax.random.key(0), jnp.zeros((2, 4)))["params"]
    for layer in params.values():
        np.testing.assert_array_equal(layer["bias"], 0.0)
        kernel = np.asarray(layer["kernel"])
        limit = np.sqrt(6.0 / sum(kernel.shape))
        assert np.abs(kernel).max() <= limit and kernel.std() > 0.8 * limit / np.sqrt(3)


class LayerNormMLP(nn.Module):
    width: int = 32

    @nn.compact
    def __call__(self, x):
        return nn.relu(nn.LayerNorm()(nn.Dense(self.width)(x)))


class WithBatchNorm(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.BatchNorm(use_running_average=False)(nn.Dense(8)(x))


class Flat(nn.Module):
    @nn.compact
    def __call__(self, x):
        return jnp.sum(nn.Dense(8)(x))


def test_check_torso_gives_the_feature_width_or_a_one_line_error():
    assert check_torso(LayerNormMLP(24), (4,)) == 24
    assert check_torso(ConvTorso((16,)), (10, 10, 4)) == 16
    for torso, message in (
        (WithBatchNorm(), r"^network: WithBatchNorm declares variables in \['batch_stats'\]"),
        (Flat(), r"^network: Flat maps observations \(2, \*obs_shape\) to \(\); a torso"),
        (lambda x: x, "^network: expected a flax.linen.Module torso, got function"),
    ):
        with pytest.raises(ValueError, match=message) as error:
            check_torso(torso, (4,))
        assert "\n" not in str(error.value)


def test_a_custom_torso_carries_its_own_parameters_under_the_head():
    config = purejaxdqn.presets.cartpole()
    env, env_params = gymnax.make("CartPole-v1")
    agent = make_agent(config, env, env_params, torso=LayerNormMLP(24))
    params = agent.network.init(jax.random.key(0), jnp.zeros((3, 4)))["params"]
    assert set(params) == {"torso", "head"}
    assert set(params["torso"]) == {"Dense_0", "LayerNorm_0"}
    assert params["head"]["Dense_0"]["kernel"].shape == (24, 2)
    assert agent.q_values({"params": params}, jnp.zeros((3, 4))).shape == (3, 2)


def test_observation_scaling_maps_bounds_to_unit_range_and_skips_unbounded_dims():
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
    low, high = np.array([-1.2, -0.07]), np.array([0.6, 0.07])
    plain = q_network(3, (16,), (2,))
    scaled = q_network(3, (16,), (2,), **observation_scaling((2,), low, high))
    obs = jax.random.uniform(jax.random.key(0), (5, 2), minval=low, maxval=high)
    params = plain.init(jax.random.key(1), obs)
    assert jax.tree.structure(params) == jax.tree.structure(scaled.init(jax.random.key(1), obs))
    rescaled = (obs - jnp.array([-0.3, 0.0])) / jnp.array([0.9, 0.07])
    assert float(jnp.max(jnp.abs(rescaled))) <= 1.0 + 1e-6
    np.testing.assert_allclose(
        scaled.apply(params, obs), plain.apply(params, rescaled), rtol=1e-5, atol=1e-6
    )


def test_noisy_dense_means_shared_and_per_row_noise():
    from purejaxdqn.core.networks import NoisyDense, set_noise_scale

    layer = NoisyDense(3)
    x = jax.random.normal(jax.random.key(0), (5, 4))
    params = layer.init(jax.random.key(1), x)
    p = params["params"]
    assert np.all(np.abs(p["kernel"]) <= 0.5) and np.allclose(p["sigma_kernel"], 0.25)
    np.testing.assert_allclose(layer.apply(params, x), x @ p["kernel"] + p["bias"], rtol=1e-6)
    rngs = {"noise": jax.random.key(2)}
    shared = layer.apply(params, x, noise="shared", rngs=rngs)
    per_row = layer.apply(params, x, noise="per_row", rngs=rngs)
    assert not np.allclose(shared, layer.apply(params, x))
    # shared noise is one weight matrix for every row: the same row gives the same output
    same = layer.apply(params, jnp.stack([x[0], x[0]]), noise="shared", rngs=rngs)
    np.testing.assert_allclose(same[0], same[1])
    per_row_same = layer.apply(params, jnp.stack([x[0], x[0]]), noise="per_row", rngs=rngs)
    assert not np.allclose(per_row_same[0], per_row_same[1])
    assert per_row.shape == shared.shape == (5, 3)
    # sigma0 rescales every sigma to sigma0 / sqrt(fan_in), traced values too
    scaled = jax.jit(set_noise_scale)(params, jnp.float32(0.8))["params"]
    np.testing.assert_allclose(scaled["sigma_kernel"], 0.4)
    np.testing.assert_allclose(scaled["sigma_bias"], 0.4)
    np.testing.assert_array_equal(scaled["kernel"], p["kernel"])


def test_normalize_observations_reaches_every_q_network_of_a_run():
    """Training, the policy outside JAX and evaluation build the network in one place."""
    env, params = gymnax.make("MountainCar-v0")
    config = purejaxdqn.presets.mountaincar()
    assert config.normalize_observations
    assert make_agent(config, env, params).network.obs_scale is not None
    plain = config.replace(normalize_observations=False)
    assert make_agent(plain, env, params).network.obs_scale is None
