"""`make_train(config) -> train(key)`: the whole DQN run as one compiled program.

Reading order (the scan body is `_iteration`):

    train(key)
      init          network + optimizer + empty buffer + reset envs
      run           while_loop over eval periods (stops early once every seed has stopped:
                    frozen when solved, or diverged)
        _period     lax.scan over training iterations (in blocks that end with a target
                    update), then a greedy evaluation
          _iteration  `steps_per_iteration` env steps, then `gradient_steps` updates
      finish        fill the metrics of skipped periods, final greedy evaluation

No `lax.cond` gates work inside the scan: under `jax.vmap` it would run both
branches (../shared/PERFORMANCE_NOTES.md). Evaluation sits at period boundaries, target
updates end blocks of iterations (a `jnp.where` on the parameters where the blocks do not
divide a period), and the warm-up is the run's first iterations: uniformly random actions
(epsilon 1) into the buffer, their updates dropped by a `jnp.where`. It costs those few
updates (1% of the `cartpole` preset's), where a scan of its own would be a second copy
of env stepping and buffer writes for XLA to compile (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from purejaxdqn.config import DQNConfig, Hyperparams
from purejaxdqn.core import envs, episode_stats, exploration, losses, prng
from purejaxdqn.core.evaluation import make_evaluate
from purejaxdqn.core.networks import QNetwork, init_params, make_q_network, q_function
from purejaxdqn.replay import n_step
from purejaxdqn.replay.buffers import (
    BufferState,
    PrioritizedBufferState,
    Transition,
    importance_weights,
    linear_beta,
    make_prioritized_replay_buffer,
    make_replay_buffer,
)


class PeriodMetrics(NamedTuple):
    """Logged once per eval period; in a `TrainResult` each leaf has a leading (num_periods,)."""

    env_step: jax.Array  # int32: env steps this seed has taken (warm-up included)
    episode_return_mean: jax.Array  # float32: mean return of the last 100 training episodes
    episodes: jax.Array  # int32: training episodes finished since learning started
    loss: jax.Array  # float32: mean TD loss over the period's gradient steps (NaN: warm-up only)
    epsilon: jax.Array  # float32: exploration rate at the end of the period
    eval_return_mean: jax.Array  # float32: greedy return over eval_episodes fresh episodes
    eval_return_std: jax.Array  # float32
    frozen: jax.Array  # bool: learning stopped (solved, with freeze_when_solved)
    diverged: jax.Array  # bool: a loss or parameter became non-finite; learning stopped


@struct.dataclass
class TrainState:
    """Everything a run carries; a checkpoint of it resumes the run exactly."""

    params: Any
    target_params: Any
    opt_state: Any
    buffer: BufferState | PrioritizedBufferState
    env_state: Any  # leaves (num_envs, ...)
    obs: jax.Array  # (num_envs, *obs_shape)
    stats: episode_stats.EpisodeStats
    key: jax.Array
    env_step: jax.Array  # shape=(), int32
    iteration: jax.Array  # shape=(), int32: training iterations done
    period: jax.Array  # shape=(), int32: eval periods done
    frozen: jax.Array  # shape=(), bool: solved and frozen
    diverged: jax.Array  # shape=(), bool: an update went non-finite and was dropped
    diverged_step: jax.Array  # shape=(), int32: env step it happened at, -1 if never
    history: PeriodMetrics  # leaves (num_periods,)
    # (eval_episodes,) float32: the final evaluation once made (by `finish`, or by
    # `run(..., final_eval=True)`: the chunked runner's way); zeros before.
    final_eval_returns: jax.Array
    # n_step > 1: the last n one-step transitions of each env (n_step.Window); else None.
    n_step_window: Any = None

    if TYPE_CHECKING:  # flax adds `replace`; tell the type checker

        def replace(self, **changes: Any) -> TrainState: ...


@struct.dataclass
class TrainResult:
    """What `train(key)` returns. Under `jax.vmap` every array gains a leading seed axis."""

    config: DQNConfig = struct.field(pytree_node=False)
    params: Any
    metrics: PeriodMetrics  # leaves (num_periods,)
    final_eval_returns: jax.Array  # (eval_episodes,): greedy returns of the final params
    state: TrainState


class Trainer(NamedTuple):
    """The pieces of `train`, for running a training in chunks (same result as one call)."""

    init: Any  # (key, hyperparams) -> TrainState (any key: see prng.as_run_key)
    run: Any  # (state, hyperparams, stop_period, final_eval=False) -> TrainState
    finish: Any  # (state, hyperparams, evaluated=False) -> TrainResult


def make_trainer(config: DQNConfig, env: Any = None, env_params: Any = None) -> Trainer:
    """Builds the pure functions of a run; `make_train` composes them."""
    env, env_params = envs.resolve(config.env_id, env, env_params)
    num_actions = envs.num_discrete_actions(env, env_params)
    network = q_network_for(config, env, env_params)
    q_values = q_function(network)
    per = config.prioritized_replay
    buffer: Any = (
        make_prioritized_replay_buffer(config.buffer_size)
        if per
        else make_replay_buffer(config.buffer_size)
    )
    evaluate = make_evaluate(env, env_params, q_values, config.eval_episodes)
    threshold = config.resolved_solve_threshold
    # Stored actions take one byte where they fit (the buffer is most of the memory).
    action_dtype = jnp.uint8 if num_actions <= 256 else jnp.int32
    num_envs = config.num_envs

    def optimizer(hp: Hyperparams) -> optax.GradientTransformation:
        return make_optimizer(config, hp)

    def collect(
        state: TrainState, keys: jax.Array, action: jax.Array, gamma: jax.Array
    ) -> TrainState:
        """One vectorized env step (keys: (num_envs,), one per env): store the
        transitions, count the episodes.

        n_step > 1: the step enters the window and the n-step transition starting n - 1
        steps ago is stored (none while the window first fills, the run's first n - 1
        steps). Like the notebook, the training-episode statistics start with learning:
        the finished episodes of the warm-up are forgotten when it ends."""
        stats = jax.tree.map(
            lambda cleared, kept: jnp.where(
                state.env_step == config.learning_starts, cleared, kept
            ),
            episode_stats.clear_window(state.stats),
            state.stats,
        )
        obs, env_state, reward, terminated, truncated, info = envs.vmapped_step(
            env, env_params, keys, state.env_state, action
        )
        transition = Transition(
            obs=state.obs,
            action=action.astype(action_dtype),
            reward=reward.astype(jnp.float32),
            next_obs=info["final_observation"],  # not the auto-reset obs
            terminated=terminated,
        )
        window = state.n_step_window
        store: Any = True  # a traced bool with n-step returns
        if config.n_step > 1:
            window = n_step.push(window, transition, terminated | truncated)
            transition = n_step.oldest_n_step(window, gamma)
            store = state.env_step >= (config.n_step - 1) * num_envs
        return state.replace(
            obs=obs,
            env_state=env_state,
            buffer=buffer.add(state.buffer, transition, store),
            stats=episode_stats.update(stats, reward, terminated | truncated),
            env_step=state.env_step + num_envs,
            n_step_window=window,
        )

    def td_errors(params, target_params, batch: Transition, gamma) -> jax.Array:
        """(batch_size,) TD errors of a batch under the config's target."""
        if config.double_q:  # one forward pass for s_{t-1} and s_t
            q_both = q_values(params, jnp.concatenate([batch.obs, batch.next_obs]))
            q_tm1, q_t_online = jnp.split(q_both, 2)
        else:
            q_tm1, q_t_online = q_values(params, batch.obs), None
        q_t_target = q_values(target_params, batch.next_obs)
        if batch.steps is None:
            discount = losses.discount(batch.terminated, gamma)
        else:
            discount = losses.n_step_discount(batch.terminated, batch.steps, gamma)
        return losses.batched_td_errors(
            q_tm1, batch.action, batch.reward, discount, q_t_target, q_t_online
        )

    def loss_fn(params, target_params, batch: Transition, gamma) -> jax.Array:
        return losses.td_loss(td_errors(params, target_params, batch, gamma), config.loss)

    def weighted_loss_fn(params, target_params, batch: Transition, gamma, weights):
        """Prioritized replay: importance-weighted loss, and the TD errors as aux."""
        td = td_errors(params, target_params, batch, gamma)
        return losses.weighted_td_loss(td, weights, config.loss), td

    def init(key: jax.Array, hp: Hyperparams) -> TrainState:
        # One split for every key here: each random call site is a loop XLA compiles.
        keys = jax.random.split(prng.as_run_key(key, config.key_impl), 2 + num_envs)
        key, k_net = keys[0], keys[1]
        obs, env_state = envs.vmapped_reset(env, env_params, keys[2:])
        params = init_params(network, k_net, obs)
        example = Transition(
            obs=obs[0],
            action=jnp.zeros((), action_dtype),
            reward=jnp.float32(0),
            next_obs=obs[0],
            terminated=jnp.bool_(False),
            steps=jnp.uint8(0) if config.n_step > 1 else None,
        )
        window = None
        if config.n_step > 1:
            one_step = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_envs, *x.shape)), example)
            window = n_step.init(one_step._replace(steps=None), config.n_step)
        history = jax.tree.map(
            lambda x: jnp.zeros((config.num_periods,), x.dtype), _empty_metrics()
        )
        state = TrainState(
            params=params,
            target_params=params,
            opt_state=optimizer(hp).init(params),
            buffer=buffer.init(example),
            env_state=env_state,
            obs=obs,
            stats=episode_stats.init(num_envs),
            key=key,
            env_step=jnp.int32(0),
            iteration=jnp.int32(0),
            period=jnp.int32(0),
            frozen=jnp.bool_(False),
            diverged=jnp.bool_(False),
            diverged_step=jnp.int32(-1),
            history=history,
            final_eval_returns=jnp.zeros((config.eval_episodes,), jnp.float32),
            n_step_window=window,
        )

        return state

    def epsilon(state: TrainState, hp: Hyperparams) -> jax.Array:
        """1 (uniformly random actions) during the warm-up, then the linear decay."""
        decayed = exploration.linear_epsilon(
            (state.env_step - config.learning_starts).astype(jnp.float32),
            hp.epsilon_start,
            hp.epsilon_end,
            hp.epsilon_decay_steps,
        )
        return jnp.where(state.env_step < config.learning_starts, 1.0, decayed)

    def priority_beta(state: TrainState, hp: Hyperparams) -> jax.Array:
        return linear_beta(
            state.env_step, hp.priority_beta_start, config.learning_starts, config.total_timesteps
        )

    def _iteration(
        state: TrainState, hp: Hyperparams
    ) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
        """The scan body: act in the envs, then learn from replay, then maybe update targets.

        Iterations that start before `learning_starts` env steps are the warm-up: they
        act uniformly at random and their updates are computed but dropped (a select,
        which under `vmap` is what a `cond` would cost too). Returns the mean loss and
        whether the iteration learned."""
        tx = optimizer(hp)
        learning = state.env_step >= config.learning_starts
        finite_step = jnp.isfinite(hp.learning_rate)  # a non-finite rate: a non-finite step
        if config.learning_rate_schedule == "linear":
            finite_step &= jnp.isfinite(hp.learning_rate_end)

        def act(state: TrainState, keys: jax.Array) -> tuple[TrainState, None]:
            q = q_values(state.params, state.obs)  # (num_envs, num_actions)
            action = exploration.epsilon_greedy(keys[0], q, epsilon(state, hp))
            return collect(state, keys[1:], action, hp.gamma), None

        def learn(state: TrainState, key: jax.Array) -> tuple[TrainState, jax.Array]:
            if per:
                sample = buffer.sample(key, state.buffer, config.batch_size)
                weights = importance_weights(
                    sample.probabilities, state.buffer.size, priority_beta(state, hp)
                )  # (batch_size,)
                (loss, td), grads = jax.value_and_grad(weighted_loss_fn, has_aux=True)(
                    state.params, state.target_params, sample.transitions, hp.gamma, weights
                )
                priorities = (jnp.abs(td) + config.priority_epsilon) ** hp.priority_alpha
                # A non-finite TD error (divergence) must not poison the sum tree.
                prioritized: Any = state.buffer
                priorities = jnp.where(
                    jnp.isfinite(priorities), priorities, prioritized.max_priority
                )
                # The warm-up's dropped updates leave the priorities as they were.
                priorities = jnp.where(learning, priorities, prioritized.tree[-1][sample.indices])
                state = state.replace(
                    buffer=buffer.update_priorities(prioritized, sample.indices, priorities)
                )
            else:
                batch = buffer.sample(key, state.buffer, config.batch_size)  # (batch_size, ...)
                loss, grads = jax.value_and_grad(loss_fn)(
                    state.params, state.target_params, batch, hp.gamma
                )
            updates, opt_state = tx.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            # A non-finite update marks the seed diverged; that update and all later ones
            # are dropped, so its last finite parameters stay (and nothing else reads them:
            # seeds never share state). It is known before the update is applied: the
            # clipped Adam step is finite exactly when the loss, the gradients' norm and
            # the step size are (barring float32 overflow of the parameters), so the check
            # fuses into the update instead of a second pass over new parameters.
            finite = jnp.isfinite(loss) & jnp.isfinite(optax.global_norm(grads)) & finite_step
            apply = finite & ~state.diverged & learning
            params, opt_state = jax.tree.map(
                lambda new, old: jnp.where(apply, new, old),
                (params, opt_state),
                (state.params, state.opt_state),
            )
            newly = ~finite & ~state.diverged & learning
            return state.replace(
                params=params,
                opt_state=opt_state,
                diverged=state.diverged | newly,
                diverged_step=jnp.where(newly, state.env_step, state.diverged_step),
            ), loss

        # One split per iteration: every random call site is a loop that XLA compiles.
        # Per env step the actions' key and one per env, then one per gradient step.
        steps, grads = config.steps_per_iteration, config.gradient_steps
        per_step = 1 + num_envs
        keys = jax.random.split(state.key, 1 + steps * per_step + grads)
        key, act_keys = keys[0], keys[1 : 1 + steps * per_step]
        learn_keys = keys[1 + steps * per_step :]
        state, _ = jax.lax.scan(act, state, act_keys.reshape(steps, per_step))
        state, loss = jax.lax.scan(learn, state, learn_keys)
        state = state.replace(key=key, iteration=state.iteration + 1)
        if not aligned_targets:  # the update's position varies between periods
            target_params = jax.tree.map(
                lambda new, old: jnp.where(
                    state.iteration % config.target_update_iterations == 0, new, old
                ),
                update_target(state, hp),
                state.target_params,
            )
            state = state.replace(target_params=target_params)
        return state, (jnp.mean(loss), learning)

    def update_target(state: TrainState, hp: Hyperparams) -> Any:
        """Hard copy (tau = 1) or Polyak averaging of the online parameters."""
        return jax.tree.map(
            lambda online, target: hp.tau * online + (1.0 - hp.tau) * target,
            state.params,
            state.target_params,
        )

    # Target updates every `target_update_iterations`: where that divides a period, each
    # period is a scan over blocks that end with the update, and no iteration selects
    # (a select reads and writes every target parameter each iteration, ~4% of an
    # iteration at 4096 seeds on an H100). Otherwise each iteration selects.
    aligned_targets = (
        _BLOCKED_TARGET_UPDATES
        and config.iterations_per_period % config.target_update_iterations == 0
    )

    def _iterations(
        state: TrainState, hp: Hyperparams
    ) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
        """A period's iterations, their losses and whether each learned, each
        (iterations_per_period,)."""
        if not aligned_targets:
            return jax.lax.scan(
                lambda s, _: _iteration(s, hp), state, None, length=config.iterations_per_period
            )

        def block(state: TrainState, _) -> tuple[TrainState, tuple[jax.Array, jax.Array]]:
            state, out = jax.lax.scan(
                lambda s, _: _iteration(s, hp), state, None, length=config.target_update_iterations
            )
            return state.replace(target_params=update_target(state, hp)), out

        blocks = config.iterations_per_period // config.target_update_iterations
        state, out = jax.lax.scan(block, state, None, length=blocks)
        return state, jax.tree.map(lambda x: x.reshape(-1), out)

    def eval_keys(key: jax.Array) -> jax.Array:
        """(2 + eval_episodes,) keys from one split: the run's next key, the evaluation's
        loop key, one reset key per episode."""
        return jax.random.split(key, 2 + config.eval_episodes)

    def _period(state: TrainState, hp: Hyperparams) -> TrainState:
        """`iterations_per_period` iterations, then a greedy evaluation and a metrics row."""
        state, (loss, learned) = _iterations(state, hp)
        keys = eval_keys(state.key)
        returns = evaluate(keys[1:], state.params)  # (eval_episodes,)
        eval_mean = jnp.mean(returns)
        frozen = (
            jnp.bool_(config.freeze_when_solved) & (eval_mean >= threshold)
            if threshold is not None
            else jnp.bool_(False)
        )
        row = PeriodMetrics(
            env_step=state.env_step,
            episode_return_mean=episode_stats.mean_recent_return(state.stats),
            episodes=state.stats.finished,
            loss=_masked_mean(loss, learned),
            epsilon=epsilon(state, hp),
            eval_return_mean=eval_mean,
            eval_return_std=jnp.std(returns),
            frozen=frozen,
            diverged=state.diverged,
        )
        history = jax.tree.map(
            lambda h, x: jax.lax.dynamic_update_index_in_dim(h, x, state.period, axis=0),
            state.history,
            row,
        )
        return state.replace(key=keys[0], period=state.period + 1, frozen=frozen, history=history)

    def final_evaluation(state: TrainState) -> jax.Array:
        """Greedy returns of the state's parameters, (eval_episodes,); its keys as the
        next period would draw them (the last period moved the key on)."""
        return evaluate(eval_keys(state.key)[1:], state.params)

    def run(
        state: TrainState,
        hp: Hyperparams,
        stop_period: jax.Array | int,
        final_eval: jax.Array | bool = False,
    ) -> TrainState:
        """Runs eval periods until `stop_period` (at most num_periods) or the seed stops
        (frozen or diverged).

        `final_eval` (a bool, traced or not, never per seed): then also makes the final
        evaluation into `state.final_eval_returns`, for `finish(..., evaluated=True)`.
        The chunked runner passes it to its one compiled `run` (a `lax.cond` on an
        unbatched flag runs one branch), so that its `finish` program holds no copy of
        the evaluation for XLA to compile."""
        stop = jnp.minimum(jnp.int32(stop_period), config.num_periods)
        state = jax.lax.while_loop(
            lambda s: (s.period < stop) & ~s.frozen & ~s.diverged,
            lambda s: _period(s, hp),
            state,
        )
        if final_eval is False:
            return state
        if final_eval is True:
            return state.replace(final_eval_returns=final_evaluation(state))
        return jax.lax.cond(
            final_eval,
            lambda s: s.replace(final_eval_returns=final_evaluation(s)),
            lambda s: s,
            state,
        )

    def finish(state: TrainState, hp: Hyperparams, evaluated: bool = False) -> TrainResult:
        """Final greedy evaluation (or, `evaluated`, the one `run` made); periods skipped
        after freezing repeat the last row."""
        del hp
        last = jnp.maximum(state.period - 1, 0)
        rows = jnp.minimum(jnp.arange(config.num_periods), last)
        metrics = jax.tree.map(lambda h: h[rows], state.history)
        if not evaluated:
            state = state.replace(final_eval_returns=final_evaluation(state))
        return TrainResult(
            config=config,
            params=state.params,
            metrics=metrics,
            final_eval_returns=state.final_eval_returns,
            state=state,
        )

    return Trainer(init=init, run=run, finish=finish)


def make_optimizer(config: DQNConfig, hp: Hyperparams) -> optax.GradientTransformation:
    """Gradient clipping, then Adam at the config's learning-rate schedule.

    "linear" decays from hp.learning_rate to hp.learning_rate_end over the run's
    `num_gradient_steps` (optax.linear_schedule built from the traced values, so sweeps
    over learning_rate still share one program)."""
    learning_rate: Any = hp.learning_rate
    if config.learning_rate_schedule == "linear":
        learning_rate = optax.linear_schedule(
            hp.learning_rate, hp.learning_rate_end, config.num_gradient_steps
        )
    return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(learning_rate))


def q_network_for(config: DQNConfig, env: Any, env_params: Any) -> QNetwork:
    """The config's Q-network for this env's actions and observations (one place, so
    training, policies, evaluation and rendering always build the same network)."""
    space = env.observation_space(env_params)
    bounds = None
    if config.normalize_observations:
        bounds = (getattr(space, "low", -jnp.inf), getattr(space, "high", jnp.inf))
    return make_q_network(
        envs.num_discrete_actions(env, env_params),
        config.hidden_sizes,
        config.activation,
        space.shape,
        torso=config.torso,
        dueling=config.dueling,
        obs_bounds=bounds,
    )


def make_train(config: DQNConfig, env: Any = None, env_params: Any = None):
    """Returns `train(key, hyperparams=None) -> TrainResult`, a pure, jittable function.

    `env`/`env_params`: any discrete-action gymnax `Environment` (default
    `gymnax.make(config.env_id)`). `hyperparams` (a `Hyperparams`, default
    `config.hyperparams()`) carries the traced fields; pass it explicitly to change them
    without recompiling, or vmap over a batch of them.

        result = jax.jit(train)(jax.random.key(0))
        results = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 8))
    """
    trainer = make_trainer(config, env, env_params)

    def train(key: jax.Array, hyperparams: Hyperparams | None = None) -> TrainResult:
        hp = config.hyperparams() if hyperparams is None else hyperparams
        state = trainer.init(key, hp)
        state = trainer.run(state, hp, config.num_periods)
        return trainer.finish(state, hp)

    return train


# False: every iteration selects, as where blocks do not divide a period (tests check that
# both give the same bits).
_BLOCKED_TARGET_UPDATES = True


def _masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of x where mask holds; NaN where it never does (a period of warm-up only)."""
    count = jnp.sum(mask)
    return jnp.where(count > 0, jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(count, 1), jnp.nan)


def _empty_metrics() -> PeriodMetrics:
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
