"""PQN's scan body: a rollout of every env, its Q(lambda) returns, epochs of minibatches.

No replay buffer and no target network (Gallici et al. 2024): each iteration acts
`num_steps` epsilon-greedy steps in each of the `num_envs` envs with the current network,
computes Q(lambda) returns over the rollout with that same network (`agents.pqn`), then
takes `num_epochs` passes over the rollout's transitions in `num_minibatches` shuffled
minibatches. The pieces are trainer.py's: `act`, `learn` (with its divergence guard) and
the `Setup` it builds; this module only orders them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from purejaxdqn.agents.pqn import Batch, q_lambda_returns
from purejaxdqn.replay.transition import Transition
from purejaxdqn.train import acting
from purejaxdqn.train.state import TrainState


def iteration(s: Any, state: TrainState, hp: Any) -> tuple[TrainState, tuple[Any, Any]]:
    """One rollout, its returns, then `num_epochs` x `num_minibatches` gradient steps.
    Returns the mean loss and True (every iteration learns: there is no warm-up)."""
    key, rollout_key, learn_key = jax.random.split(state.key, 3)
    state, transitions, done = collect_rollout(s, state.replace(key=key), rollout_key, hp)
    targets = returns(s, state.learner.params, transitions, done, hp)  # (num_steps, num_envs)
    batch = Batch(obs=transitions.obs, action=transitions.action, target=targets)
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)  # (steps * envs, ...)
    state, loss = epochs(s, state, learn_key, flat, hp)
    progress = state.progress.replace(iteration=state.progress.iteration + 1)
    return state.replace(progress=progress), (jnp.mean(loss), jnp.bool_(True))


def collect_rollout(
    s: Any, state: TrainState, key: jax.Array, hp: Any
) -> tuple[TrainState, Transition, jax.Array]:
    """`num_steps` epsilon-greedy steps of every env: the new state, the transitions
    (leaves (num_steps, num_envs, ...)) and done (num_steps, num_envs)."""
    c = s.config
    params = state.learner.params

    def one_step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        actor, step = carry
        actor, transitions, done = s.act(key, actor, params, acting.epsilon(c, step, hp))
        return (actor, step + c.num_envs), (transitions, done)

    carry = (state.actor, state.progress.env_step)
    (actor, env_step), (transitions, done) = jax.lax.scan(
        one_step, carry, jax.random.split(key, c.num_steps)
    )
    progress = state.progress.replace(env_step=env_step)
    return state.replace(actor=actor, progress=progress), transitions, done


def returns(s: Any, params: Any, transitions: Transition, done: jax.Array, hp: Any) -> jax.Array:
    """Q(lambda) returns (num_steps, num_envs) of a rollout under `params`.

    Each step bootstraps from the state it led to: `next_obs`, which at an episode's end
    is gymnax's final observation (not the reset one). A termination cuts the bootstrap
    (discount 0); a time limit keeps it, with lambda 0 there so that the return never
    runs into the next episode."""
    q_next = s.agent.q_values(params, transitions.next_obs)  # (num_steps, num_envs, A)
    reward = transitions.reward * hp.reward_scale
    discount = hp.gamma * (1.0 - transitions.terminated.astype(jnp.float32))
    lambda_t = hp.q_lambda * (1.0 - done.astype(jnp.float32))
    per_env = jax.vmap(q_lambda_returns, in_axes=1, out_axes=1)  # over the envs' axis
    return per_env(reward, discount, q_next, lambda_t)


def epochs(
    s: Any, state: TrainState, key: jax.Array, batch: Batch, hp: Any
) -> tuple[TrainState, jax.Array]:
    """`num_epochs` passes over `batch` (leaves (num_steps * num_envs, ...)), each in
    `num_minibatches` shuffled minibatches; a non-finite step marks the seed diverged.
    Returns the losses (num_epochs, num_minibatches)."""
    c = s.config
    size = batch.target.shape[0]
    env_step = state.progress.env_step

    def minibatch_step(carry: tuple, minibatch: Batch) -> tuple[tuple, jax.Array]:
        learner, diverged = carry
        weights = jnp.ones(minibatch.target.shape, jnp.float32)
        learner, out = s.learn(learner, minibatch, weights, hp, ~diverged, None)
        return (learner, diverged | ~out.finite), out.loss

    def epoch(carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
        order = jax.random.permutation(key, size)
        shuffled = jax.tree.map(
            lambda x: x[order].reshape(c.num_minibatches, -1, *x.shape[1:]), batch
        )
        return jax.lax.scan(minibatch_step, carry, shuffled)

    carry = (state.learner, state.progress.diverged)
    (learner, diverged), loss = jax.lax.scan(epoch, carry, jax.random.split(key, c.num_epochs))
    p = state.progress
    newly = diverged & ~p.diverged
    progress = p.replace(
        diverged=diverged, diverged_step=jnp.where(newly, env_step, p.diverged_step)
    )
    return state.replace(learner=learner, progress=progress), loss
