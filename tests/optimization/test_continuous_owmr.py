"""optimize on multi-node continuous-time networks: the exact one-warehouse-N-retailer
optimum (with METRIC's choice beside it), and a searched base-stock policy elsewhere."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import scenarios
from des_supply.problem import Problem
from optimization import optimize as optimize_module
from optimization.continuous_review import (
    ContinuousReviewError,
    optimal_owmr,
    owmr_evaluation,
    owmr_optimum,
)
from optimization.optimize import optimize, verify

SMALL = {
    "rates": [1.0, 2.0],
    "lead_times": [0.5, 1.0],
    "warehouse_lead_time": 1.0,
    "holding": [1.0, 1.5],
    "penalty": [9.0, 6.0],
    "warehouse_holding": 0.4,
}
EXAMPLE = Path(scenarios.__file__).parent / "examples" / "continuous_serial.json"


def test_optimum_is_the_brute_force_minimum_of_the_exact_cost():
    """Every (S0, S1, S2) on a grid that contains the optimum, valued by owmr_evaluation."""
    best = optimal_owmr(**SMALL)
    terms = {k: v for k, v in SMALL.items() if k not in ("rates", "lead_times")}
    grid = {}
    for s0, s1, s2 in itertools.product(range(0, 9), range(0, 7), range(0, 8)):
        ev = owmr_evaluation(
            rates=SMALL["rates"],
            lead_times=SMALL["lead_times"],
            levels=[s1, s2],
            warehouse_level=s0,
            **terms,
        )
        grid[(s0, s1, s2)] = (ev.cost, ev.metric_cost)
    exact = min(grid, key=lambda k: grid[k][0])
    metric = min(grid, key=lambda k: grid[k][1])
    assert (best.warehouse_level, *best.levels) == exact
    assert best.cost == pytest.approx(grid[exact][0], rel=1e-12)
    # the optimum is inside the grid, not on its edge
    assert all(0 < v < top for v, top in zip(exact, (8, 6, 7)))
    assert (best.metric_warehouse_level, *best.metric_levels) == metric
    assert best.metric_estimate == pytest.approx(grid[metric][1], rel=1e-12)
    assert best.metric_choice_cost == pytest.approx(grid[metric][0], rel=1e-12)
    assert best.metric_choice_cost >= best.cost


def test_optimize_continuous_owmr_returns_the_exact_levels_and_metric_beside_them():
    problem = scenarios.make("continuous-owmr")
    res = optimize(problem)
    owmr = owmr_optimum(problem)
    assert res.optimal.name == "base-stock" and res.optimal.value == owmr.cost
    assert res.optimal.params["level"] == {
        "warehouse": owmr.warehouse_level,
        **{r: s for r, s in zip(owmr.retailers, owmr.levels)},
    }
    (metric,) = res.policies
    assert metric.name == "base-stock-metric" and metric.value == owmr.metric_choice_cost
    assert metric.value > res.optimal.value  # METRIC's levels are not the best here
    assert "Graves" in res.details["method"] and res.details["metric_gap_pct"] > 0


def test_the_exact_owmr_optimum_is_what_the_continuous_engine_measures():
    res = optimize(scenarios.make("continuous-owmr"))
    rows = verify(res, periods=2_000, warmup=100, replications=4, seed=3)
    assert [r["name"] for r in rows] == ["base-stock", "base-stock-metric"]
    assert all(r["inside"] for r in rows), rows


@pytest.fixture
def quick_search(monkeypatch):
    monkeypatch.setattr(
        optimize_module,
        "CONTINUOUS_SEARCH",
        {"periods": 200, "warmup": 20, "replications": 2, "seed": 5},
    )


def test_other_continuous_networks_get_a_searched_base_stock_policy(quick_search):
    problem = Problem.from_json(EXAMPLE)
    res = optimize(problem)
    assert res.optimal.name in ("best-base-stock", "best-echelon-base-stock")
    assert [b.name for b in res.policies] != [res.optimal.name]
    assert "searched by simulation" in res.details["method"]
    assert "constant lead time" in res.details["exact_method_skipped"]
    assert set(res.optimal.params["level"]) == {"dc", "store"}
    lost = optimize(scenarios.make("continuous-review", shortage="lost"))
    assert lost.optimal.name == "best-base-stock"
    assert "loses sales" in lost.details["exact_method_skipped"]


def test_a_zero_warehouse_lead_time_still_fits():
    """L0 = 0: the warehouse never backorders at S0 = 0, so retailers see Poisson(lambda_i L_i)
    alone and the optimum is the newsvendor level of each (Palm, one stage at a time)."""
    from optimization.continuous_review import optimal_base_stock

    best = owmr_optimum(scenarios.make("continuous-owmr", warehouse_lead_time=0.0))
    assert best.warehouse_level == 0
    for rate, lead, level in zip((1.0, 2.0, 3.0), (1.0, 1.0, 2.0), best.levels):
        single = optimal_base_stock(rate=rate, mean_lead_time=lead, holding=1.0, penalty=9.0)
        assert level == single.level


def test_owmr_optimum_names_what_does_not_fit():
    from des_supply.arrivals import PoissonProcess
    from des_supply.distributions import Exponential
    from des_supply.network import Edge, Network, Node

    net = Network(
        nodes=(
            Node("plant", kind="supply"),
            Node("wh", holding_cost=0.5),
            Node("a", holding_cost=1, shortage_cost=9, demand=PoissonProcess(1.0)),
            Node("b", holding_cost=1, shortage_cost=9, demand=PoissonProcess(2.0)),
        ),
        edges=(
            Edge("plant", "wh", lead_time=1.0),
            Edge("wh", "a", lead_time=Exponential(1.0)),
            Edge("wh", "b", lead_time=1.0),
        ),
        time="continuous",
    )
    with pytest.raises(ContinuousReviewError, match=r"edge 'wh'->'a' needs a constant lead time"):
        owmr_optimum(Problem(net))
