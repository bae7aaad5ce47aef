"""The multi-timescale study's pieces: the periodic-review reference, its level search,
the two timescales of the study's MAPPO pair, and the stock/recommendation traces."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scenarios
from des_supply.evaluate import simulate
from des_supply.policies import BaseStock
from des_supply.policy_registry import PolicyError, make_policy
from des_supply.recommendation_policies import (
    MarginRecommender,
    PeriodicReview,
    RecommendAndReplenish,
    Uniform,
    margins_of,
)
from rl.recommendation_env import recommendation_parallel_env
from scenarios.recommendation_study import StudySettings, periodic_levels, run_study, trace_agents

LEVELS = {"p0": 6.0, "p1": 14.0, "p2": 12.0}


def test_periodic_review_is_the_team_envs_replenishment_every_k_periods():
    """PeriodicReview(BaseStock(S), k) orders exactly as the two-agent env's replenishment
    agent deciding every k periods and ordering up to S (an independent code path)."""
    problem = scenarios.make("recommendation-small")
    for k in (1, 3):
        policy = RecommendAndReplenish(PeriodicReview(BaseStock(LEVELS), k), Uniform())
        team = recommendation_parallel_env(problem, replenishment_period=k, max_level=40.0)
        levels = team.layout.encode_levels(LEVELS)
        agents = team.policy(lambda o, lv=levels: lv, lambda o: np.zeros(15))
        a = simulate(problem, policy, periods=30, replications=3, seed=7)
        b = simulate(problem, agents, periods=30, replications=3, seed=7)
        np.testing.assert_array_equal(a.per_replication, b.per_replication)
    one = simulate(problem, RecommendAndReplenish(BaseStock(LEVELS), Uniform()), periods=30, seed=7)
    periodic = simulate(
        problem,
        RecommendAndReplenish(PeriodicReview(BaseStock(LEVELS), 1), Uniform()),
        periods=30,
        seed=7,
    )
    assert one.mean == periodic.mean


def test_periodic_policy_is_registered_and_checks_its_period():
    problem = scenarios.make("recommendation-small")
    a = make_policy("periodic-base-stock-margin", problem, {"level": LEVELS, "period": 3})
    assert isinstance(a.replenishment, PeriodicReview) and a.replenishment.period == 3
    default = make_policy("periodic-base-stock-margin", problem, {"level": LEVELS})
    plain = make_policy("base-stock-margin", problem, {"level": LEVELS})
    assert (
        simulate(problem, default, periods=20, seed=1).mean
        == simulate(problem, plain, periods=20, seed=1).mean
    )
    with pytest.raises(ValueError, match="period"):
        make_policy("periodic-base-stock-margin", problem, {"level": LEVELS, "period": 2.5})
    with pytest.raises(PolicyError, match="one number"):
        make_policy("periodic-base-stock-margin", problem, {"level": 5, "period": {"p0": 2}})
    with pytest.raises(ValueError, match="period"):
        PeriodicReview(BaseStock(LEVELS), 0)


def test_periodic_levels_are_demand_quantiles_over_lead_plus_review():
    """With one quantile the level is the q-quantile of demand over L + k periods; checked
    against a Monte Carlo of the model's binomial demand."""
    problem = scenarios.make("recommendation-small")
    market = problem.new_market()
    model = market.model
    rec = MarginRecommender(margins_of(problem.network, model.products))
    gamma = model.probabilities(rec.recommend(None, model))
    rng = np.random.default_rng(0)
    for k in (1, 3):
        got = periodic_levels(
            problem.network, market, rec, k, periods=20, replications=1, quantiles=(0.9,)
        )
        periods = 1 + k  # lead time 1
        draws = rng.binomial(
            model.capacity[None, None, :].astype(int), gamma[None], size=(40_000, 3, 5)
        )
        sums = draws.reshape(-1, periods, 3, 5)[: 40_000 // periods].sum(axis=(1, 3))
        for i, p in enumerate(model.products):
            assert abs(got[p] - np.quantile(sums[:, i], 0.9)) <= 1.0, (k, p)
    with pytest.raises(ValueError, match="review"):
        periodic_levels(problem.network, market, rec, 0)


@pytest.mark.slow
def test_study_mappo_runs_two_timescales_and_traces(tmp_path):
    """The study's MAPPO pair: recommendation actor at fast_lr, replenishment actor at
    slow_lr, the replenishment agent acting every k periods; the periodic reference row;
    traces of both trained agents."""
    settings = StudySettings(
        steps=2048,
        agents=("joint", "mappo"),
        periods=16,
        episodes=3,
        mpc=False,
        search_periods=60,
        search_replications=1,
        replenishment_period=3,
        fast_lr=1e-3,
        slow_lr=2e-4,
    )
    problem = scenarios.make("recommendation-small", shortage="lost")
    result = run_study(problem, settings, tmp_path, progress=False)
    names = [r["name"] for r in result.rows]
    assert "periodic base-stock (k=3) + margin" in names and "MAPPO (two-timescale)" in names
    import csv

    rows = list(csv.DictReader((tmp_path / "mappo" / "progress.csv").open()))
    first = rows[0]
    assert float(first["recommendation/learning_rate"]) == pytest.approx(1e-3)
    assert float(first["replenishment/learning_rate"]) == pytest.approx(2e-4)
    assert float(first["learning_rate"]) == pytest.approx(1e-3)  # the critic: fast
    # t = 0, 3, 6, 9, 12, 15 of 16 periods
    assert float(first["replenishment/acting_fraction"]) == pytest.approx(6 / 16)
    assert float(first["recommendation/acting_fraction"]) == 1.0
    trace_agents(problem, tmp_path, episodes=2)
    data = json.loads((tmp_path / "trace.json").read_text())
    assert set(data["summary"]) == {"Joint IM-RS", "MAPPO"}
    assert (tmp_path / "trace.png").exists()
