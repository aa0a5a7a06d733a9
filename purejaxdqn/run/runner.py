"""Runs a training in compiled chunks of eval periods: progress, checkpoints and resume
happen between chunks, never per step.

A chunked run is bit-for-bit the single `jax.vmap(train)(keys)` call
(tests/train/test_trainer.py): chunks only decide where control returns to Python, and
the state carried between them is complete, so a run resumed from a checkpoint ends
exactly as the uninterrupted one.

The runs (seeds x settings) are sharded over every device of every process
(run/sharding.py): the programs below are the same on one CPU and on a pod; only the mesh
differs. Host-side views (`host`, `finish`) are gathered and unpadded.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.config import DQNConfig
from purejaxdqn.core import prng
from purejaxdqn.run import sharding
from purejaxdqn.run.compilation_cache import enable_compilation_cache
from purejaxdqn.train import TrainResult, TrainState, make_trainer


class ChunkedRun:
    """`num_seeds` vmapped seeds of `config`, seeded from `jax.random.key(seed)`.

    With `settings` (a list of traced-field values, see run/sweep.py), every setting runs
    every seed, all in the same programs: runs are setting-major, and seed i of each
    setting has the same key. `network`: a flax torso module (see `make_train`).

    Compiling turns on JAX's persistent compilation cache (default directory) unless one
    is set, so a later run of the same programs skips XLA's compile.
    """

    def __init__(
        self,
        config: DQNConfig,
        num_seeds: int,
        seed: int = 0,
        chunks: int = 20,
        env: Any = None,
        env_params: Any = None,
        settings: list[dict[str, float]] | None = None,
        devices: list | None = None,
        program_cache: bool | None = None,
        network: nn.Module | None = None,
    ):
        if program_cache is not None:
            warnings.warn(
                "ChunkedRun(program_cache=...) is deprecated and ignored: JAX's persistent "
                "compilation cache (enable_compilation_cache) now does the job",
                DeprecationWarning,
                stacklevel=2,
            )
        if num_seeds < 1:
            raise ValueError(f"seeds: must be >= 1, got {num_seeds}")
        if chunks < 1:
            raise ValueError(f"chunks: must be >= 1, got {chunks}")
        self.config = config
        self.num_seeds = num_seeds
        self.settings = settings
        self.periods_per_chunk = max(1, math.ceil(config.num_periods / chunks))
        keys = jax.random.split(jax.random.key(seed), num_seeds)
        if settings is None:
            hp, hp_axis = config.hyperparams(), None
        else:
            from purejaxdqn.run.sweep import stacked_hyperparams

            keys = jnp.tile(keys, len(settings))
            hp, hp_axis = stacked_hyperparams(config, settings, num_seeds), 0
        self.num_runs = int(keys.shape[0])

        self.mesh = sharding.run_mesh(devices)
        padded = sharding.padded(self.num_runs, self.mesh)
        runs, whole = sharding.run_sharding(self.mesh), sharding.replicated(self.mesh)
        hp_sharding = whole if hp_axis is None else runs
        self.keys = sharding.to_global(sharding.pad_runs(keys, padded), runs)
        self.hp = sharding.to_global(
            hp if hp_axis is None else sharding.pad_runs(hp, padded), hp_sharding
        )
        trainer = make_trainer(config, env, env_params, network)
        self._init = jax.jit(
            jax.vmap(trainer.init, in_axes=(0, hp_axis)),
            in_shardings=(runs, hp_sharding),
            out_shardings=runs,
        )
        self._run = jax.jit(
            jax.vmap(trainer.run, in_axes=(0, hp_axis, None)),
            in_shardings=(runs, hp_sharding, whole),
            out_shardings=runs,
        )
        self._finish = jax.jit(
            jax.vmap(trainer.finish, in_axes=(0, hp_axis)),
            in_shardings=(runs, hp_sharding),
            out_shardings=runs,
        )
        self._runs_sharding = runs
        self._device_template: Any = None
        self._compiled: tuple | None = None

    @property
    def template(self) -> Any:
        """The state as checkpoints and callers see it (shapes and dtypes): num_runs rows,
        not padded."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((self.num_runs, *x.shape[1:]), x.dtype),
            self._padded_template(),
        )

    def _padded_template(self) -> Any:
        """The device state's shapes and dtypes (padded rows)."""
        if self._device_template is None:
            self._device_template = jax.eval_shape(self._init, self.keys, self.hp)
        return self._device_template

    def compile(self) -> float:
        """Compiles the three programs (init, run, finish); returns the seconds it took."""
        if not jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
            enable_compilation_cache()
        start = time.perf_counter()
        init = self._init.lower(self.keys, self.hp).compile()
        template = init.out_info
        run = self._run.lower(template, self.hp, 0).compile()
        finish = self._finish.lower(template, self.hp).compile()
        self._compiled = (init, run, finish)
        sharding.barrier("compiled")
        return time.perf_counter() - start

    def init(self) -> TrainState:
        """The initial state, on the devices (sharded and padded)."""
        return self._programs()[0](self.keys, self.hp)

    def run(
        self, state: TrainState, after_chunk: Callable[[TrainState], bool] | None = None
    ) -> TrainState:
        """Runs the remaining periods chunk by chunk; `after_chunk(state)` returning False stops."""
        run = self._programs()[1]
        while True:
            done, finished = self._progress(state)
            if finished:
                return state
            stop = min(
                (done // self.periods_per_chunk + 1) * self.periods_per_chunk,
                self.config.num_periods,
            )
            state = run(state, self.hp, stop)
            if after_chunk is not None and not after_chunk(state):
                return state

    def finish(self, state: TrainState, keep_state: bool = True) -> TrainResult:
        """The final evaluation; the result as numpy arrays on the host, one row per run.

        `keep_state=False` copies only the state's `small_fields` to the host: the replay
        buffers (most of the memory: 2 GB for 1024 cartpole seeds) stay on the devices."""
        result = self._programs()[2](state, self.hp)
        if not keep_state:
            result = result.replace(state=small_fields(result.state))
        return self.host(result)

    def progress(self, state: TrainState) -> TrainState:
        """`small_fields(state)` on the host: what progress bars and summaries read."""
        return self.host(small_fields(state))

    def host(self, tree: Any) -> Any:
        """A device-side state or result, gathered from every process and unpadded."""
        return sharding.unpad(sharding.to_host(tree), self.num_runs)

    def load(self, state: TrainState) -> TrainState:
        """A host state (`num_runs` rows) placed on the devices."""
        padded = sharding.padded(self.num_runs, self.mesh)
        return sharding.to_global(sharding.pad_runs(state, padded), self._runs_sharding)

    def saved_layout(self, saved_rows: int) -> dict[str, jax.ShapeDtypeStruct]:
        """Where a checkpoint's state leaves (`checkpoint.flat` of a state of `saved_rows`
        padded rows, saved on any mesh) are restored: sharded as this run's own state
        where the rows fit this mesh, else whole on every device (then re-padded by
        `from_saved`)."""
        fits = saved_rows == sharding.padded(self.num_runs, self.mesh)
        where = self._runs_sharding if fits else sharding.replicated(self.mesh)

        def spec(x):
            data = jax.eval_shape(jax.random.key_data, x) if prng.is_key(x) else x
            return jax.ShapeDtypeStruct((saved_rows, *data.shape[1:]), data.dtype, sharding=where)

        return {str(i): spec(x) for i, x in enumerate(jax.tree.leaves(self._padded_template()))}

    def from_saved(self, leaves: dict[str, jax.Array]) -> TrainState:
        """The state from leaves restored as `saved_layout` says: keys re-wrapped, and the
        rows cut to the real runs and padded again for this mesh where they came whole."""
        template_leaves, treedef = jax.tree.flatten(self._padded_template())
        impl = prng.impl(self.config.key_impl)  # every key of the state is the run's kind
        padded = sharding.padded(self.num_runs, self.mesh)

        def place(data):
            out = [
                jax.random.wrap_key_data(x, impl=impl) if prng.is_key(t) else x
                for x, t in zip(data, template_leaves)
            ]
            return sharding.pad_runs(sharding.unpad(out, self.num_runs), padded)

        data = [leaves[str(i)] for i in range(len(template_leaves))]
        placed = jax.jit(place, out_shardings=self._runs_sharding)(data)
        return jax.tree.unflatten(treedef, placed)

    def is_done(self, state: TrainState) -> bool:
        return self._progress(state)[1]

    def _progress(self, state: TrainState) -> tuple[int, bool]:
        """Periods done by the furthest run, and whether every run has finished or stopped
        (one gather of three small fields: a collective in a multi-process run)."""
        p = state.progress
        period, frozen, diverged = map(np.asarray, self.host((p.period, p.frozen, p.diverged)))
        finished = np.all((period >= self.config.num_periods) | frozen | diverged)
        return int(np.max(period)), bool(finished)

    def _programs(self) -> tuple:
        if self._compiled is None:
            self.compile()
        assert self._compiled is not None
        return self._compiled


def small_fields(state: TrainState) -> TrainState:
    """The state's progress (counters, flags, metrics history) and key, without the
    roles that scale with the buffer, the envs or the network (None in their place)."""
    return state.replace(learner=None, actor=None, buffer=None)


def progress_bar(config: DQNConfig, num_seeds: int, initial_steps: int = 0):
    from tqdm import tqdm

    total = num_seeds * config.num_periods * config.eval_frequency
    return tqdm(
        total=total,
        initial=initial_steps,
        unit="step",
        unit_scale=True,
        desc=f"{config.env_id} x{num_seeds}",
    )


def planned_steps(config: DQNConfig, state: TrainState) -> int:
    """Env steps the run will have taken in all when it ends: a frozen or diverged run
    stops where it is, the others go to the end (the progress bar's total)."""
    p = state.progress
    stopped = np.asarray(p.frozen) | np.asarray(p.diverged)
    whole = config.num_periods * config.eval_frequency
    return int(np.sum(np.where(stopped, np.asarray(p.env_step), whole)))


class PlainProgress:
    """Progress where stdout is not a terminal (a scheduler's log, nohup): one plain line
    after a chunk, at most every `every_s` seconds, instead of a bar's redraws."""

    def __init__(self, config: DQNConfig, every_s: float = 5.0):
        self.config, self.every_s = config, every_s
        self.last = -math.inf
        self.started = time.perf_counter()
        self.first_steps: int | None = None

    def update(self, state: TrainState, force: bool = False) -> None:
        now = time.perf_counter()
        steps = int(np.sum(np.asarray(state.progress.env_step)))
        if self.first_steps is None:
            self.first_steps = steps
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        rate = (steps - self.first_steps) / max(now - self.started, 1e-9)
        fields = describe(state)
        diverged = int(np.sum(np.asarray(state.progress.diverged)))
        print(
            f"progress: {steps:,}/{planned_steps(self.config, state):,} env steps, "
            f"{rate:,.0f} steps/s, greedy {fields['greedy']}, return {fields['return']}, "
            f"frozen {fields['frozen']}, diverged {diverged}",
            flush=True,
        )


def describe(state: TrainState) -> dict[str, str]:
    """Progress-bar fields: mean over seeds of the latest training return (last 100
    episodes) and greedy return, and how many seeds are frozen."""
    p = state.progress
    last = np.maximum(np.asarray(p.period) - 1, 0)
    rows = np.arange(len(last))
    train = np.asarray(p.history.episode_return_mean)[rows, last]
    evals = np.asarray(p.history.eval_return_mean)[rows, last]
    frozen = np.asarray(p.frozen)
    return {
        "return": f"{np.nanmean(train):.1f}",
        "greedy": f"{evals.mean():.1f}",
        "frozen": f"{frozen.sum()}/{len(frozen)}",
    }
