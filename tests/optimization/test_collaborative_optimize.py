"""optimize on collaborative problems: the analytic bound holds and is the true maximum of
its one-dimensional problems; the searched policy is the best of its grid."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply.collaborative_policies import CollaborativeBaseStock, cheapest_unit_cost
from des_supply.evaluate import simulate
from optimization.collaborative import demand_bound, optimize_collaborative


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("collaborative")


def test_demand_bound_is_the_best_expected_margin_per_opportunity(problem):
    bound, prices = demand_bound(problem)
    market = problem.market
    lists = market.prices.list_prices
    best = 0.0
    for k, item in enumerate(market.nodes):  # brute force on a fine price grid
        cost = cheapest_unit_cost(problem.network, item)
        for p in [*np.linspace(0.01, 4 * lists[k], 20_001), lists[k] * (1 - 1e-12)]:
            trial = lists.copy()
            trial[k] = p
            best = max(best, market.prices.probability(trial)[k] * (p - cost))
    # the supremum: just below the list price the rank regressor drops (undercutting the
    # competitor), so the grid point under the kink gets within 1e-9 of it
    assert bound == pytest.approx(market.model.capacity.sum() * best, rel=1e-9)
    assert set(prices) == set(market.nodes)


def test_no_policy_beats_the_bound(problem):
    bound, _ = demand_bound(problem)
    rng = np.random.default_rng(0)
    for _ in range(4):
        levels = {i: float(rng.integers(5, 40)) for i in problem.market.nodes}
        policy = CollaborativeBaseStock(levels, float(rng.uniform(0.8, 1.4)))
        res = simulate(problem, policy, periods=200, replications=2, seed=3, warmup=20)
        assert res.mean < bound


def test_search_returns_the_best_of_its_grid_and_the_uniform_variant(problem):
    res = optimize_collaborative(
        problem, periods=60, replications=1, price_factors=(0.9, 1.1), multipliers=(1.0, 1.5)
    )
    assert res.optimal.policy is None and res.optimal.name == "demand-bound"
    best, uniform = res.policies
    assert best.name == "best-collab-base-stock" and uniform.name == "collab-base-stock-uniform"
    assert best.value == max(s["value"] for s in res.details["search"])
    assert best.value < res.optimal.value
    again = simulate(problem, best.policy, periods=60, replications=1, seed=12345)
    assert again.mean == best.value  # the value is the policy's, on the search's paths
