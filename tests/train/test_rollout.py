"""PQN's bootstrap values: `next_q_values` reuses what acting computed and evaluates only
the final observations of truncated steps, yet equals the network on every `next_obs`."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.agents import make_agent
from purejaxdqn.core import envs
from purejaxdqn.replay.transition import Transition
from purejaxdqn.train.rollout import next_q_values
from tests.helpers import pqn_probe_config

STEPS, ENVS = 6, 3
ENV, ENV_PARAMS = envs.make_env("CartPole-v1")  # only for the agent's shapes: obs (4,)


class Setup:  # the part of the trainer's Setup that next_q_values reads (hashable: static)
    def __init__(self, agent):
        self.agent = agent


def agent_and_params():
    cfg = pqn_probe_config(hidden_sizes=(16,), layer_norm=True)
    agent = make_agent(cfg, ENV, ENV_PARAMS)
    return agent, agent.init(jax.random.key(0), jnp.zeros((1, 4)), cfg.hyperparams())


def rollout(seed, p_truncated, p_terminated=0.2):
    """A rollout as acting leaves it: observations o[0..STEPS], next_obs[t] = o[t + 1]
    where the episode goes on, else a final observation of its own; q[t] = Q(o[t])."""
    rng = np.random.default_rng(seed)
    o = rng.normal(size=(STEPS + 1, ENVS, 4)).astype(np.float32)
    final = rng.normal(size=(STEPS, ENVS, 4)).astype(np.float32)
    terminated = rng.random((STEPS, ENVS)) < p_terminated
    truncated = ~terminated & (rng.random((STEPS, ENVS)) < p_truncated)
    done = terminated | truncated
    next_obs = np.where(done[..., None], final, o[1:])
    transitions = Transition(
        obs=jnp.asarray(o[:-1]),
        action=jnp.zeros((STEPS, ENVS), jnp.int32),
        reward=jnp.zeros((STEPS, ENVS), jnp.float32),
        next_obs=jnp.asarray(next_obs),
        terminated=jnp.asarray(terminated),
    )
    return transitions, jnp.asarray(done), jnp.asarray(o[:-1])


class TestNextQValues(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_equals_the_network_on_next_obs_wherever_the_value_is_used(self):
        agent, params = agent_and_params()
        s = Setup(agent)
        # no truncation, a few (one chunk of ENVS rows), many (several chunks), all
        for seed, p in ((0, 0.0), (1, 0.15), (2, 0.7), (3, 1.0)):
            transitions, done, obs = rollout(seed, p, p_terminated=0.0 if p == 1.0 else 0.2)
            truncated = np.asarray(done & ~transitions.terminated)
            q = agent.q_values(params, obs)
            got = self.variant(next_q_values, static_argnums=0)(s, params, transitions, done, q)
            want = agent.q_values(params, transitions.next_obs)
            used = ~np.asarray(transitions.terminated)  # discount 0 leaves the rest unused
            np.testing.assert_allclose(np.asarray(got)[used], np.asarray(want)[used], atol=1e-5)
            if p >= 0.7:  # more truncations before the last step than one chunk holds
                assert truncated[:-1].sum() > ENVS

    def test_vmapped_over_seeds_with_different_truncation_counts(self):
        agent, params = agent_and_params()
        s = Setup(agent)
        parts = [rollout(seed, p) for seed, p in ((4, 0.0), (5, 0.8))]
        transitions, done, obs = jax.tree.map(lambda *x: jnp.stack(x), *parts)
        q = jax.vmap(agent.q_values, in_axes=(None, 0))(params, obs)
        batched = jax.vmap(next_q_values, in_axes=(None, None, 0, 0, 0))
        got = jax.jit(batched, static_argnums=0)(s, params, transitions, done, q)
        want = jax.vmap(agent.q_values, in_axes=(None, 0))(params, transitions.next_obs)
        used = ~np.asarray(transitions.terminated)
        np.testing.assert_allclose(np.asarray(got)[used], np.asarray(want)[used], atol=1e-5)

    def test_one_step_rollouts_bootstrap_from_next_obs(self):
        agent, params = agent_and_params()
        s = Setup(agent)
        transitions, done, obs = rollout(6, 0.5)
        one = jax.tree.map(lambda x: x[:1], transitions)
        got = next_q_values(s, params, one, done[:1], agent.q_values(params, obs[:1]))
        want = agent.q_values(params, one.next_obs)
        np.testing.assert_allclose(got, want, atol=1e-6)
