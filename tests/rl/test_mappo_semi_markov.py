"""MAPPO in continuous time: gamma ** dt in GAE (decision GAE too) and in the truncation
bootstrap on semi-Markov parallel envs, and periodic MAPPO left exactly as it was."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import rl
import scenarios
from rl.buffers import compute_gae, step_discounts
from rl.mappo import MAPPOConfig, train_mappo
from rl.mappo_buffers import MultiAgentModel, MultiRollout, ParallelRunner, decision_gae
from rl.multi_agent import parallel_env

SMALL = {"n_envs": 2, "n_steps": 64, "n_epochs": 2, "n_minibatches": 2, "checkpoint_interval": 100}


def digest(model) -> str:
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def owmr():
    return scenarios.make("continuous-owmr")


def smdp(owmr, horizon=5.0):
    return lambda: parallel_env(owmr, horizon=horizon, action_mode="base-stock")


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("mappo", ("5a9cc645f95f99f2", [-2004.0833333333333, -1942.1666666666667])),
        ("ippo", ("5104c57ffc234a57", [-2026.8333333333333, -2000.8333333333333])),
    ],
)
def test_regression_periodic_mappo_is_unchanged(tmp_path, variant, expected):
    """A short fixed-seed run on the periodic OWMR parallel env gives the parameters and
    returns it gave before MAPPO learned dt (commit 7868fee).  Regenerate with this very
    config at that commit if torch changes its numerics."""
    problem = scenarios.make("owmr")
    config = MAPPOConfig(total_steps=256, variant=variant, norm_reward=True, seed=4, **SMALL)
    result = train_mappo(
        lambda: rl.parallel_env(problem, periods=20, action_mode="base-stock"),
        config,
        tmp_path,
        progress=False,
    )
    assert digest(result.model) == expected[0]
    assert [r["episodic_return_mean"] for r in result.history] == expected[1]


def test_advantages_discount_each_step_by_gamma_to_the_dt():
    """By hand for gamma = 0.5, lambda = 1, dt = [2, 1, 0.5], step 1 truncated (bootstrap
    from V(final obs) = 8): the same numbers as PPO's Rollout (tests/rl/test_ppo_semi_markov)."""
    rollout = MultiRollout.empty(3, 1, {"a": 1}, {"a": 1}, ["team"], None, timed=True)
    assert rollout.dt is not None
    rollout.rewards[:, 0] = torch.tensor([1.0, 1.0, 1.0])
    rollout.dt[:, 0] = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    rollout.truncated[1, 0] = True
    rollout.final_values["team"][1, 0] = 8.0
    adv, _ = rollout.advantages({"team": torch.tensor([4.0])}, gamma=0.5, lam=1.0)["team"]
    a2 = 1 + 0.5**0.5 * 4.0
    a1 = 1 + 0.5 * 8.0
    a0 = 1 + 0.25 * a1
    torch.testing.assert_close(adv[:, 0], torch.tensor([a0, a1, a2]))


def test_decision_gae_with_dt_is_the_gae_of_the_agents_decisions():
    """An agent acting at steps 0 and 2 (lambda = 0): A_0 = r_0 + g_0 r_1 + g_0 g_1 V(s_2)
    - V(s_0) with g_t = gamma ** dt_t, the semi-MDP of its own decisions."""
    r = torch.tensor([[1.0], [2.0], [4.0]])
    v = torch.tensor([[0.5], [0.0], [3.0]])
    nv = torch.cat([v[1:], torch.tensor([[1.0]])])
    g = step_discounts(0.5, torch.tensor([[2.0], [1.0], [0.5]], dtype=torch.float64))
    acts_next = torch.tensor([[False], [True], [False]])
    zeros = torch.zeros(3, 1)
    adv, _ = decision_gae(r, v, nv, zeros, zeros, acts_next, g, lam=0.0)
    expected0 = 1.0 + g[0, 0] * 2.0 + g[0, 0] * g[1, 0] * 3.0 - 0.5
    torch.testing.assert_close(adv[0, 0], expected0)
    # every step acting: compute_gae with the same per-step discounts
    every, _ = decision_gae(r, v, nv, zeros, zeros, torch.ones(3, 1), g, lam=0.7)
    same, _ = compute_gae(r, v, nv, zeros, zeros, g, 0.7)
    torch.testing.assert_close(every, same)


def test_runner_records_the_envs_dt_and_discounts_by_time_on_semi_markov_envs(owmr):
    config = MAPPOConfig(total_steps=64, n_envs=2, n_steps=32, n_minibatches=2, seed=1)
    runner = ParallelRunner(smdp(owmr, horizon=2.0), config, use_state=True)
    assert runner.timed
    periodic = ParallelRunner(
        lambda: rl.parallel_env(scenarios.make("owmr"), periods=5), config, use_state=True
    )
    assert not periodic.timed
    runner.start()
    model = MultiAgentModel(
        runner.agents,
        runner.obs_dims,
        runner.action_spaces,
        [(a,) for a in runner.agents],
        "mappo",
        runner.state_dim,
        (16,),
        "tanh",
    )
    rollout = MultiRollout.empty(
        32,
        2,
        runner.obs_dims,
        {a: runner.layouts[a].width for a in runner.agents},
        model.value_keys(),
        runner.state_dim,
        timed=runner.timed,
    )
    torch.manual_seed(0)
    runner.collect(model, rollout)
    assert rollout.dt is not None
    dt = rollout.dt.numpy()
    assert (dt >= 0).all() and np.isfinite(dt).all() and dt.sum() > 0
    ends = np.flatnonzero(rollout.truncated[:, 0].numpy())
    assert ends.size  # 2 time units at 6 customers per unit time fit in 32 steps
    assert dt[: ends[0] + 1, 0].sum() == pytest.approx(2.0)


def test_time_discounting_changes_training(owmr, tmp_path):
    config = MAPPOConfig(total_steps=128, n_envs=2, n_steps=32, n_minibatches=2, seed=1)
    timed = train_mappo(smdp(owmr), config, tmp_path / "a", progress=False)
    stepped = train_mappo(
        smdp(owmr),
        MAPPOConfig(
            total_steps=128, n_envs=2, n_steps=32, n_minibatches=2, seed=1, discount="step"
        ),
        tmp_path / "b",
        progress=False,
    )
    assert digest(timed.model) != digest(stepped.model)


def test_average_cost_is_refused_not_ignored():
    with pytest.raises(ValueError, match="average_cost=True is rl.ppo's option"):
        MAPPOConfig(average_cost=True)
