"""C51, QR-DQN, M-DQN, noisy nets and PQN on probe environments with known values
(gamma 0.5, pure exploration), through the whole trainer; the one that only ever
truncates included."""

import numpy as np
import pytest

from tests.helpers import ProbeEnv, learned_q, pqn_probe_config

GAMMA = 0.5
TOL = 0.08

ONE_STEP = ProbeEnv(next_position=[[0, 0]], reward=[[-1, 1]], terminal=[[True, True]], max_steps=5)
TWO_STATES = ProbeEnv(
    next_position=[[1, 1], [1, 1]],
    reward=[[0, 0], [1, 1]],
    terminal=[[False, False], [True, True]],
    max_steps=5,
)
# Start A -> B (reward 0), B -> B (reward 1), truncated after 2 steps: only the time
# limit ends episodes. Q(B) = 1 / (1 - gamma) = 2, Q(A) = gamma * 2 = 1.
TRUNCATED = ProbeEnv(
    next_position=[[1, 1], [1, 1]],
    reward=[[0, 0], [1, 1]],
    terminal=[[False, False], [False, False]],
    max_steps=2,
)
EXPECTED = {
    "one_step": (ONE_STEP, [[-1.0, 1.0]]),
    "two_states": (TWO_STATES, [[GAMMA] * 2, [1.0] * 2]),
    "truncated": (TRUNCATED, [[1.0, 1.0], [2.0, 2.0]]),
}
# Support and quantiles wide enough for these values.
ALGORITHMS = {
    "c51": dict(algorithm="c51", v_min=-3.0, v_max=3.0, num_atoms=31),
    "c51-double-dueling": dict(algorithm="c51", v_min=-3.0, v_max=3.0, double_q=True, dueling=True),
    "qr-dqn": dict(algorithm="qr-dqn", num_quantiles=16),
    "noisy-dqn": dict(noisy=True),
    "noisy-c51-n-step-per": dict(
        algorithm="c51", v_min=-3.0, v_max=3.0, noisy=True, n_step=2, prioritized_replay=True
    ),
}


@pytest.mark.parametrize("probe", sorted(EXPECTED))
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_replay_algorithms_learn_the_probe_values(name, probe):
    env, expected = EXPECTED[probe]
    q, result = learned_q(env, **ALGORITHMS[name])
    np.testing.assert_allclose(q, expected, atol=TOL)
    assert not np.asarray(result.state.progress.diverged).any()


def munchausen_values(probe, alpha, tau):
    """The M-DQN fixed point of each probe. Where both actions are alike, pi is uniform:
    log pi = -log 2 (above the clip), the bonus -alpha tau log 2, and the soft value of a
    state is its Q + tau log 2. In the one-step probe the greedy action has log pi ~ 0
    and the other ~ -2 / tau, clipped to -1."""
    bonus, soft = -alpha * tau * np.log(2.0), tau * np.log(2.0)
    if probe == "one_step":
        return [[-1.0 - alpha * tau, 1.0]]
    if probe == "two_states":  # B ends with reward 1; A -> B
        q_b = 1.0 + bonus
    else:  # B -> B with reward 1 until the time limit, which bootstraps
        q_b = (1.0 + bonus + GAMMA * soft) / (1.0 - GAMMA)
    q_a = bonus + GAMMA * (q_b + soft)
    return [[q_a] * 2, [q_b] * 2]


@pytest.mark.parametrize("probe", sorted(EXPECTED))
def test_munchausen_learns_its_regularised_values(probe):
    env, _ = EXPECTED[probe]
    alpha, tau = 0.9, 0.3  # a temperature large enough to move the values past TOL
    changes = dict(munchausen_alpha=alpha, munchausen_temperature=tau, double_q=True)
    q, _ = learned_q(env, algorithm="m-dqn", **changes)  # double_q: its default, unused
    expected = munchausen_values(probe, alpha, tau)
    np.testing.assert_allclose(q, expected, atol=TOL)
    if probe != "one_step":  # the regularised values are not the plain ones
        assert np.max(np.abs(np.asarray(expected) - EXPECTED[probe][1])) > TOL


@pytest.mark.parametrize("probe", sorted(EXPECTED))
def test_pqn_learns_the_probe_values(probe):
    env, expected = EXPECTED[probe]
    q, result = learned_q(env, base=pqn_probe_config)
    np.testing.assert_allclose(q, expected, atol=TOL)
    assert result.state.buffer is None and result.state.learner.target_params is None
