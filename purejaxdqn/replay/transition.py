"""`Transition`: what one env step stores, and what a replay batch holds."""

from __future__ import annotations

from typing import NamedTuple

import jax


class Transition(NamedTuple):
    """One transition, or a batch of them along leading axes.

    `next_obs` is the observation the action led to, *before* any auto-reset: for the
    last step of an episode it is gymnax's `info["final_observation"]`.
    """

    obs: jax.Array  # (*obs_shape)
    action: jax.Array  # (), integer (uint8 where the actions fit)
    reward: jax.Array  # (), float32
    next_obs: jax.Array  # (*obs_shape)
    terminated: jax.Array  # (), bool: the episode ended in a terminal state (not a time limit)
    # n-step transitions only (None, no leaf, for one-step): rewards summed in `reward`
    # (its discounted sum), so the bootstrap is discounted by gamma ** steps.
    steps: jax.Array | None = None  # (), uint8 in [1, n_step]
