"""JAX's persistent compilation cache: a second launch of the same run finds its programs
there; `ChunkedRun(program_cache=...)` is accepted, with a deprecation warning."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import tiny_config

ROOT = Path(__file__).resolve().parents[2]

# One launch: a tiny run of 2 seeds through ChunkedRun; prints how many of its compiles
# JAX's persistent cache answered (its own monitoring events) and what it computed.
_LAUNCH = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    import jax, numpy as np, purejaxdqn
    from tests.helpers import tiny_config
    from purejaxdqn.run.runner import ChunkedRun

    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None
    )
    purejaxdqn.enable_compilation_cache({cache!r})
    run = ChunkedRun(tiny_config(), num_seeds=2, seed=3, chunks=2)
    run.compile()
    result = run.finish(run.run(run.init()), keep_state=False)
    print(json.dumps({{
        "hits": len(hits),
        "final": np.asarray(result.final_eval_returns).tolist(),
        "params": [np.asarray(x).tolist() for x in jax.tree.leaves(result.params)],
    }}))
    """
)


def _launch(cache: Path) -> dict:
    code = _LAUNCH.format(root=str(ROOT), cache=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _launch_here(cache: Path) -> dict:
    """The launch above, in this process, with JAX's cache pointed at `cache` meanwhile."""
    import jax
    import numpy as np
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    import purejaxdqn

    before = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    purejaxdqn.enable_compilation_cache(cache)
    jax_cache.reset_cache()  # JAX decides once per process whether its cache is in use
    try:
        run = ChunkedRun(tiny_config(), num_seeds=2, seed=3, chunks=2)
        result = run.finish(run.run(run.init()), keep_state=False)
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
        jax_cache.reset_cache()
    return {
        "hits": 0,
        "final": np.asarray(result.final_eval_returns).tolist(),
        "params": [np.asarray(x).tolist() for x in jax.tree.leaves(result.params)],
    }


def test_a_second_launch_finds_every_program_in_jax_cache_and_computes_the_same(tmp_path):
    cache = tmp_path / "xla"
    first = _launch_here(cache)  # compiles and fills the cache
    assert any(cache.iterdir())
    second = _launch(cache)  # a fresh process: what a second `purejaxdqn train` sees
    assert second["hits"] >= 3  # init, run and finish
    assert {**second, "hits": 0} == first


def test_program_cache_is_accepted_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="JAX's persistent compilation cache"):
        run = ChunkedRun(tiny_config(), num_seeds=1, program_cache=True)
    assert run.num_runs == 1
