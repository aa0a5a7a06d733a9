"""Property-based tests (hypothesis): configs, the replay buffer and the losses."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purejaxdqn.agents import dqn
from purejaxdqn.config import ACTIVATIONS, LOSSES, DQNConfig
from purejaxdqn.core import losses
from purejaxdqn.replay.transition import Transition
from purejaxdqn.replay.uniform import make_replay_buffer

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def valid_configs(draw):
    num_envs = draw(st.integers(1, 8))
    train_frequency = num_envs * draw(st.integers(1, 4))
    batch_size = draw(st.integers(1, 256))
    learning_starts = num_envs * draw(st.integers(-(-batch_size // num_envs), 300))
    eval_frequency = train_frequency * draw(st.integers(1, 50))
    return DQNConfig(
        env_id=draw(st.sampled_from(["CartPole-v1", "Acrobot-v1", "MountainCar-v0"])),
        num_envs=num_envs,
        train_frequency=train_frequency,
        batch_size=batch_size,
        buffer_size=draw(st.integers(max(batch_size, num_envs), 100_000)),
        learning_starts=learning_starts,
        eval_frequency=eval_frequency,
        total_timesteps=learning_starts + eval_frequency * draw(st.integers(1, 30)),
        target_update_frequency=train_frequency * draw(st.integers(1, 100)),
        gradient_steps=draw(st.integers(1, 8)),
        tau=draw(st.floats(1e-4, 1.0)),
        gamma=draw(unit),
        learning_rate=draw(st.floats(1e-6, 1.0)),
        max_grad_norm=draw(st.one_of(st.none(), st.floats(1e-3, 1e3))),
        epsilon_start=draw(unit),
        epsilon_end=draw(unit),
        epsilon_decay_steps=draw(st.integers(0, 10**6)),
        hidden_sizes=tuple(draw(st.lists(st.integers(1, 512), min_size=1, max_size=4))),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        double_q=draw(st.booleans()),
        loss=draw(st.sampled_from(LOSSES)),
        eval_episodes=draw(st.integers(1, 200)),
        solve_threshold=draw(st.one_of(st.none(), st.floats(-500, 500))),
        freeze_when_solved=draw(st.booleans()),
    )


@SETTINGS
@given(valid_configs())
def test_every_valid_config_round_trips_through_json(cfg):
    assert DQNConfig.from_json(cfg.to_json()) == cfg
    assert cfg.num_periods >= 1


BAD_VALUES = {
    "total_timesteps": st.one_of(st.integers(-10, 0), st.just(1.5), st.just(True)),
    "num_envs": st.integers(-5, 0),
    "buffer_size": st.integers(-5, 0),
    "batch_size": st.one_of(st.integers(-5, 0), st.just("64")),
    "learning_starts": st.integers(-100, -1),
    "train_frequency": st.integers(-5, 0),
    "gradient_steps": st.integers(-5, 0),
    "target_update_frequency": st.integers(-5, 0),
    "eval_frequency": st.integers(-5, 0),
    "eval_episodes": st.integers(-5, 0),
    "epsilon_decay_steps": st.integers(-100, -1),
    "tau": st.one_of(st.floats(-1.0, 0.0), st.floats(1.0001, 10.0)),
    "gamma": st.one_of(st.floats(-5.0, -1e-6), st.floats(1.0001, 5.0), st.just("0.9")),
    "epsilon_start": st.one_of(st.floats(-5.0, -1e-6), st.floats(1.0001, 5.0)),
    "epsilon_end": st.one_of(st.floats(-5.0, -1e-6), st.floats(1.0001, 5.0)),
    "learning_rate": st.floats(-1.0, 0.0),
    "max_grad_norm": st.floats(-10.0, 0.0),
    "hidden_sizes": st.one_of(st.just(()), st.lists(st.integers(-3, 0), min_size=1, max_size=3)),
    "activation": st.text(min_size=1, max_size=8).filter(lambda a: a not in ACTIVATIONS),
    "loss": st.text(min_size=1, max_size=8).filter(lambda a: a not in LOSSES),
    "double_q": st.sampled_from([0, 1, "yes", None]),
    "freeze_when_solved": st.sampled_from([0, 1, "no"]),
    "env_id": st.text(max_size=12).filter(lambda e: "-" not in e),
    "solve_threshold": st.just("high"),
}


@SETTINGS
@given(valid_configs(), st.sampled_from(sorted(BAD_VALUES)), st.data())
def test_every_invalid_field_raises_naming_it(cfg, field, data):
    value = data.draw(BAD_VALUES[field])
    with pytest.raises(ValueError, match=rf"^{field}: "):
        dataclasses.replace(cfg, **{field: value})


@SETTINGS
@given(
    capacity=st.integers(1, 24),
    n=st.integers(1, 24),
    adds=st.integers(0, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_buffer_keeps_exactly_the_newest_and_samples_only_stored(capacity, n, adds, seed):
    n = min(n, capacity)
    buf = make_replay_buffer(capacity)
    example = Transition(jnp.zeros(2), jnp.int32(0), jnp.float32(0), jnp.zeros(2), jnp.bool_(False))
    state = buf.init(example)
    ids = np.arange(1, adds * n + 1)
    for chunk in ids.reshape(adds, n) if adds else []:
        v = jnp.asarray(chunk, jnp.float32)
        state = buf.add(
            state,
            Transition(
                jnp.stack([v, v], -1),
                v.astype(jnp.int32),
                v,
                jnp.stack([v, -v], -1),
                (chunk % 3 == 0),
            ),
        )
    kept = ids[-capacity:] if adds else ids
    size = int(state.size)
    assert size == len(kept)
    stored = (
        np.asarray(state.storage.action)[:size]
        if size < capacity
        else np.asarray(state.storage.action)
    )
    assert sorted(stored.tolist()) == sorted(kept.tolist())
    if size:
        import jax

        batch = buf.sample(jax.random.key(seed), state, 64)
        assert set(np.asarray(batch.action).tolist()) <= set(kept.tolist())
        np.testing.assert_array_equal(np.asarray(batch.reward), np.asarray(batch.action))
        np.testing.assert_array_equal(
            np.asarray(batch.terminated), np.asarray(batch.action) % 3 == 0
        )


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@SETTINGS
@given(st.integers(1, 16), st.integers(1, 6), st.data())
def test_losses_are_finite_with_the_right_shapes(batch, actions, data):
    def arr(shape, elements=finite):
        return jnp.asarray(
            np.array(
                data.draw(
                    st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
                ),
                np.float32,
            ).reshape(shape)
        )

    q_tm1, q_t, q_sel = arr((batch, actions)), arr((batch, actions)), arr((batch, actions))
    a = jnp.asarray(
        data.draw(st.lists(st.integers(0, actions - 1), min_size=batch, max_size=batch))
    )
    r = arr((batch,))
    disc = arr((batch,), st.floats(0, 1, width=32))
    for selector in (None, q_sel):
        td = dqn.batched_td_errors(q_tm1, a, r, disc, q_t, selector)
        assert td.shape == (batch,) and bool(jnp.all(jnp.isfinite(td)))
        for kind in LOSSES:
            value = losses.td_loss(td, kind)
            assert value.shape == () and bool(jnp.isfinite(value)) and float(value) >= 0
