"""Dueling, n-step, prioritized replay and learning-rate schedules inside the trainer:
config validation, the optimizer's schedule by hand, and probe environments whose
Q-values are known."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import purejaxdqn
from purejaxdqn.config import DQNConfig
from purejaxdqn.replay import sum_tree
from purejaxdqn.train.learning import make_optimizer
from tests.helpers import ProbeEnv, learned_q, probe_config, tiny_config

GAMMA = 0.5  # probe_config's
TOL = 0.06


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(n_step=0), "n_step"),
        (dict(n_step=2.5), "n_step"),
        (dict(n_step=True), "n_step"),
        (dict(dueling="yes"), "dueling"),
        (dict(prioritized_replay=1), "prioritized_replay"),
        (dict(priority_alpha=1.5), "priority_alpha"),
        (dict(priority_beta_start=-0.1), "priority_beta_start"),
        (dict(priority_epsilon=0.0), "priority_epsilon"),
        (dict(learning_rate_schedule="cosine"), "learning_rate_schedule"),
        (dict(learning_rate_end=-1e-4), "learning_rate_end"),
        (dict(learning_rate_end=1.0), "learning_rate_end"),
        (dict(torso="resnet"), "torso"),
        # 16 + (4 - 1) * 2 = 22 > 20: the first batch would see too few n-step transitions
        (dict(n_step=4, learning_starts=20, batch_size=16), "learning_starts"),
    ],
)
def test_bad_new_fields_name_the_field(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        tiny_config(**changes)


def test_new_fields_round_trip_and_default_off():
    c = DQNConfig()
    assert (c.dueling, c.n_step, c.prioritized_replay) == (False, 1, False)
    assert (c.learning_rate_schedule, c.torso) == ("constant", "auto")
    cfg = tiny_config(n_step=3, dueling=True, prioritized_replay=True, torso="mlp")
    assert DQNConfig.from_json(cfg.to_json()) == cfg
    assert {"priority_alpha", "priority_beta_start", "learning_rate_end"} <= set(
        purejaxdqn.Hyperparams._fields
    )


@pytest.mark.parametrize("end", [0.0, 2e-3])
def test_linear_schedule_decays_adam_steps_from_the_traced_rates(end):
    # A constant gradient of 1 makes each Adam step -lr_t (m_hat / sqrt(v_hat) = 1), so
    # the updates trace the schedule: lr -> end linearly over num_gradient_steps.
    cfg = tiny_config(learning_rate_schedule="linear", learning_rate=1e-2, learning_rate_end=end)
    n = cfg.num_gradient_steps

    def updates(hp, config=cfg):
        tx = make_optimizer(config, hp)
        params = jnp.zeros(())
        state = tx.init(params)

        def step(state, _):
            u, state = tx.update(jnp.ones(()), state, params)
            return state, u

        return jax.lax.scan(step, state, None, length=n + 2)[1]

    got = np.asarray(jax.jit(updates)(cfg.hyperparams()))
    k = np.minimum(np.arange(n + 2), n)
    np.testing.assert_allclose(-got, 1e-2 + (end - 1e-2) * k / n, rtol=1e-4, atol=1e-9)
    # The rate stays a traced value: vmapping two learning rates gives two schedules.
    both = jax.tree.map(
        lambda *x: jnp.stack(x), cfg.hyperparams(), cfg.replace(learning_rate=4e-2).hyperparams()
    )
    two = np.asarray(jax.jit(jax.vmap(updates))(both))
    np.testing.assert_allclose(-two[1, 0], 4e-2, rtol=1e-4)
    # XLA computes count / n as count * (1 / n): at the end, one float32 ulp of the
    # start rate can remain (2e-9 of 4e-2 for this config's n).
    np.testing.assert_allclose(-two[:, -1], [end, end], rtol=1e-4, atol=1e-8)
    constant = cfg.replace(learning_rate_schedule="constant")
    constant = np.asarray(jax.jit(lambda hp: updates(hp, constant))(constant.hyperparams()))
    np.testing.assert_allclose(-constant, 1e-2, rtol=1e-4)


def test_n_step_prioritized_dueling_bootstrap_from_the_final_observation():
    # The truncation probe of test_probe_envs with 2-step returns, prioritized replay and
    # a dueling head: start A -> B (reward 0), B -> B (reward 1), truncated after 2 steps.
    # Q(B) = 1 / (1 - gamma) = 2, Q(A) = gamma * 2 = 1. A 2-step transition from A sums
    # 0 + gamma * 1 and bootstraps from the final observation B with gamma^2: cutting at the
    # time limit, or bootstrapping from the reset observation A, gives other values.
    env = ProbeEnv(
        next_position=[[1, 1], [1, 1]],
        reward=[[0, 0], [1, 1]],
        terminal=[[False, False], [False, False]],
        max_steps=2,
    )
    q, result = learned_q(env, n_step=2, prioritized_replay=True, dueling=True)
    np.testing.assert_allclose(q, [[1.0, 1.0], [2.0, 2.0]], atol=TOL)
    buf = result.state.buffer
    steps = np.asarray(buf.ring.storage.steps)
    assert set(np.unique(steps)) == {1, 2}  # from B the time limit cuts every sum at 1 step
    assert not np.asarray(buf.ring.storage.terminated).any()
    # Priorities follow the TD errors: large early (the max priority ** alpha rose above
    # the insertion value 1), near (0 + epsilon) ** alpha once the values are learned.
    leaves = np.asarray(sum_tree.leaves(buf.tree, probe_config().buffer_size))
    assert float(buf.max_priority) > 1.0
    assert np.all(leaves > 0) and np.all(leaves < 0.01)
    np.testing.assert_allclose(float(sum_tree.total(buf.tree)), leaves.sum(), rtol=1e-4)


def test_n_step_returns_stop_at_termination():
    # 0 -> 1 (reward 0), 1 -> terminal (reward 1): Q(0) = gamma, Q(1) = 1. With 3-step
    # returns a sum running past the terminal step into the next episode would give
    # Q(0) = gamma + gamma^2 * 0 + ..., Q(1) > 1.
    env = ProbeEnv(
        next_position=[[1, 1], [1, 1]],
        reward=[[0, 0], [1, 1]],
        terminal=[[False, False], [True, True]],
        max_steps=5,
    )
    q, result = learned_q(env, n_step=3, double_q=True)
    np.testing.assert_allclose(q, [[GAMMA] * 2, [1.0] * 2], atol=TOL)
    steps = np.asarray(result.state.buffer.storage.steps)
    terminated = np.asarray(result.state.buffer.storage.terminated)
    np.testing.assert_array_equal(np.unique(steps), [1, 2])
    assert terminated.all()  # every 1- or 2-step sum ends at the terminal step


def test_default_config_keeps_the_one_step_uniform_program():
    # With every feature off, nothing of them is in the state: the buffer stores exactly
    # the one-step fields and there is no n-step window or sum tree.
    train = purejaxdqn.make_train(tiny_config())
    state = jax.eval_shape(train, jax.random.key(0)).state
    assert state.actor.window is None
    assert state.buffer.storage._fields[:5] == ("obs", "action", "reward", "next_obs", "terminated")
    assert state.buffer.storage.steps is None
    assert not hasattr(state.buffer, "tree")
    learner = state.learner
    assert len(jax.tree.leaves(learner.opt_state)) == len(
        jax.tree.leaves(
            optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)).init(learner.params)
        )
    )
