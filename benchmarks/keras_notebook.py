"""The teaching notebook's own training loop (TensorFlow/Keras, one `fit` per env step),
timed for its environment steps per second. Runs in its own virtual environment:

    bash benchmarks/setup_keras_venv.sh          # builds benchmarks/.venv-keras
    benchmarks/.venv-keras/bin/python benchmarks/keras_notebook.py --steps 300

The agent, hyperparameters and loop are the teaching notebook's (the one this project
grew out of); only what stops it running is changed: `env.reset()` returns
`(obs, info)`, and the target network is built and synced with `set_weights` (its
`clone_model` copy fails on subclassed models in Keras 3). Prints JSON.
"""

import argparse
import json
import random
import time
from collections import deque

import gymnasium as gym
import numpy as np
from tensorflow import keras

GAMMA, BATCH_SIZE, BUFFER_SIZE, MIN_REPLAY_SIZE = 0.99, 32, 50000, 1000
EPSILON_START, EPSILON_END, EPSILON_DECAY, TARGET_UPDATE_FREQ = 1.0, 0.01, 100000, 1000


class DQN(keras.Model):
    def __init__(self, num_actions):
        super().__init__()
        self.hidden = keras.layers.Dense(64, activation="relu")
        self.out = keras.layers.Dense(num_actions, activation="linear")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def make_model(num_actions):
    model = DQN(num_actions)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss=keras.losses.MeanSquaredError()
    )
    model(np.zeros((1, 4), np.float32))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300, help="timed training steps")
    parser.add_argument("--skip", type=int, default=30, help="untimed first training steps")
    args = parser.parse_args()
    env = gym.make("CartPole-v1")
    memory = deque(maxlen=BUFFER_SIZE)
    online, target = make_model(2), make_model(2)
    target.set_weights(online.get_weights())

    obs, _ = env.reset(seed=0)
    for _ in range(MIN_REPLAY_SIZE):
        action = env.action_space.sample()
        new_obs, reward, done, truncated, _ = env.step(action)
        memory.append((obs, action, reward, new_obs, done))
        obs = new_obs if not (done or truncated) else env.reset()[0]

    def training():
        batch = random.sample(memory, BATCH_SIZE)
        obses = np.stack([t[0] for t in batch])
        actions = np.array([t[1] for t in batch])
        rewards = np.array([t[2] for t in batch])
        next_obses = np.stack([t[3] for t in batch])
        dones = np.array([t[4] for t in batch], dtype=np.int16)
        q_values = online(obses).numpy()
        next_q = target(next_obses).numpy()
        targets = q_values.copy()
        for i in range(BATCH_SIZE):
            targets[i, actions[i]] = rewards[i] + GAMMA * (1 - dones[i]) * np.amax(next_q[i])
        online.fit(obses, targets, epochs=1, batch_size=BATCH_SIZE, verbose=0)

    obs, _ = env.reset(seed=1)
    start = None
    for step in range(args.skip + args.steps):
        if step == args.skip:
            start = time.perf_counter()
        epsilon = np.interp(step, [0, EPSILON_DECAY], [EPSILON_START, EPSILON_END])
        if random.random() <= epsilon:
            action = env.action_space.sample()
        else:
            action = int(np.argmax(online(np.expand_dims(obs, 0))))
        new_obs, reward, done, truncated, _ = env.step(action)
        memory.append((obs, action, reward, new_obs, done))
        obs = new_obs if not (done or truncated) else env.reset()[0]
        training()
        if (step + 1) % TARGET_UPDATE_FREQ == 0:
            target.set_weights(online.get_weights())
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {"steps": args.steps, "seconds": elapsed, "env_steps_per_s": args.steps / elapsed}
        )
    )


if __name__ == "__main__":
    main()
