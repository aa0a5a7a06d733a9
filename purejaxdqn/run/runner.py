"""Runs a training in compiled chunks of eval periods: progress, checkpoints and resume
happen between chunks, never per step.

A chunked run is bit-for-bit the single `jax.vmap(train)(keys)` call
(tests/test_train.py): chunks only decide where control returns to Python, and the
state carried between them is complete, so a run resumed from a checkpoint ends exactly
as the uninterrupted one.

The runs (seeds x settings) are sharded over every device of every process
(purejaxdqn/sharding.py): the programs below are the same on one CPU and on a pod; only
the mesh differs. Host-side views (`host`, `finish`) are gathered and unpadded.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.config import DQNConfig
from purejaxdqn.run import sharding
from purejaxdqn.run.compilation_cache import (
    compile_programs,
    enable_compilation_cache,
    load_program,
)
from purejaxdqn.train.trainer import TrainResult, TrainState, make_trainer


class ChunkedRun:
    """`num_seeds` vmapped seeds of `config`, seeded from `jax.random.key(seed)`.

    With `settings` (a list of traced-field values, see sweep.py), every setting runs
    every seed, all in the same programs: runs are setting-major, and seed i of each
    setting has the same key.

    `program_cache=True`: the compiled programs are kept in the program cache
    (compilation_cache.py) and a later run of the same config and sizes loads them
    instead of tracing and compiling; it turns on the persistent cache (default
    directory) unless one is set. Ignored for a user's `env` instance.
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
        program_cache: bool = False,
    ):
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
        trainer = make_trainer(config, env, env_params)
        self._init = jax.jit(
            jax.vmap(trainer.init, in_axes=(0, hp_axis)),
            in_shardings=(runs, hp_sharding),
            out_shardings=runs,
        )
        # run(state, hp, stop_period, final_eval): one program makes the periods and, on
        # the last call, the final evaluation, which the finish program then only reads.
        self._run = jax.jit(
            jax.vmap(trainer.run, in_axes=(0, hp_axis, None, None)),
            in_shardings=(runs, hp_sharding, whole, whole),
            out_shardings=runs,
        )
        self._finish = jax.jit(
            jax.vmap(functools.partial(trainer.finish, evaluated=True), in_axes=(0, hp_axis)),
            in_shardings=(runs, hp_sharding),
            out_shardings=runs,
        )
        self._runs_sharding = runs
        self._identity: dict[str, Any] | None = None
        if program_cache and env is None:
            self._identity = {
                "config": config.to_dict(),
                "env_params": None if env_params is None else _json_tree(env_params),
                "settings": settings is not None,
                # the programs are partitioned over this mesh (--devices picks a subset)
                "mesh": [str(self.mesh.axis_names), [d.id for d in self._mesh_devices()]],
            }
            if not jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
                enable_compilation_cache()
        self._loaded: dict[str, Any] = {}  # programs loaded before compile() asked for them
        self._device_template_: Any = None
        self._uncounted_s = 0.0  # tracing or loading for the template, before compile()
        self._compiled: tuple | None = None
        self.programs_loaded = 0  # how many of the three the last compile() loaded

    @property
    def _device_template(self) -> Any:
        """The padded device state's types: the cached init program's outputs where the
        program cache has it (no tracing), else `jax.eval_shape` of the init."""
        if self._device_template_ is None:
            start = time.perf_counter()
            self._loaded = self._load_programs()
            init = self._loaded.get("init")
            if init is not None:
                types = init.out_info
            else:
                types = jax.eval_shape(self._init, *self._init_args())
            # Shapes and dtypes only (the compiled outputs' types: not weakly typed, like
            # the arrays the run program is called with), so both sources agree.
            self._device_template_ = jax.tree.map(
                lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), types
            )
            self._uncounted_s += time.perf_counter() - start  # compile() reports it
        return self._device_template_

    @property
    def template(self) -> Any:
        """The state as checkpoints and callers see it: num_runs rows, not padded."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((self.num_runs, *x.shape[1:]), x.dtype),
            self._device_template,
        )

    def compile(self) -> float:
        """Compiles (or loads, see `program_cache`) the three programs; returns the
        seconds it took, with the template's tracing or loading if `template` was read
        first (the `train` command reads it to plan memory).

        Turns on the persistent compilation cache (default directory) unless one is set.
        """
        if not jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
            enable_compilation_cache()
        start = time.perf_counter()
        earlier = self._uncounted_s  # the template's work done before this call
        template = self._device_template
        programs = {
            "init": (self._init, self._init_args()),
            "run": (self._run, (template, self.hp, 0, False)),
            "finish": (self._finish, (template, self.hp)),
        }
        compiled = {name: self._loaded.pop(name, None) for name in programs}
        self.programs_loaded = sum(program is not None for program in compiled.values())
        missing = [name for name, program in compiled.items() if program is None]
        # compiled together: each is lowered while XLA compiles the ones before it
        fresh = compile_programs(
            [(*programs[name], self._program_identity(name), self._init_args()) for name in missing]
        )
        compiled.update(zip(missing, fresh, strict=True))
        self._compiled = tuple(compiled.values())
        sharding.barrier("compiled")
        self._uncounted_s = 0.0
        return time.perf_counter() - start + earlier

    def _init_args(self) -> tuple:
        return (self.keys, self.hp)

    def _load_programs(self) -> dict[str, Any]:
        """The programs the program cache has, loaded in parallel (XLA deserializes
        outside the GIL). All three are keyed by the init's arguments: with the config
        they fix the types of the others' arguments (the state is the init's output)."""
        if self._identity is None:
            return {}
        names = ("init", "run", "finish")
        devices = self._mesh_devices()
        with ThreadPoolExecutor(len(names)) as pool:
            found = pool.map(
                lambda name: load_program(self._init_args(), self._program_identity(name), devices),
                names,
            )
            return {name: program for name, program in zip(names, found) if program is not None}

    def _mesh_devices(self) -> list:
        return list(self.mesh.devices.flat)

    def _program_identity(self, name: str) -> dict[str, Any] | None:
        return None if self._identity is None else {**self._identity, "program": name}

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
            state = run(state, self.hp, stop, False)
            if after_chunk is not None and not after_chunk(state):
                return state

    def finish(self, state: TrainState, keep_state: bool = True) -> TrainResult:
        """The final evaluation; the result as numpy arrays on the host, one row per run.

        `keep_state=False` copies only the state's `small_fields` to the host: the replay
        buffers (most of the memory: 2 GB for 1024 cartpole seeds) stay on the devices."""
        _, run, finish = self._programs()
        state = run(state, self.hp, 0, True)  # no more periods: the final evaluation
        result = finish(state, self.hp)
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
        """A host state (e.g. from a checkpoint, `num_runs` rows) placed on the devices."""
        padded = sharding.padded(self.num_runs, self.mesh)
        return sharding.to_global(sharding.pad_runs(state, padded), self._runs_sharding)

    def is_done(self, state: TrainState) -> bool:
        return self._progress(state)[1]

    def _progress(self, state: TrainState) -> tuple[int, bool]:
        """Periods done by the furthest run, and whether every run has finished or stopped
        (one gather of three small fields: a collective in a multi-process run)."""
        period, frozen, diverged = map(
            np.asarray, self.host((state.period, state.frozen, state.diverged))
        )
        finished = np.all((period >= self.config.num_periods) | frozen | diverged)
        return int(np.max(period)), bool(finished)

    def _programs(self) -> tuple:
        if self._compiled is None:
            self.compile()
        assert self._compiled is not None
        return self._compiled


def small_fields(state: TrainState) -> TrainState:
    """The state without the arrays that scale with the buffer or the network (None in
    their place): counters, flags, episode statistics and the metrics history."""
    return state.replace(
        params=None,
        target_params=None,
        opt_state=None,
        buffer=None,
        env_state=None,
        obs=None,
        n_step_window=None,
    )


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


def describe(state: TrainState) -> dict[str, str]:
    """Progress-bar fields: mean over seeds of the latest training return (last 100
    episodes) and greedy return, and how many seeds are frozen."""
    last = np.maximum(np.asarray(state.period) - 1, 0)
    rows = np.arange(len(last))
    train = np.asarray(state.history.episode_return_mean)[rows, last]
    evals = np.asarray(state.history.eval_return_mean)[rows, last]
    frozen = np.asarray(state.frozen)
    return {
        "return": f"{np.nanmean(train):.1f}",
        "greedy": f"{evals.mean():.1f}",
        "frozen": f"{frozen.sum()}/{len(frozen)}",
    }


def _json_tree(tree: Any) -> list:
    """A JSON-able description of a pytree's structure and values (env params)."""
    leaves, treedef = jax.tree.flatten(tree)
    return [str(treedef), [np.asarray(x).tolist() for x in leaves]]
