"""`learn` and `update_target`, each on its own: one guarded gradient step; Polyak or
hard target updates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from purejaxdqn.train.learning import make_learn, update_target
from purejaxdqn.train.state import LearnerState
from tests.helpers import tiny_config


def squared_distance(params, target_params, batch, hp, weights, key):
    """A loss whose gradient is known: mean of weights * (params - batch)^2."""
    del target_params, hp, key
    errors = params["w"] - batch
    return jnp.mean(weights * errors**2), jnp.abs(errors)


def learner(w=0.0):
    params = {"w": jnp.full((3,), w)}
    return LearnerState(params=params, target_params=params, opt_state=optax.sgd(0.1).init(params))


def test_learn_takes_a_finite_step_only_when_active():
    cfg = tiny_config()
    learn = jax.jit(make_learn(squared_distance, lambda hp: optax.sgd(hp.learning_rate)))
    hp = cfg.hyperparams()._replace(learning_rate=jnp.float32(0.5))
    batch, weights = jnp.array([1.0, 2.0, 3.0]), jnp.ones(3)
    stepped, out = learn(learner(), batch, weights, hp, jnp.bool_(True), None)
    # grad of mean((w - b)^2) is 2 (w - b) / 3; one SGD step of 0.5 from 0
    np.testing.assert_allclose(stepped.params["w"], [1 / 3, 2 / 3, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out.loss, 14 / 3, rtol=1e-6)
    np.testing.assert_allclose(out.errors, [1.0, 2.0, 3.0])
    assert bool(out.applied) and bool(out.finite)
    idle, out = learn(learner(), batch, weights, hp, jnp.bool_(False), None)
    np.testing.assert_array_equal(idle.params["w"], 0.0)
    assert not bool(out.applied) and bool(out.finite)


@pytest.mark.parametrize("bad", ["learning_rate", "batch"])
def test_a_non_finite_step_is_dropped_and_reported(bad):
    cfg = tiny_config()
    learn = jax.jit(make_learn(squared_distance, lambda hp: optax.sgd(hp.learning_rate)))
    hp = cfg.hyperparams()
    batch = jnp.array([1.0, 2.0, 3.0])
    if bad == "learning_rate":
        hp = hp._replace(learning_rate=jnp.float32(jnp.inf))
    else:
        batch = batch.at[1].set(jnp.nan)
    kept, out = learn(learner(0.25), batch, jnp.ones(3), hp, jnp.bool_(True), None)
    np.testing.assert_array_equal(kept.params["w"], 0.25)  # the last finite parameters
    assert not bool(out.finite) and not bool(out.applied)


def test_update_target_is_polyak_where_due_and_a_copy_at_tau_one():
    state = learner(0.0).replace(params={"w": jnp.full((3,), 4.0)})
    update = jax.jit(update_target)
    np.testing.assert_array_equal(update(state, 0.5, jnp.bool_(False)).target_params["w"], 0.0)
    np.testing.assert_allclose(update(state, 0.25, jnp.bool_(True)).target_params["w"], 1.0)
    np.testing.assert_array_equal(update(state, 1.0, jnp.bool_(True)).target_params["w"], 4.0)
