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
    state, transitions, done, q = collect_rollout(s, state.replace(key=key), rollout_key, hp)
    q_next = next_q_values(s, state.learner.params, transitions, done, q)
    targets = returns(transitions, done, q_next, hp)  # (num_steps, num_envs)
    batch = Batch(obs=transitions.obs, action=transitions.action, target=targets)
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)  # (steps * envs, ...)
    state, loss = epochs(s, state, learn_key, flat, hp)
    progress = state.progress.replace(iteration=state.progress.iteration + 1)
    return state.replace(progress=progress), (jnp.mean(loss), jnp.bool_(True))


def collect_rollout(
    s: Any, state: TrainState, key: jax.Array, hp: Any
) -> tuple[TrainState, Transition, jax.Array, jax.Array]:
    """`num_steps` epsilon-greedy steps of every env: the new state, the transitions
    (leaves (num_steps, num_envs, ...)), done (num_steps, num_envs) and the Q-values
    acted on (num_steps, num_envs, num_actions)."""
    c = s.config
    params = state.learner.params

    def one_step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        actor, step = carry
        actor, transitions, done, q = s.act(key, actor, params, acting.epsilon(c, step, hp))
        return (actor, step + c.num_envs), (transitions, done, q)

    carry = (state.actor, state.progress.env_step)
    (actor, env_step), (transitions, done, q) = jax.lax.scan(
        one_step, carry, jax.random.split(key, c.num_steps)
    )
    progress = state.progress.replace(env_step=env_step)
    return state.replace(actor=actor, progress=progress), transitions, done, q


def next_q_values(
    s: Any, params: Any, transitions: Transition, done: jax.Array, q: jax.Array
) -> jax.Array:
    """Q-values under `params` of the state each step led to, (num_steps, num_envs, A);
    `q` (the same shape) are those acting computed for each step's own observation.

    Acting already evaluated the same network (PQN takes no noisy layers, and the
    parameters do not change during a rollout) on the next step's observation, which is
    that state wherever the episode went on; after a termination its value goes unused
    (discount 0). Left to compute: the last step's `next_obs`, and the final observation
    of each step truncated at a time limit. Those run `num_envs` rows at a time, as many
    times as the truncations need (once at most where a rollout is shorter than the
    env's time limit, as in every preset), rather than over the whole rollout again."""
    num_steps, num_envs = done.shape
    last = s.agent.q_values(params, transitions.next_obs[-1])  # (num_envs, A)
    if num_steps == 1:
        return last[None]
    # the earlier steps, flat: rows (num_steps - 1) * num_envs
    obs = transitions.next_obs[:-1].reshape(-1, *transitions.next_obs.shape[2:])
    truncated = (done & ~transitions.terminated)[:-1].reshape(-1)
    rows = jnp.nonzero(truncated, size=truncated.size, fill_value=truncated.size)[0]
    count = jnp.sum(truncated)

    def chunk(carry: tuple) -> tuple:
        i, flat = carry
        chosen = jax.lax.dynamic_slice_in_dim(rows, i * num_envs, num_envs)  # past count: size
        values = s.agent.q_values(params, jnp.take(obs, chosen, axis=0, mode="clip"))
        return i + 1, flat.at[chosen].set(values, mode="drop")

    flat = q[1:].reshape(-1, q.shape[-1])
    _, flat = jax.lax.while_loop(lambda c: c[0] * num_envs < count, chunk, (0, flat))
    return jnp.concatenate([flat.reshape(num_steps - 1, num_envs, -1), last[None]])


def returns(transitions: Transition, done: jax.Array, q_next: jax.Array, hp: Any) -> jax.Array:
    """Q(lambda) returns (num_steps, num_envs) of a rollout, `q_next` (num_steps,
    num_envs, A) the Q-values of the state each step led to (`next_q_values`).

    Each step bootstraps from that state: at an episode's end gymnax's final observation
    (not the reset one). A termination cuts the bootstrap (discount 0); a time limit
    keeps it, with lambda 0 there so that the return never runs into the next episode."""
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
