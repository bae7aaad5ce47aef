"""PPO: GAE by hand, truncation bootstrapping, smoke runs per action head, exact resume.

Learning on CartPole is ``slow`` (``python -m pytest -m slow tests/rl/test_ppo.py``).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

from rl.buffers import Rollout, compute_gae
from rl.ppo import PPOConfig, load_agent, train

# -- tiny envs ----------------------------------------------------------------------------------


class MultiDiscreteEnv(gym.Env):
    """Two random features in [0, 1); action MultiDiscrete([3, 2]); reward for matching them."""

    observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = spaces.MultiDiscrete([3, 2])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.obs = self.np_random.random(2).astype(np.float32)
        return self.obs, {}

    def step(self, action):
        target = (round(2 * float(self.obs[0])), round(float(self.obs[1])))
        reward = float(action[0] == target[0]) + float(action[1] == target[1])
        self.t += 1
        self.obs = self.np_random.random(2).astype(np.float32)
        return self.obs, reward, False, self.t >= 8, {}


class MixedEnv(gym.Env):
    """Action Tuple(Box, Discrete) (or a Dict of both): a level and a lever; 10-step episodes."""

    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)

    def __init__(self, as_dict: bool = False):
        box, switch = spaces.Box(0.0, 4.0, (1,), np.float32), spaces.Discrete(2)
        self.as_dict = as_dict
        self.action_space = (
            spaces.Dict({"level": box, "lever": switch}) if as_dict else spaces.Tuple((box, switch))
        )

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return self.np_random.uniform(-1.0, 1.0, 3).astype(np.float32)

    def step(self, action):
        level, lever = (action["level"], action["lever"]) if self.as_dict else action
        assert self.action_space.contains(action)
        reward = -abs(float(level[0]) - 3.0) + float(lever == 1)
        self.t += 1
        return self._obs(), reward, False, self.t >= 10, {}


class ConstantEnv(gym.Env):
    """Reward 1 each step, the same observation always, never terminates: V = 1 / (1 - γ)."""

    observation_space = spaces.Box(0.0, 2.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
        return np.ones(1, np.float32), 1.0, False, False, {}


class ContextBandit(gym.Env):
    """One-step episodes: observe a one-hot context c in {0, 1, 2}, reward 1 for action c."""

    observation_space = spaces.Box(0.0, 1.0, (3,), np.float32)
    action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.c = int(self.np_random.integers(3))
        return np.eye(3, dtype=np.float32)[self.c], {}

    def step(self, action):
        return np.zeros(3, np.float32), float(action == self.c), True, False, {}


class BoxBandit(gym.Env):
    """One-step episodes, action in [0, 10]; reward -(a - 7)² / 10, so the best action is 7."""

    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(0.0, 10.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), -float((action[0] - 7.0) ** 2) / 10.0, True, False, {}


class GlobalRandomEnv(MultiDiscreteEnv):
    """Breaks the seeding contract: draws from numpy's global generator."""

    def reset(self, *, seed=None, options=None):
        _, info = super().reset(seed=seed)
        self.obs = np.random.random(2).astype(np.float32)
        return self.obs, info


ENVS = {
    "discrete": lambda: gym.make("CartPole-v1"),
    "box": lambda: gym.make("Pendulum-v1"),
    "multidiscrete": MultiDiscreteEnv,
    "tuple": MixedEnv,
    "dict": lambda: MixedEnv(as_dict=True),
}
SMALL = {"n_envs": 2, "n_steps": 64, "n_epochs": 2, "n_minibatches": 2, "checkpoint_interval": 100}


def params(agent: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in agent.state_dict().items()}


def assert_same_params(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


# -- GAE ----------------------------------------------------------------------------------------


def test_compute_gae_by_hand():
    """γ = 0.9, λ = 0.8. Env 0 is truncated at t=1 (V(final obs) = 5); env 1 terminates at t=2.

    Env 0: δ = [0.9, 5.5, 2.9, 4.8]; A3 = 4.8, A2 = 2.9 + 0.72·4.8 = 6.356,
    A1 = 5.5 (recursion cut, bootstrap kept), A0 = 0.9 + 0.72·5.5 = 4.86.
    Env 1: δ = [-0.05, -0.05, 0.5, -0.05] (no bootstrap at t=2: the 7 is ignored);
    A3 = -0.05, A2 = 0.5, A1 = -0.05 + 0.72·0.5 = 0.31, A0 = -0.05 + 0.72·0.31 = 0.1732.
    """
    rewards = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0]])
    values = torch.tensor([[1.0, 0.5]] * 4)
    next_values = torch.tensor([[1.0, 0.5], [5.0, 0.5], [1.0, 7.0], [2.0, 0.5]])
    terminated = torch.tensor([[False, False], [False, False], [False, True], [False, False]])
    truncated = torch.tensor([[False, False], [True, False], [False, False], [False, False]])
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated, gamma=0.9, lam=0.8)
    expected = torch.tensor([[4.86, 0.1732], [5.5, 0.31], [6.356, 0.5], [4.8, -0.05]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)
    # CleanRL's done = terminated | truncated would drop the bootstrap at t=1: δ = 2 - 1 = 1.
    adv_as_done, _ = compute_gae(
        rewards, values, next_values, truncated, truncated, gamma=0.9, lam=0.8
    )
    assert adv_as_done[1, 0].item() == pytest.approx(1.0)


def test_rollout_bootstraps_from_final_values_on_truncation():
    """next_values: the next row's values, V(final obs) on truncations, last_values at the end."""
    rollout = Rollout.empty(n_steps=3, n_envs=1, obs_dim=1, width=1)
    rollout.rewards[:] = 1.0
    rollout.values[:, 0] = torch.tensor([1.0, 2.0, 3.0])
    rollout.truncated[1, 0] = True
    rollout.final_values[1, 0] = 10.0
    adv, _ = rollout.advantages(last_values=torch.tensor([4.0]), gamma=0.5, lam=0.0)
    # λ = 0: A_t = r_t + γ V(s'_t) − V(s_t) with V(s') = [2, 10, 4].
    torch.testing.assert_close(adv[:, 0], torch.tensor([1 + 1.0 - 1, 1 + 5.0 - 2, 1 + 2.0 - 3]))


def test_truncation_is_bootstrapped_in_training(tmp_path):
    """Constant reward 1, constant observation, 5-step time limit, γ = 0.9.

    Bootstrapping at the time limit makes the critic learn V = 1 / (1 − γ) = 10; treating the
    limit as terminal would give the mean of (1 − γ^k) / (1 − γ) over k = 1..5, about 2.6.
    """
    config = PPOConfig(
        total_steps=2560,
        n_envs=2,
        n_steps=64,
        n_epochs=10,
        n_minibatches=2,
        gamma=0.9,
        learning_rate=0.1,
        anneal_lr=False,
        clip_vloss=False,
        norm_obs=False,
        hidden_sizes=(8,),
        checkpoint_interval=1000,
        seed=3,
    )
    result = train(lambda: TimeLimit(ConstantEnv(), 5), config, tmp_path, progress=False)
    value = result.agent.get_value(torch.ones(1, 1)).item()
    assert value == pytest.approx(10.0, rel=0.1)
    assert result.history[-1]["episodic_length_mean"] == 5


# -- smoke runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ENVS))
def test_smoke_run_writes_outputs_and_reloads(tmp_path, name):
    config = PPOConfig(total_steps=512, **SMALL)
    result = train(ENVS[name], config, tmp_path, progress=False)
    assert result.global_step == 512 and not result.stopped_early
    for file in ("checkpoint.pt", "progress.csv", "config.json", "learning_curve.png"):
        assert (tmp_path / file).stat().st_size > 0, file
    assert [row["global_step"] for row in result.history] == [128, 256, 384, 512]
    assert all(
        math.isfinite(row["value_loss"]) and math.isfinite(row["approx_kl"])
        for row in result.history
    )

    gym_env = ENVS[name]()
    obs, _ = gym_env.reset(seed=0)
    policy = load_agent(tmp_path)
    action = policy(obs)
    assert gym_env.action_space.contains(action), action
    assert_same_params(params(policy.agent), params(result.agent))
    gym_env.step(action)


def test_config_is_validated():
    with pytest.raises(ValueError, match="n_minibatches"):
        PPOConfig(n_envs=3, n_steps=5, n_minibatches=4)
    with pytest.raises(ValueError, match="total_steps"):
        PPOConfig(total_steps=100, n_envs=4, n_steps=128)


# -- reproducibility ----------------------------------------------------------------------------


def test_same_seed_gives_identical_parameters(tmp_path):
    config = PPOConfig(total_steps=512, norm_reward=True, **SMALL)
    first = train(MixedEnv, config, tmp_path / "a", progress=False)
    second = train(MixedEnv, config, tmp_path / "b", progress=False)
    assert_same_params(params(first.agent), params(second.agent))
    other = train(
        MixedEnv,
        PPOConfig(total_steps=512, norm_reward=True, **{**SMALL, "seed": 2}),
        tmp_path / "c",
        progress=False,
    )
    assert not torch.equal(
        params(first.agent)["actor.0.weight"], params(other.agent)["actor.0.weight"]
    )


@pytest.mark.parametrize("name", ["box", "tuple"])
def test_resume_is_exact(tmp_path, name):
    """N steps straight == N/2 steps, stop, resume for N/2; episodes span the checkpoint."""
    config = PPOConfig(total_steps=1024, norm_reward=True, target_kl=0.5, **SMALL)
    straight = train(ENVS[name], config, tmp_path / "straight", progress=False)

    part = train(
        ENVS[name],
        config,
        tmp_path / "parts",
        progress=False,
        callback=lambda row: row["global_step"] < 512,
    )
    assert part.stopped_early and part.global_step == 512
    resumed = train(ENVS[name], config, tmp_path / "parts", resume=True, progress=False)
    assert resumed.global_step == 1024
    assert_same_params(params(straight.agent), params(resumed.agent))

    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=True)
    assert a["numpy_rng"] == b["numpy_rng"] and torch.equal(a["torch_rng"], b["torch_rng"])
    assert torch.equal(a["runner"]["obs_rms"]["mean"], b["runner"]["obs_rms"]["mean"])

    def drop_sps(rows):
        return [{k: v for k, v in r.items() if k != "sps"} for r in rows]

    np.testing.assert_equal(
        drop_sps(resumed.history), drop_sps(straight.history)
    )  # NaN == NaN here


def test_resume_refuses_a_different_config_and_warns_on_nondeterministic_env(tmp_path):
    config = PPOConfig(total_steps=512, **SMALL)
    train(GlobalRandomEnv, config, tmp_path, progress=False, callback=lambda row: False)
    with pytest.raises(ValueError, match="gamma"):
        train(
            GlobalRandomEnv, PPOConfig(total_steps=512, gamma=0.5, **SMALL), tmp_path, resume=True
        )
    with pytest.warns(RuntimeWarning, match="not a deterministic function"):
        train(GlobalRandomEnv, None, tmp_path, resume=True, progress=False)


# -- learning -----------------------------------------------------------------------------------


def test_learns_contextual_bandit(tmp_path):
    config = PPOConfig(
        total_steps=4096,
        n_envs=4,
        n_steps=32,
        n_epochs=4,
        n_minibatches=2,
        learning_rate=3e-3,
        norm_obs=False,
        ent_coef=0.0,
        checkpoint_interval=1000,
    )
    result = train(ContextBandit, config, tmp_path, progress=False)
    policy = load_agent(tmp_path)
    assert [int(policy(np.eye(3, dtype=np.float32)[c])) for c in range(3)] == [0, 1, 2]
    assert result.history[-1]["episodic_return_mean"] > 0.9


def test_learns_box_bandit_through_rescaled_bounds(tmp_path):
    config = PPOConfig(
        total_steps=8192,
        n_envs=4,
        n_steps=64,
        n_epochs=4,
        n_minibatches=2,
        learning_rate=1e-2,
        norm_obs=False,
        checkpoint_interval=1000,
    )
    train(BoxBandit, config, tmp_path, progress=False)
    assert load_agent(tmp_path)(np.zeros(1, np.float32))[0] == pytest.approx(7.0, abs=0.5)


@pytest.mark.slow
def test_solves_cartpole_within_100k_steps(tmp_path):
    """RL Zoo's CartPole-v1 hyperparameters; the greedy policy must average > 400 in 10 episodes."""
    config = PPOConfig(
        total_steps=100_000,
        n_envs=8,
        n_steps=32,
        n_epochs=20,
        n_minibatches=1,
        gamma=0.98,
        gae_lambda=0.8,
        learning_rate=1e-3,
        ent_coef=0.0,
        norm_obs=False,
        seed=1,
    )
    train(lambda: gym.make("CartPole-v1"), config, tmp_path, progress=False)
    policy = load_agent(tmp_path)
    gym_env = gym.make("CartPole-v1")
    returns = []
    for episode in range(10):
        obs, _ = gym_env.reset(seed=1000 + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = gym_env.step(policy(obs))
            total, done = total + reward, terminated or truncated
        returns.append(total)
    assert np.mean(returns) > 400, returns


def test_divergence_stops_with_a_clear_error(tmp_path):
    """An absurd step size makes the losses non-finite: training stops at that iteration
    with FloatingPointError naming it, not with a torch error one rollout later."""
    import scenarios
    from rl.recommendation_env import make_recommendation_env

    config = PPOConfig(
        total_steps=1024,
        n_envs=2,
        n_steps=128,
        learning_rate=5.0,
        max_grad_norm=1e9,
        norm_obs=False,
        n_epochs=10,
        anneal_lr=False,
    )
    with pytest.raises(FloatingPointError, match="diverged at iteration 1 .*learning_rate"):
        train(
            lambda: make_recommendation_env(scenarios.make("recommendation-medium"), periods=64),
            config,
            tmp_path,
            progress=False,
        )
