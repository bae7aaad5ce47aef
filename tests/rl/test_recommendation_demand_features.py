"""``demand_features``: each product's demand so far over its expectation under the
intensities in force, a sales-based trend estimate in the observation of the
recommendation envs; checked against the engine's ledger, against the market's hidden
trend, and for CRN identity between the envs and their engine policies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl
import scenarios
from des_supply.evaluate import simulate
from rl.evaluation import evaluate_agent

FASHION = scenarios.make("recommendation-fashion-small")
SEASON = 12


def make(control="joint", **kw):
    return rl.make_recommendation_env(
        FASHION, control=control, periods=SEASON, finite_horizon=True, demand_features=True, **kw
    )


def test_check_env_and_names():
    env = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    names = env.observation_names
    assert names[-4:] == ("p0.demand_ratio", "p1.demand_ratio", "p2.demand_ratio", "time_left")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[-4:-1], 1.0)  # no demand seen yet: the prior alone


def test_ratio_is_the_ledgers_demand_over_its_expectation():
    """An independent recomputation from the ledger's demand and the intensities played."""
    env = make()
    rng = np.random.default_rng(3)
    obs, _ = env.reset(seed=5, options={"episode": 1})
    model, prior = env.model, env.layout.prior_demand
    expected = np.zeros(3)
    for t in range(SEASON - 1):
        obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        expected += model.expected_demand(env.market.last_recommendation)
        ledger = env.sim.ledger()
        cols = [ledger.nodes.index(q) for q in env.layout.products]
        demand = ledger.data["demand"][: t + 1, cols].sum(axis=0)
        want = (demand + prior) / (expected + prior)
        np.testing.assert_allclose(obs[-4:-1], want, rtol=1e-6)


def test_ratio_tracks_the_hidden_trend():
    """Across seasons the log ratio at the season's end follows the unseen popularity shift."""
    env = make()
    logs, trends = [], []
    for k in range(40):
        obs, _ = env.reset(seed=11, options={"episode": k})
        for _ in range(SEASON - 1):
            obs, *_ = env.step(np.zeros(env.action_space.shape))
        logs.append(np.log(obs[-4:-1]))
        trends.append(env.market.trend.copy())
    corr = np.corrcoef(np.ravel(logs), np.ravel(trends))[0, 1]
    assert corr > 0.7


@pytest.mark.parametrize("control", ["joint", "replenishment", "recommendation"])
def test_agent_policy_matches_the_env(control):
    env = make(control)
    w = np.random.default_rng(0).uniform(
        -1, 1, (env.action_space.shape[0], env.observation_space.shape[0])
    )

    def agent(obs):  # observation-dependent, so the ratios must agree for the profits to
        return np.tanh(w @ obs - 0.2).astype(np.float32)

    stepped = evaluate_agent(lambda: make(control), agent, seed=9, episodes=3)
    res = simulate(
        env.network,
        env.policy(agent),
        periods=SEASON,
        replications=3,
        seed=9,
        market=FASHION.new_market(),
    )
    np.testing.assert_allclose(stepped.per_episode, res.per_replication, rtol=0, atol=1e-9)


def test_team_policy_matches_the_parallel_env():
    env = rl.recommendation_parallel_env(
        FASHION,
        periods=SEASON,
        replenishment_period=SEASON,
        recommendation_period=2,
        finite_horizon=True,
        demand_features=True,
    )
    rng = np.random.default_rng(1)
    w = {
        a: rng.uniform(-1, 1, (env.action_space(a).shape[0], env.observation_space(a).shape[0]))
        for a in env.possible_agents
    }
    agents = {a: (lambda obs, a=a: np.tanh(w[a] @ obs)) for a in env.possible_agents}
    per_episode = []
    for k in range(2):
        obs, _ = env.reset(seed=5, options={"episode": k})
        total = 0.0
        while env.agents:
            np.testing.assert_array_equal(obs["recommendation"][:-2], env.state())
            obs, _, _, _, infos = env.step({a: agents[a](obs[a]) for a in env.agents})
            total += infos["replenishment"]["profit"]
        per_episode.append(total / SEASON)
    res = simulate(
        env.network,
        env.policy(**agents),
        periods=SEASON,
        replications=2,
        seed=5,
        market=FASHION.new_market(),
    )
    np.testing.assert_allclose(per_episode, res.per_replication, rtol=0, atol=1e-9)


def test_observe_without_memory_is_refused():
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="DemandMemory"):
        env.layout.observe(env.runner.view)
