"""`make_train(config) -> train(key)`: the whole DQN run as one compiled program.

Reading order, top to bottom in this file:

    train(key)
      init        flax init of the network, optimizer, empty replay, reset envs
      run         while_loop over eval periods, until every seed has stopped (frozen when
                  solved, or diverged) or the chunk's last period
        period    lax.scan over iterations, then a greedy evaluation and a metrics row
          iteration   the scan body:
            collect       `steps_per_iteration` steps of the envs: act, store
            learn_steps   `gradient_steps` gradient steps on batches from replay
            update_target every `target_update_frequency` env steps
      finish      the rows of skipped periods, a final greedy evaluation

The pieces come from acting.py (act, store), learning.py (learn, update_target), the
agent (network, loss: purejaxdqn.agents) and replay/. No `lax.cond` on a per-seed value
gates work: under `jax.vmap` it becomes a select that runs both branches.
Evaluation sits at period boundaries; the warm-up is the run's first iterations, acting
uniformly at random (epsilon 1) into the buffer, their updates computed and dropped by
the same select that guards against divergence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from purejaxdqn.agents import Agent, make_agent
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import envs, episode_stats, prng
from purejaxdqn.core.evaluation import make_evaluate
from purejaxdqn.replay import n_step
from purejaxdqn.replay.prioritized import (
    importance_weights,
    linear_beta,
    make_prioritized_replay_buffer,
)
from purejaxdqn.replay.transition import Transition
from purejaxdqn.replay.uniform import make_replay_buffer
from purejaxdqn.train import acting, learning, rollout
from purejaxdqn.train.state import (
    ActorState,
    LearnerState,
    PeriodMetrics,
    Progress,
    TrainResult,
    TrainState,
)


class Trainer(NamedTuple):
    """The pieces of `train`, for running a training in chunks (same result as one call)."""

    init: Any  # (key, hyperparams) -> TrainState (any key: see prng.as_run_key)
    run: Any  # (state, hyperparams, stop_period) -> TrainState
    finish: Any  # (state, hyperparams) -> TrainResult


class Setup(NamedTuple):
    """The static pieces of a run, built once by `make_trainer`."""

    config: DQNConfig
    env: Any
    env_params: Any
    torso: nn.Module | None  # the caller's torso, or None for the config's built-in one
    agent: Agent
    iteration: Callable  # the scan body: `iteration` here, or rollout.iteration (PQN)
    buffer: Any  # replay.uniform.ReplayBuffer, replay.prioritized.PrioritizedReplayBuffer, None
    optimizer: Callable[[Any], optax.GradientTransformation]  # hyperparams -> optax
    act: Callable  # acting.make_act
    store: Any  # acting.make_store (replay only; None for PQN)
    learn: Callable  # learning.make_learn
    evaluate: Callable  # (key, params) -> (eval_episodes,) greedy returns
    action_dtype: Any  # stored actions: one byte where they fit


def make_train(
    config: DQNConfig, env: Any = None, env_params: Any = None, network: nn.Module | None = None
):
    """Returns `train(key, hyperparams=None) -> TrainResult`, a pure, jittable function.

    `env`/`env_params`: any discrete-action gymnax `Environment` (default
    `gymnax.make(config.env_id)`). `network`: any flax module as the torso (obs batch
    `[..., *obs_shape]` -> features `[..., F]`, all variables in `params`; default the
    config's). `hyperparams` (a `Hyperparams`, default `config.hyperparams()`) carries
    the traced fields; pass it to change them without recompiling, or vmap over a batch.

        result = jax.jit(train)(jax.random.key(0))
        results = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 8))
    """
    trainer = make_trainer(config, env, env_params, network)

    def train(key: jax.Array, hyperparams: Any = None) -> TrainResult:
        hp = config.hyperparams() if hyperparams is None else hyperparams
        state = trainer.init(key, hp)
        state = trainer.run(state, hp, config.num_periods)
        return trainer.finish(state, hp)

    return train


def make_trainer(
    config: DQNConfig, env: Any = None, env_params: Any = None, network: nn.Module | None = None
) -> Trainer:
    """Builds the pure functions of a run (see `make_train` for the arguments)."""
    env, env_params = envs.resolve(config.env_id, env, env_params)
    agent = make_agent(config, env, env_params, network)
    buffer: Any = None  # PQN keeps none
    if config.replay:
        per = config.prioritized_replay
        make_buffer = make_prioritized_replay_buffer if per else make_replay_buffer
        buffer = make_buffer(config.buffer_size)
    action_dtype = jnp.uint8 if envs.num_discrete_actions(env, env_params) <= 256 else jnp.int32
    optimizer = functools.partial(learning.make_optimizer, config)
    setup = Setup(
        config=config,
        env=env,
        env_params=env_params,
        torso=network,
        agent=agent,
        iteration=iteration if config.replay else rollout.iteration,
        buffer=buffer,
        optimizer=optimizer,
        act=acting.make_act(env, env_params, agent.q_values, action_dtype),
        store=acting.make_store(config, buffer) if config.replay else None,
        learn=learning.make_learn(agent.loss, optimizer),
        evaluate=make_evaluate(env, env_params, agent.q_values, config.eval_episodes),
        action_dtype=action_dtype,
    )
    return Trainer(
        init=functools.partial(init, setup),
        run=functools.partial(run, setup),
        finish=functools.partial(finish, setup),
    )


def init(s: Setup, key: jax.Array, hp: Any) -> TrainState:
    """A fresh run: the network's initial parameters, empty replay (and a target network
    for the algorithms with replay), reset envs."""
    c = s.config
    key, net_key, reset_key = jax.random.split(prng.as_run_key(key, c.key_impl), 3)
    obs, env_state = envs.vmapped_reset(
        s.env, s.env_params, jax.random.split(reset_key, c.num_envs)
    )  # obs: (num_envs, *obs_shape)
    params = s.agent.init(net_key, obs, hp)
    one_step = Transition(
        obs=obs,
        action=jnp.zeros((c.num_envs,), s.action_dtype),
        reward=jnp.zeros((c.num_envs,), jnp.float32),
        next_obs=obs,
        terminated=jnp.zeros((c.num_envs,), bool),
    )
    example = jax.tree.map(lambda x: x[0], one_step)
    window = None
    if c.n_step > 1:
        window = n_step.init(one_step, c.n_step)
        example = example._replace(steps=jnp.uint8(0))
    history = jax.tree.map(lambda x: jnp.zeros((c.num_periods,), x.dtype), _empty_row())
    return TrainState(
        learner=LearnerState(
            params=params,
            target_params=params if c.replay else None,
            opt_state=s.optimizer(hp).init(params),
        ),
        actor=ActorState(
            env_state=env_state, obs=obs, stats=episode_stats.init(c.num_envs), window=window
        ),
        buffer=s.buffer.init(example) if c.replay else None,
        progress=Progress(
            env_step=jnp.int32(0),
            iteration=jnp.int32(0),
            period=jnp.int32(0),
            frozen=jnp.bool_(False),
            diverged=jnp.bool_(False),
            diverged_step=jnp.int32(-1),
            history=history,
        ),
        key=key,
    )


def run(s: Setup, state: TrainState, hp: Any, stop_period: jax.Array | int) -> TrainState:
    """Eval periods until `stop_period` (at most num_periods) or the seed stops (frozen
    or diverged)."""
    stop = jnp.minimum(jnp.int32(stop_period), s.config.num_periods)

    def going(state: TrainState) -> jax.Array:
        p = state.progress
        return (p.period < stop) & ~p.frozen & ~p.diverged

    return jax.lax.while_loop(going, lambda state: period(s, state, hp), state)


def finish(s: Setup, state: TrainState, hp: Any) -> TrainResult:
    """A final greedy evaluation of the parameters (its key as the next period would draw
    it); periods skipped after stopping repeat the last row."""
    del hp
    last = jnp.maximum(state.progress.period - 1, 0)
    rows = jnp.minimum(jnp.arange(s.config.num_periods), last)
    returns = s.evaluate(jax.random.split(state.key)[1], state.learner.params)
    return TrainResult(
        config=s.config,
        params=state.learner.params,
        metrics=jax.tree.map(lambda h: h[rows], state.progress.history),
        final_eval_returns=returns,
        state=state,
        network=s.torso,
    )


def period(s: Setup, state: TrainState, hp: Any) -> TrainState:
    """`iterations_per_period` iterations, then a greedy evaluation and a metrics row."""
    c = s.config
    state, (loss, learned) = jax.lax.scan(
        lambda state, _: s.iteration(s, state, hp), state, None, length=c.iterations_per_period
    )
    key, eval_key = jax.random.split(state.key)
    returns = s.evaluate(eval_key, state.learner.params)  # (eval_episodes,)
    threshold = c.resolved_solve_threshold
    frozen = jnp.bool_(False)
    if c.freeze_when_solved and threshold is not None:
        frozen = jnp.mean(returns) >= threshold
    p = state.progress
    row = PeriodMetrics(
        env_step=p.env_step,
        episode_return_mean=episode_stats.mean_recent_return(state.actor.stats),
        episodes=state.actor.stats.finished,
        loss=_masked_mean(loss, learned),
        epsilon=acting.epsilon(c, p.env_step, hp),
        eval_return_mean=jnp.mean(returns),
        eval_return_std=jnp.std(returns),
        frozen=frozen,
        diverged=p.diverged,
    )
    history = jax.tree.map(lambda h, x: h.at[p.period].set(x), p.history, row)
    progress = p.replace(period=p.period + 1, frozen=frozen, history=history)
    return state.replace(key=key, progress=progress)


def iteration(s: Setup, state: TrainState, hp: Any) -> tuple[TrainState, tuple[Any, Any]]:
    """The scan body of the algorithms with replay: act in the envs, learn from replay,
    maybe update the target.

    Iterations that start before `learning_starts` env steps are the warm-up: their
    updates are computed but not applied. Returns the mean loss and whether it learned.
    """
    key, act_key, learn_key = jax.random.split(state.key, 3)
    learning_now = state.progress.env_step >= s.config.learning_starts
    state = collect(s, state.replace(key=key), act_key, hp)
    state, loss = learn_steps(s, state, learn_key, hp, learning_now)
    count = state.progress.iteration + 1
    due = count % s.config.target_update_iterations == 0
    return state.replace(
        learner=learning.update_target(state.learner, hp.tau, due),
        progress=state.progress.replace(iteration=count),
    ), (jnp.mean(loss), learning_now)


def collect(s: Setup, state: TrainState, key: jax.Array, hp: Any) -> TrainState:
    """`steps_per_iteration` epsilon-greedy steps of the envs, each stored in replay.

    Like the notebook, the training-episode statistics start with learning: the episodes
    finished in the warm-up are forgotten when it ends."""
    c = s.config
    params = state.learner.params

    def one_step(carry: tuple, key: jax.Array) -> tuple[tuple, None]:
        actor, buffer, step = carry
        fresh = episode_stats.clear_window(actor.stats)
        stats = jax.tree.map(
            lambda a, b: jnp.where(step == c.warmup_steps, a, b), fresh, actor.stats
        )
        actor, transitions, done, _ = s.act(
            key, actor.replace(stats=stats), params, acting.epsilon(c, step, hp)
        )
        buffer, actor = s.store(buffer, actor, transitions, done, hp.gamma, step)
        return (actor, buffer, step + c.num_envs), None

    carry = (state.actor, state.buffer, state.progress.env_step)
    keys = jax.random.split(key, c.steps_per_iteration)
    (actor, buffer, env_step), _ = jax.lax.scan(one_step, carry, keys)
    progress = state.progress.replace(env_step=env_step)
    return state.replace(actor=actor, buffer=buffer, progress=progress)


def learn_steps(
    s: Setup, state: TrainState, key: jax.Array, hp: Any, learning_now: jax.Array
) -> tuple[TrainState, jax.Array]:
    """`gradient_steps` gradient steps, each on a fresh batch from replay; a non-finite
    one marks the seed diverged (`learning.make_learn`). Returns the losses
    (gradient_steps,)."""
    c = s.config
    env_step = state.progress.env_step

    def step(carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
        learner, buffer, diverged = carry
        sample_key, noise_key = jax.random.split(key)
        batch, weights, slots = sample(s, sample_key, buffer, env_step, hp)
        active = learning_now & ~diverged
        learner, out = s.learn(learner, batch, weights, hp, active, noise_key)
        if c.prioritized_replay:
            priorities = (out.errors + c.priority_epsilon) ** hp.priority_alpha
            buffer = s.buffer.update_priorities(buffer, slots, priorities, out.applied)
        return (learner, buffer, diverged | (learning_now & ~out.finite)), out.loss

    carry = (state.learner, state.buffer, state.progress.diverged)
    keys = jax.random.split(key, c.gradient_steps)
    (learner, buffer, diverged), loss = jax.lax.scan(step, carry, keys)
    p = state.progress
    newly = diverged & ~p.diverged
    progress = p.replace(
        diverged=diverged, diverged_step=jnp.where(newly, env_step, p.diverged_step)
    )
    return state.replace(learner=learner, buffer=buffer, progress=progress), loss


def sample(
    s: Setup, key: jax.Array, buffer: Any, env_step: jax.Array, hp: Any
) -> tuple[Transition, jax.Array, jax.Array | None]:
    """A batch from replay (leaves (batch_size, ...)), its importance weights
    (batch_size,) (ones for uniform replay) and, with prioritized replay, its slots."""
    c = s.config
    if not c.prioritized_replay:
        batch = s.buffer.sample(key, buffer, c.batch_size)
        return batch, jnp.ones((c.batch_size,), jnp.float32), None
    drawn = s.buffer.sample(key, buffer, c.batch_size)
    beta = linear_beta(env_step, hp.priority_beta_start, c.learning_starts, c.total_timesteps)
    weights = importance_weights(drawn.probabilities, buffer.ring.size, beta)
    return drawn.transitions, weights, drawn.indices


def _masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of x where mask holds; NaN where it never does (a period of warm-up only)."""
    count = jnp.sum(mask)
    return jnp.where(count > 0, jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(count, 1), jnp.nan)


def _empty_row() -> PeriodMetrics:
    return PeriodMetrics(
        env_step=jnp.int32(0),
        episode_return_mean=jnp.float32(0),
        episodes=jnp.int32(0),
        loss=jnp.float32(0),
        epsilon=jnp.float32(0),
        eval_return_mean=jnp.float32(0),
        eval_return_std=jnp.float32(0),
        frozen=jnp.bool_(False),
        diverged=jnp.bool_(False),
    )
