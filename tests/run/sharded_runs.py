"""Run by tests/test_sharding.py in a fresh process with 4 forced host devices.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/sharded_runs.py OUT.npz

Saves, for a tiny config and 6 seeds: the runner sharded over 4 devices (6 runs padded to 8),
over 1 device, and a plain `jit(vmap(train))` with its input sharded over the 4 devices;
and a 2 settings x 3 seeds sweep over 4 devices and over 1; PQN over 4 devices and over
1; each key impl's draws in a program partitioned over the 4 devices; and checkpoints
saved on N devices resumed on M (`ELASTIC`).
"""

import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

import purejaxdqn
from purejaxdqn.core import prng
from purejaxdqn.run import checkpoint, sharding
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import pqn_probe_config, tiny_config


def leaves(result) -> dict[str, np.ndarray]:
    flat = jax.tree_util.tree_flatten_with_path((result.params, result.metrics, result.state))[0]
    out = {}
    for path, x in flat:
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        out[jax.tree_util.keystr(path)] = np.asarray(x)
    out["final_eval_returns"] = np.asarray(result.final_eval_returns)
    return out


def key_impls_partition() -> dict[str, np.ndarray]:
    """Each key impl's draws in a program partitioned over the 4 devices, and unsharded."""
    spec = sharding.run_sharding(sharding.run_mesh())
    out = {}
    for name in prng.KEY_IMPLS:
        keys = prng.as_run_key(jax.random.split(jax.random.key(0), 8), name)
        draw = jax.vmap(lambda k: jax.random.uniform(jax.random.split(k)[1], (3,)))
        sharded = jax.jit(draw, in_shardings=spec, out_shardings=spec)(jax.device_put(keys, spec))
        assert len(sharded.sharding.device_set) == 4
        out[f"sharded|{name}"], out[f"plain|{name}"] = np.asarray(sharded), np.asarray(draw(keys))
    return out


ELASTIC = ((4, (4, 3, 2, 1)), (1, (2, 4)))  # saved on N devices, resumed on each M


def elastic(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Each ELASTIC case: the run of `main`'s "four" and "one" (6 seeds, 2 chunks)
    stopped after its first chunk and checkpointed on N devices, then restored and
    finished on each of the M devices."""
    cfg, devices, out = tiny_config(), jax.devices(), {}
    for saved_on, resumed_on in ELASTIC:
        first = ChunkedRun(cfg, 6, seed=3, chunks=2, devices=devices[:saved_on])
        stopped = first.run(first.init(), after_chunk=lambda state: False)
        padded = int(jax.tree.leaves(stopped)[0].shape[0])
        mgr = checkpoint.manager(folder / str(saved_on))
        checkpoint.save(mgr, 0, stopped, stopped.learner.params, {"padded_runs": padded})
        checkpoint.wait(mgr)
        meta = checkpoint.read_meta(mgr, 0)
        for m in resumed_on:
            again = ChunkedRun(cfg, 6, seed=3, chunks=2, devices=devices[:m])
            leaves_ = checkpoint.restore_state(mgr, 0, meta, again.saved_layout(padded))
            state = again.from_saved(leaves_)
            assert len(jax.tree.leaves(state)[0].sharding.device_set) == m
            out[f"elastic_{saved_on}_{m}"] = leaves(again.finish(again.run(state)))
        mgr.close()
    return out


def main(path: str) -> None:
    assert len(jax.devices()) == 4, jax.devices()
    cfg = tiny_config()
    runs = {}
    four = ChunkedRun(cfg, num_seeds=6, seed=3, chunks=2)
    assert four.keys.shape[0] == 8 and len(four.keys.sharding.device_set) == 4
    runs["four"] = leaves(four.finish(four.run(four.init())))
    one = ChunkedRun(cfg, num_seeds=6, seed=3, chunks=2, devices=jax.devices()[:1])
    runs["one"] = leaves(one.finish(one.run(one.init())))
    # the single call (no chunks) partitioned the same way: 8 seeds, 2 per device
    mesh = sharding.run_mesh()
    keys = jax.random.split(jax.random.key(3), 6)
    keys = sharding.pad_runs(keys, 8)
    train = jax.vmap(purejaxdqn.make_train(cfg))
    spec = sharding.run_sharding(mesh)
    single = jax.jit(train, in_shardings=spec, out_shardings=spec)(sharding.to_global(keys, spec))
    runs["single_call"] = leaves(sharding.unpad(jax.device_get(single), 6))
    # a sweep: 2 settings x 3 seeds, the traced hyperparameters sharded with the runs
    settings = [{"learning_rate": 1e-3, "gamma": 0.99}, {"learning_rate": 3e-3, "gamma": 0.9}]
    for name, devices in (("sweep_four", None), ("sweep_one", jax.devices()[:1])):
        sweep = ChunkedRun(cfg, num_seeds=3, seed=5, chunks=1, settings=settings, devices=devices)
        runs[name] = leaves(sweep.finish(sweep.run(sweep.init())))
    # PQN (no replay, no target network) over 4 devices and over 1
    pqn = pqn_probe_config(total_timesteps=2 * 512, eval_frequency=512)
    for name, devices in (("pqn_four", None), ("pqn_one", jax.devices()[:1])):
        run = ChunkedRun(pqn, num_seeds=6, seed=3, chunks=2, devices=devices)
        runs[name] = leaves(run.finish(run.run(run.init())))
    runs["key_impls"] = key_impls_partition()
    with tempfile.TemporaryDirectory() as folder:
        runs.update(elastic(Path(folder)))
    np.savez(path, **{f"{run}|{name}": x for run, data in runs.items() for name, x in data.items()})


if __name__ == "__main__":
    main(sys.argv[1])
