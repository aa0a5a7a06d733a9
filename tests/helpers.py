"""Shared test fixtures: small configs and probe environments with known Q-values."""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import struct  # noqa: E402
from gymnax.environments import environment, spaces  # noqa: E402

import purejaxdqn  # noqa: E402

# The same tiny CartPole run for the command line (`--set` flags of tiny_config's fields).
TINY_CLI_ARGS = [
    "--set", "total_timesteps=1400", "--set", "num_envs=2", "--set", "buffer_size=400",
    "--set", "batch_size=16", "--set", "learning_starts=200", "--set", "eval_frequency=400",
    "--set", "eval_episodes=4", "--set", "hidden_sizes=16", "--set", "target_update_frequency=40",
]  # fmt: skip


def leaves_equal(a, b) -> bool:
    """Every leaf of two pytrees bit for bit equal (typed PRNG keys by their key data)."""
    import numpy as np

    def raw(x):
        return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x

    return all(
        np.array_equal(np.asarray(raw(x)), np.asarray(raw(y)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def tiny_config(**changes) -> purejaxdqn.DQNConfig:
    """A CartPole config that compiles and runs in seconds (it does not learn much)."""
    base = dict(
        env_id="CartPole-v1",
        total_timesteps=1_400,
        num_envs=2,
        buffer_size=400,
        batch_size=16,
        learning_starts=200,
        train_frequency=4,
        gradient_steps=1,
        target_update_frequency=40,
        eval_frequency=400,
        eval_episodes=4,
        hidden_sizes=(16,),
        epsilon_decay_steps=500,
    )
    base.update(changes)
    return purejaxdqn.DQNConfig(**base)


@struct.dataclass
class ProbeState(environment.EnvState):
    position: jax.Array  # int32: which observation the agent sees
    time: int


@struct.dataclass
class ProbeParams(environment.EnvParams):
    max_steps_in_episode: int = 1


class ProbeEnv(environment.Environment):
    """A tiny deterministic MDP over one-hot observations, defined by tables.

    `next_position[p, a]`, `reward[p, a]`, `terminal[p, a]` give the transition from
    position p under action a; episodes start at position 0 and are truncated after
    `max_steps` steps.
    """

    def __init__(self, next_position, reward, terminal, max_steps):
        super().__init__()
        self.next_position = jnp.asarray(next_position, jnp.int32)
        self.reward_table = jnp.asarray(reward, jnp.float32)
        self.terminal = jnp.asarray(terminal, bool)
        self.max_steps = max_steps
        self.num_positions = self.next_position.shape[0]

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams(max_steps_in_episode=self.max_steps)

    def step_env(self, key, state, action, params):
        del key
        position = self.next_position[state.position, action]
        reward = self.reward_table[state.position, action]
        terminated = self.terminal[state.position, action]
        state = ProbeState(position=position, time=state.time + 1)
        return self.get_obs(state), state, reward, terminated, {}

    def reset_env(self, key, params):
        del key
        state = ProbeState(position=jnp.int32(0), time=0)
        return self.get_obs(state), state

    def get_obs(self, state, params=None, key=None):
        return jax.nn.one_hot(state.position, self.num_positions)

    @property
    def num_actions(self) -> int:
        return self.next_position.shape[1]

    def action_space(self, params=None):
        return spaces.Discrete(self.num_actions)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (self.num_positions,), jnp.float32)


def probe_config(**changes) -> purejaxdqn.DQNConfig:
    """Learns a probe's Q-values: exploring always, gamma 0.5, a small fast-learning MLP."""
    base = dict(
        total_timesteps=200 + 4_000,
        num_envs=4,
        buffer_size=1_000,
        batch_size=64,
        learning_starts=200,
        train_frequency=4,
        gradient_steps=2,
        target_update_frequency=40,
        tau=1.0,
        gamma=0.5,
        learning_rate=3e-3,
        epsilon_start=1.0,
        epsilon_end=1.0,
        hidden_sizes=(32,),
        eval_frequency=2_000,
        eval_episodes=2,
        double_q=False,
    )
    base.update(changes)
    return purejaxdqn.DQNConfig(**base)


def pqn_probe_config(**changes) -> purejaxdqn.DQNConfig:
    """PQN's counterpart of `probe_config`: rollouts of 4 envs x 8 steps, pure exploration."""
    base = dict(
        algorithm="pqn",
        total_timesteps=3 * 2048,
        num_envs=4,
        num_steps=8,
        num_epochs=2,
        num_minibatches=2,
        q_lambda=0.5,
        gamma=0.5,
        learning_rate=3e-3,
        epsilon_start=1.0,
        epsilon_end=1.0,
        hidden_sizes=(32,),
        eval_frequency=2048,
        eval_episodes=2,
    )
    base.update(changes)
    return purejaxdqn.DQNConfig(**base)


def learned_q(env, base=None, **changes):
    """Trains `base(**changes)` (default `probe_config`) on a probe env; its Q-values at
    every position (num_positions, num_actions), and the result."""
    import numpy as np

    from purejaxdqn.agents import make_agent

    cfg = (base or probe_config)(**changes)
    result = jax.jit(purejaxdqn.make_train(cfg, env=env))(jax.random.key(0))
    agent = make_agent(cfg, env, env.default_params)
    obs = np.eye(env.num_positions, dtype=np.float32)
    return np.asarray(agent.q_values(result.params, obs)), result


def cartpole_q_network(config):
    """The Q-network of a CartPole run with the config's MLP, built by hand here (not by
    `make_agent`), to check what the package builds."""
    from purejaxdqn.agents.heads import ActionHead
    from purejaxdqn.core.networks import MLPTorso, QNetwork

    torso = MLPTorso(tuple(config.hidden_sizes), config.activation)
    net = QNetwork(torso=torso, head=ActionHead(2, 1, config.dueling), obs_shape=(4,))

    class Q:  # the head's (..., 2, 1) outputs as Q-values (..., 2)
        @staticmethod
        def apply(params, obs):
            return net.apply(params, obs)[..., 0]

    return Q()


class LayerNormMLP(nn.Module):
    """A user-defined torso: Dense layers, each followed by LayerNorm and ReLU."""

    hidden_sizes: tuple[int, ...] = (64, 64)

    @nn.compact
    def __call__(self, obs):
        x = obs
        for width in self.hidden_sizes:
            x = nn.relu(nn.LayerNorm()(nn.Dense(width)(x)))
        return x


def cli_main(capsys, *args):
    """`purejaxdqn ARGS` in this process: (exit status, stdout, stderr). For the commands'
    error paths and reads, where a subprocess would only add an interpreter's start."""
    from purejaxdqn import cli

    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
