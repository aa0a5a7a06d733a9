"""Probe environments whose exact Q-values are known (gamma = 0.5).

Each trains a small agent with pure exploration and compares the learned Q-values
with the closed-form ones. The truncation probes fail if a time limit is treated
as a terminal state, or if the bootstrap uses the auto-reset observation instead of
gymnax's `info["final_observation"]`.
"""

import numpy as np
import pytest

import purejaxdqn
from tests.helpers import ProbeEnv, learned_q

GAMMA = 0.5
TOL = 0.06


def test_one_step_terminal_reward():
    # One state, reward 1, terminates: Q = 1 for both actions.
    env = ProbeEnv(next_position=[[0, 0]], reward=[[1, 1]], terminal=[[True, True]], max_steps=5)
    q, _ = learned_q(env)
    np.testing.assert_allclose(q, [[1.0, 1.0]], atol=TOL)


def test_action_dependent_reward():
    env = ProbeEnv(next_position=[[0, 0]], reward=[[-1, 1]], terminal=[[True, True]], max_steps=5)
    q, result = learned_q(env)
    np.testing.assert_allclose(q, [[-1.0, 1.0]], atol=TOL)
    assert purejaxdqn.greedy_policy(result, env=env)(np.array([1.0], np.float32)) == 1
    np.testing.assert_allclose(np.asarray(result.final_eval_returns), 1.0)


def test_discounting_through_two_states():
    # 0 -> 1 with reward 0, then 1 -> terminal with reward 1: Q(0) = gamma, Q(1) = 1.
    env = ProbeEnv(
        next_position=[[1, 1], [1, 1]],
        reward=[[0, 0], [1, 1]],
        terminal=[[False, False], [True, True]],
        max_steps=5,
    )
    for double_q in (False, True):
        q, _ = learned_q(env, double_q=double_q)
        np.testing.assert_allclose(q, [[GAMMA] * 2, [1.0] * 2], atol=TOL)


def test_only_ever_truncated_bootstraps_through_the_time_limit():
    # One state, reward 1, never terminates, truncated after 3 steps.
    # Correct: Q = 1 / (1 - gamma) = 2. Treating truncation as terminal gives ~1.7.
    env = ProbeEnv(next_position=[[0, 0]], reward=[[1, 1]], terminal=[[False, False]], max_steps=3)
    q, result = learned_q(env)
    np.testing.assert_allclose(q, [[2.0, 2.0]], atol=TOL)
    # no transition was ever stored as terminal
    assert not np.asarray(result.state.buffer.storage.terminated).any()


def test_truncation_bootstraps_from_final_observation_not_reset():
    # Start A (position 0) -> B (position 1), reward 0; B -> B, reward 1; truncated after
    # 2 steps, so B's only transition is the truncated one, and the reset obs is A.
    # Correct: Q(B) = 1 / (1 - gamma) = 2, Q(A) = gamma * 2 = 1.
    # Bootstrapping from the reset obs would give Q(B) = 1 + gamma * Q(A) -> 4/3;
    # cutting the bootstrap at the time limit would give Q(B) = 1.
    env = ProbeEnv(
        next_position=[[1, 1], [1, 1]],
        reward=[[0, 0], [1, 1]],
        terminal=[[False, False], [False, False]],
        max_steps=2,
    )
    q, _ = learned_q(env)
    np.testing.assert_allclose(q, [[1.0, 1.0], [2.0, 2.0]], atol=TOL)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_losses_agree_on_the_fixed_point(loss):
    env = ProbeEnv(next_position=[[0, 0]], reward=[[-1, 1]], terminal=[[True, True]], max_steps=5)
    q, _ = learned_q(env, loss=loss, tau=0.5)
    np.testing.assert_allclose(q, [[-1.0, 1.0]], atol=TOL)
