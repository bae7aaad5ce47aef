"""PPO in continuous time: gamma ** dt in GAE and in the truncation bootstrap, the
average-cost option, and periodic training left exactly as it was."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import scenarios
from rl.buffers import EnvRunner, Rollout, compute_gae, step_discounts
from rl.env import make_env
from rl.ppo import PPOConfig, train
from rl.semi_markov_env import make_semi_markov_env

TINY = dict(n_envs=2, n_steps=32, n_minibatches=2, seed=3, checkpoint_interval=1000)


def digest(agent) -> str:
    h = hashlib.sha256()
    for key, value in sorted(agent.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def review():
    return scenarios.make("continuous-review")


def smdp(review, **kw):
    return lambda: make_semi_markov_env(review, horizon=8, action_mode="base-stock", **kw)


class UntimedEnv(gym.Env):
    """Reports no info['dt']."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), 1.0, False, self.t >= 4, {}


@pytest.mark.parametrize(
    "norm_reward, expected",
    [(False, ("e668ad4bc02c5d1e", [-1331.5, -927.0])), (True, ("53af2340859ff9af", None))],
)
def test_regression_periodic_training_is_unchanged(tmp_path, norm_reward, expected):
    """A short fixed-seed run on a periodic env gives the parameters (and returns) it gave
    before semi-Markov discounting existed ("auto" is per step there).  Regenerate with this
    very config at a commit before rl/buffers.py learned dt, if torch changes its numerics."""
    config = PPOConfig(total_steps=128, norm_reward=norm_reward, reward_scale=0.1, **TINY)
    problem = scenarios.make("single-stage")
    result = train(lambda: make_env(problem, periods=20), config, tmp_path, progress=False)
    assert digest(result.agent) == expected[0]
    if expected[1] is not None:
        assert [row["episodic_return_mean"] for row in result.history] == expected[1]
    # discount="step" said explicitly is the same run
    again = train(
        lambda: make_env(problem, periods=20),
        PPOConfig(
            total_steps=128, norm_reward=norm_reward, reward_scale=0.1, discount="step", **TINY
        ),
        tmp_path / "step",
        progress=False,
    )
    assert digest(again.agent) == expected[0]


def test_rollout_discounts_each_step_by_gamma_to_the_dt(review):
    """GAE with dt: δ_t = r_t + γ^dt_t V(s'_t) − V(s_t), A_t = δ_t + γ^dt_t λ A_{t+1};
    the truncation bootstrap too.  By hand for γ = 0.5, λ = 1, dt = [2, 1, 0.5]."""
    rollout = Rollout.empty(n_steps=3, n_envs=1, obs_dim=1, width=1, timed=True)
    rollout.rewards[:, 0] = torch.tensor([1.0, 1.0, 1.0])
    rollout.values[:, 0] = torch.tensor([0.0, 0.0, 0.0])
    rollout.dt[:, 0] = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    rollout.truncated[1, 0] = True
    rollout.final_values[1, 0] = 8.0
    adv, _ = rollout.advantages(last_values=torch.tensor([4.0]), gamma=0.5, lam=1.0)
    a2 = 1 + 0.5**0.5 * 4.0
    a1 = 1 + 0.5 * 8.0  # bootstrap from V(final obs), recursion cut
    a0 = 1 + 0.25 * 0.0 + 0.25 * a1  # V(s_1) = 0, then γ^2 λ A_1
    torch.testing.assert_close(adv[:, 0], torch.tensor([a0, a1, a2]))
    # the same as compute_gae with a (T, N) tensor of gamma ** dt
    same, _ = compute_gae(
        rollout.rewards,
        rollout.values,
        torch.tensor([[0.0], [8.0], [4.0]]),
        rollout.terminated,
        rollout.truncated,
        step_discounts(0.5, rollout.dt),
        1.0,
    )
    torch.testing.assert_close(adv, same)


def test_auto_discounts_by_time_on_semi_markov_envs_only(review):
    problem = scenarios.make("single-stage")
    periodic = EnvRunner(lambda: make_env(problem, periods=5), PPOConfig(**TINY))
    assert not periodic.timed
    assert EnvRunner(smdp(review), PPOConfig(**TINY)).timed
    assert not EnvRunner(smdp(review), PPOConfig(discount="step", **TINY)).timed
    # the periodic env reports dt (periods): discount="time" accepts it
    assert EnvRunner(lambda: make_env(problem, periods=5), PPOConfig(discount="time", **TINY)).timed


def test_collected_dt_is_the_envs_and_changes_training(review, tmp_path):
    """The rollout holds each step's info['dt'] (also on the last step of an episode, which
    SAME_STEP autoreset reports under final_info); training with it differs from per-step
    discounting."""
    config = PPOConfig(total_steps=64, **TINY)
    runner = EnvRunner(smdp(review), config)
    runner.start()
    rollout = Rollout.empty(32, 2, runner.obs_dim, runner.layout.width, timed=True)
    from rl.networks import Agent

    torch.manual_seed(0)
    runner.collect(Agent(runner.obs_dim, runner.action_space), rollout)
    dt = rollout.dt.numpy()
    assert (dt > 0).all() and np.isfinite(dt).all()
    # per episode of 8 time units: the dts up to a truncation add up to 8
    ends = np.flatnonzero(rollout.truncated[:, 0].numpy())
    if ends.size:
        assert dt[: ends[0] + 1, 0].sum() == pytest.approx(8.0)
    timed = train(smdp(review), PPOConfig(total_steps=128, **TINY), tmp_path / "a", progress=False)
    stepped = train(
        smdp(review),
        PPOConfig(total_steps=128, discount="step", **TINY),
        tmp_path / "b",
        progress=False,
    )
    assert digest(timed.agent) != digest(stepped.agent)


def test_time_discounting_needs_dt(tmp_path):
    with pytest.raises(ValueError, match=r"discount='time' needs info\['dt'\]"):
        train(UntimedEnv, PPOConfig(total_steps=64, discount="time", **TINY), tmp_path)


def test_average_cost_subtracts_a_running_reward_rate_times_dt(review):
    config = PPOConfig(average_cost=True, rate_step=0.5, **TINY)
    runner = EnvRunner(smdp(review), config)
    rollout = Rollout.empty(2, 1, 1, 1, timed=True)
    rollout.rewards[:, 0] = torch.tensor([-3.0, -1.0])
    rollout.dt[:, 0] = torch.tensor([1.0, 3.0], dtype=torch.float64)
    first = runner.differential(rollout)
    assert runner.reward_rate == pytest.approx(-1.0)  # -4 over 4 time units
    torch.testing.assert_close(first[:, 0], torch.tensor([-2.0, 2.0]))
    rollout.rewards[:, 0] = torch.tensor([-6.0, -2.0])  # rate -2: halfway there
    runner.differential(rollout)
    assert runner.reward_rate == pytest.approx(-1.5)
    assert runner.state_dict()["reward_rate"] == pytest.approx(-1.5)


def test_training_through_the_semi_markov_env_runs_and_resumes_exactly(review, tmp_path):
    """Two PPO iterations through the env (average cost, gamma ** dt) and a resume from the
    first give the parameters of a straight run."""
    config = PPOConfig(total_steps=128, average_cost=True, norm_reward=True, **TINY)
    straight = train(smdp(review), config, tmp_path / "straight", progress=False)
    assert len(straight.history) == 2 and straight.history[-1]["episodes"] > 0
    part = train(
        smdp(review), config, tmp_path / "parts", progress=False, callback=lambda row: False
    )
    assert part.stopped_early
    resumed = train(smdp(review), config, tmp_path / "parts", resume=True, progress=False)
    assert digest(resumed.agent) == digest(straight.agent)


def test_config_validates_the_new_options():
    with pytest.raises(ValueError, match=r"discount\(='hourly'\)"):
        PPOConfig(discount="hourly")
    with pytest.raises(ValueError, match=r"rate_step\(=0\)"):
        PPOConfig(rate_step=0)


def _cost_rates(env, policy, episodes: int, seed: int) -> np.ndarray:
    rates = []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            obs, reward, _, done, _ = env.step(policy(obs))
            total -= reward
        rates.append(total / env.horizon)
        obs, _ = env.reset()
    return np.array(rates)


@pytest.mark.slow
def test_ppo_learns_continuous_review_through_the_semi_markov_env(review, tmp_path):
    """200k steps of PPO (base-stock levels per demand, gamma ** dt) on continuous-review:
    on the same 10 episodes, the trained (sampled) policy costs at least 25% less per unit
    time than the untrained one, and no less than the exact optimum (r, Q) = (13, 1) simulated
    on them (within noise).  benchmarks/semi_markov_ppo.py measured a +46% gap to it at 250k
    steps; this checks learning, not the gap."""
    from des_supply.continuous import simulate_continuous
    from optimization.continuous_review import continuous_review_optimum

    def make():
        return make_semi_markov_env(review, horizon=200, action_mode="base-stock")

    config = PPOConfig(
        total_steps=200_000,
        n_envs=4,
        n_steps=512,
        n_minibatches=4,
        reward_scale=0.1,
        norm_reward=True,
        log_std_init=-1.5,
        seed=1,
        checkpoint_interval=1000,
    )
    untrained = train(make, replace(config, total_steps=2048), tmp_path / "0", progress=False)
    trained = train(make, config, tmp_path / "1", progress=False)
    torch.manual_seed(0)
    before = _cost_rates(make(), lambda o: untrained.policy(o, deterministic=False), 10, 99)
    torch.manual_seed(0)
    after = _cost_rates(make(), lambda o: trained.policy(o, deterministic=False), 10, 99)
    best = simulate_continuous(
        review,
        continuous_review_optimum(review).policy(),
        horizon=200,
        replications=10,
        seed=99,
        warmup=0,
    ).per_replication
    assert after.mean() < 0.75 * before.mean()
    diff = after - best
    assert diff.mean() > -3 * diff.std(ddof=1) / np.sqrt(len(diff))
