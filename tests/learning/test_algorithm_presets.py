"""Every algorithm's preset solves CartPole-v1: >= 7 of 8 seeds with a final greedy
return >= 475 on 100 fresh episodes (slow: run with `pytest -m slow`)."""

import jax
import numpy as np
import pytest

import purejaxdqn


@pytest.mark.slow
@pytest.mark.parametrize("name", ["c51", "qr-dqn", "m-dqn", "rainbow", "pqn"])
def test_the_preset_solves_cartpole(name):
    config = purejaxdqn.presets.get(name)
    keys = jax.random.split(jax.random.key(0), 8)
    result = jax.jit(jax.vmap(purejaxdqn.make_train(config)))(keys)
    final = np.asarray(result.final_eval_returns).mean(-1)
    assert (final >= 475).sum() >= 7, final
    assert not np.asarray(result.state.progress.diverged).any()
