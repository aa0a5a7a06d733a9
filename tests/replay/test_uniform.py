import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.replay.transition import Transition
from purejaxdqn.replay.uniform import make_replay_buffer


def batch(values):
    """Transitions whose every field encodes `values` (n,), so slots are recognisable."""
    v = jnp.asarray(values, jnp.float32)
    return Transition(
        obs=jnp.stack([v, -v], axis=-1),
        action=v.astype(jnp.int32),
        reward=v * 10,
        next_obs=jnp.stack([v + 0.5, -v], axis=-1),
        terminated=(v.astype(jnp.int32) % 2) == 1,
    )


EXAMPLE = jax.tree.map(lambda x: x[0], batch([0.0]))


class TestReplayBuffer(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_wraps_around_and_keeps_newest(self):
        for capacity, n in ((6, 2), (5, 2)):  # batches that divide the ring and that do not
            buf = make_replay_buffer(capacity)
            add = self.variant(buf.add)
            state = buf.init(EXAMPLE)
            for start in range(1, 9, n):  # adds 1..8
                state = add(state, batch(np.arange(start, start + n)))
            stored = sorted(np.asarray(state.storage.reward / 10).astype(int).tolist())
            assert stored == list(range(9 - capacity, 9)), (capacity, stored)
            assert int(state.size) == capacity
            assert int(state.position) == 8 % capacity
            # every field of a slot stays consistent with the same transition
            v = np.asarray(state.storage.reward) / 10
            np.testing.assert_array_equal(np.asarray(state.storage.action), v.astype(int))
            np.testing.assert_allclose(np.asarray(state.storage.next_obs[:, 0]), v + 0.5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_samples_only_filled_slots_with_shapes(self):
        buf = make_replay_buffer(100)
        state = buf.add(buf.init(EXAMPLE), batch([3.0, 7.0, 9.0]))
        sample = self.variant(buf.sample, static_argnums=2)
        out = sample(jax.random.key(0), state, 512)
        chex.assert_shape([out.obs, out.next_obs], (512, 2))
        chex.assert_shape([out.action, out.reward, out.terminated], (512,))
        assert out.terminated.dtype == jnp.bool_ and out.action.dtype == jnp.int32
        assert set(np.asarray(out.action).tolist()) == {3, 7, 9}  # all filled, never empty ones
        np.testing.assert_allclose(np.asarray(out.reward), np.asarray(out.action) * 10)

    def test_size_grows_until_capacity(self):
        buf = make_replay_buffer(4)
        state = buf.init(EXAMPLE)
        sizes = []
        for i in range(4):
            state = buf.add(state, batch([i, i]))
            sizes.append(int(state.size))
        assert sizes == [2, 4, 4, 4]

    def test_rejects_bad_capacity(self):
        with pytest.raises(ValueError, match="buffer_size"):
            make_replay_buffer(0)
