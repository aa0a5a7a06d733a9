"""`act` and `store`, each on its own: the epsilon-greedy env step and what reaches replay."""

import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.core import envs, episode_stats
from purejaxdqn.replay import n_step
from purejaxdqn.replay.transition import Transition
from purejaxdqn.replay.uniform import make_replay_buffer
from purejaxdqn.train.acting import epsilon, make_act, make_store
from purejaxdqn.train.state import ActorState
from tests.helpers import ProbeEnv, tiny_config

# Position 0 -> 1 -> 2 whatever the action, reward = the position left, truncated after
# 2 steps: every second step ends an episode at a time limit.
ENV = ProbeEnv(
    next_position=[[1, 1], [2, 2], [2, 2]],
    reward=[[0, 0], [1, 1], [2, 2]],
    terminal=[[False] * 2] * 3,
    max_steps=2,
)


def prefers_action_1(params, obs, key=None):  # (n, 3) -> (n, 2): the greedy action is 1
    del params, key
    return jnp.stack([jnp.zeros(obs.shape[0]), jnp.ones(obs.shape[0])], axis=-1)


def fresh_actor(num_envs):
    obs, state = envs.vmapped_reset(
        ENV, ENV.default_params, jax.random.split(jax.random.key(0), num_envs)
    )
    return ActorState(env_state=state, obs=obs, stats=episode_stats.init(num_envs))


def test_act_is_greedy_at_epsilon_zero_and_stores_the_final_observation_at_a_time_limit():
    act = jax.jit(make_act(ENV, ENV.default_params, prefers_action_1, jnp.uint8))
    actor = fresh_actor(3)
    actor, first, done, q = act(jax.random.key(1), actor, None, 0.0)
    np.testing.assert_array_equal(first.action, [1, 1, 1])
    np.testing.assert_array_equal(q, prefers_action_1(None, first.obs))  # what it acted on
    assert first.action.dtype == jnp.uint8
    np.testing.assert_array_equal(np.argmax(first.obs, -1), [0, 0, 0])
    np.testing.assert_array_equal(np.argmax(first.next_obs, -1), [1, 1, 1])
    assert not done.any()
    actor, second, done, _ = act(jax.random.key(2), actor, None, 0.0)
    assert done.all() and not second.terminated.any()  # truncated, not terminated
    # next_obs is where the step led (position 2), not the reset observation the actor
    # now holds (position 0)
    np.testing.assert_array_equal(np.argmax(second.next_obs, -1), [2, 2, 2])
    np.testing.assert_array_equal(np.argmax(actor.obs, -1), [0, 0, 0])
    np.testing.assert_array_equal(second.reward, [1.0, 1.0, 1.0])
    assert int(actor.stats.finished) == 3
    np.testing.assert_allclose(episode_stats.mean_recent_return(actor.stats), 1.0)


def test_act_explores_uniformly_at_epsilon_one():
    act = jax.jit(make_act(ENV, ENV.default_params, prefers_action_1, jnp.int32))
    _, transitions, _, _ = act(jax.random.key(3), fresh_actor(4000), None, 1.0)
    assert abs(float(np.mean(transitions.action)) - 0.5) < 0.03


def test_epsilon_is_one_in_the_warm_up_then_decays_linearly():
    cfg = tiny_config(epsilon_start=0.8, epsilon_end=0.1, epsilon_decay_steps=500)
    hp = cfg.hyperparams()
    start = cfg.learning_starts
    values = [float(epsilon(cfg, jnp.int32(s), hp)) for s in (0, start - 1, start, start + 250)]
    np.testing.assert_allclose(values, [1.0, 1.0, 0.8, 0.45], rtol=1e-6)
    np.testing.assert_allclose(float(epsilon(cfg, jnp.int32(start + 10_000), hp)), 0.1, rtol=1e-6)


def _step(value, num_envs=2):
    v = jnp.full((num_envs,), value, jnp.float32)
    return Transition(
        obs=jnp.stack([v, v], -1),
        action=jnp.zeros((num_envs,), jnp.uint8),
        reward=v,
        next_obs=jnp.stack([v + 1, v + 1], -1),
        terminated=jnp.zeros((num_envs,), bool),
    )


def test_store_adds_one_step_transitions_as_they_are():
    cfg = tiny_config()
    buffer = make_replay_buffer(8)
    store = jax.jit(make_store(cfg, buffer))
    state = buffer.init(jax.tree.map(lambda x: x[0], _step(0.0)))
    state, _ = store(state, fresh_actor(2), _step(3.0), jnp.zeros(2, bool), 0.9, jnp.int32(0))
    assert int(state.size) == 2
    np.testing.assert_array_equal(state.storage.reward[:2], [3.0, 3.0])


def test_store_with_n_step_adds_the_sum_that_started_n_minus_1_steps_ago():
    cfg = tiny_config(n_step=3)
    buffer = make_replay_buffer(8)
    store = jax.jit(make_store(cfg, buffer))
    example = jax.tree.map(lambda x: x[0], _step(0.0))._replace(steps=jnp.uint8(0))
    state = buffer.init(example)
    actor = fresh_actor(2).replace(window=n_step.init(_step(0.0), 3))
    for t in range(4):  # rewards 1, 2, 3, 4; no episode ends
        state, actor = store(
            state, actor, _step(t + 1.0), jnp.zeros(2, bool), 0.5, jnp.int32(2 * t)
        )
        assert int(state.size) == 2 * max(0, t - 1)  # the first 2 steps only fill the window
    # the sums that started at steps 0 and 1: 1 + .5 * 2 + .25 * 3 and 2 + .5 * 3 + .25 * 4
    np.testing.assert_allclose(state.storage.reward[:4], [2.75, 2.75, 4.5, 4.5])
    np.testing.assert_array_equal(state.storage.steps[:4], 3)
    np.testing.assert_array_equal(state.storage.next_obs[:4, 0], [4.0, 4.0, 5.0, 5.0])


def test_noisy_nets_draw_noise_per_env_when_acting_and_none_for_greedy_q_values():
    from purejaxdqn.agents import make_agent

    cfg = tiny_config(noisy=True)
    env, env_params = envs.make_env(cfg.env_id)
    agent = make_agent(cfg, env, env_params)
    obs = jnp.zeros((6, 4))  # six envs that see the same observation
    variables = agent.init(jax.random.key(0), obs, cfg.hyperparams())
    greedy = np.asarray(agent.q_values(variables, obs))
    np.testing.assert_allclose(greedy, np.broadcast_to(greedy[0], greedy.shape))
    noisy = np.asarray(agent.q_values(variables, obs, jax.random.key(1)))
    assert not np.allclose(noisy, noisy[0])  # each env its own draw
    np.testing.assert_array_equal(noisy, agent.q_values(variables, obs, jax.random.key(1)))
    # noisy_sigma0 (traced) sets the initial noise scale: 0 is the plain network
    quiet = agent.init(jax.random.key(0), obs, cfg.replace(noisy_sigma0=0.0).hyperparams())
    np.testing.assert_allclose(agent.q_values(quiet, obs, jax.random.key(1)), greedy, rtol=1e-6)
