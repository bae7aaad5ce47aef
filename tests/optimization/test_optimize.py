"""Every optimiser's promise is checked by simulating its policy in the engine.

The promised long-run cost per period must fall within about 4 standard errors
(twice the 95% half-width) of the simulated mean over independent replications.
"""

from __future__ import annotations

import pytest

import scenarios
from optimization.optimize import OptimizeError, best_capped_base_stock, optimize, verify

CASES = [
    ("single-stage", {"lead_time": 2, "penalty": 9.0}),  # Zipkin lost sales
    ("single-stage", {"lead_time": 1, "penalty": 4.0, "demand": "geometric"}),
    ("single-stage", {"lead_time": 2, "shortage": "backlog"}),  # newsvendor L+1
    ("single-stage", {"lead_time": 1, "shortage": "backlog", "fixed_cost": 20.0}),  # (s,S)
    ("serial", {}),  # Snyder & Shen Ex 6.1
    ("serial", {"demand": "poisson"}),
]


@pytest.mark.parametrize("scenario,params", CASES)
def test_promised_costs_match_the_engine(scenario, params):
    result = optimize(scenarios.make(scenario, **params))
    assert "exact_method_skipped" not in result.details
    assert result.optimal.value <= min(p.value for p in result.policies) + 1e-9
    rows = verify(result, periods=4_000, warmup=200, replications=5, seed=11)
    assert rows, "nothing was verified"
    for row in rows:
        lo, hi = row["ci95"]
        assert abs(row["simulated"] - row["promised"]) <= (hi - lo), row


def test_zipkin_lost_sales_names_and_order():
    """Zipkin (2008) Table 3, Poisson mean 5, h=1, p=4, L=2: optimal 4.40, myopic-2 4.41."""
    result = optimize(scenarios.make("single-stage", lead_time=2, penalty=4.0))
    names = [p.name for p in result.policies]
    assert names == [
        "myopic",
        "myopic-2",
        "best-base-stock",
        "best-capped-base-stock",
        "best-constant",
        "best-constant-rate",
    ]
    assert result.optimal.value == pytest.approx(4.40, abs=0.0051)
    assert dict((p.name, p.value) for p in result.policies)["myopic-2"] == pytest.approx(
        4.41, abs=0.0051
    )

    # best_capped_base_stock: the same entry, without the DP and the other heuristics
    entry = next(p for p in result.policies if p.name == "best-capped-base-stock")
    alone = best_capped_base_stock(scenarios.make("single-stage", lead_time=2, penalty=4.0))
    assert (alone.name, alone.value, alone.params) == (entry.name, entry.value, entry.params)
    assert alone.policy.level == entry.params["level"] and alone.policy.cap == entry.params["cap"]
    for bad, why in (({"shortage": "backlog"}, "lost-sales"), ({"demand": "normal"}, "Poisson")):
        with pytest.raises(OptimizeError, match=why):
            best_capped_base_stock(scenarios.make("single-stage", lead_time=2, **bad))


@pytest.mark.solver
def test_bounded_scenarios_put_the_bound_below_every_policy_on_the_same_paths():
    """Without an exact method: the perfect-information bound (Pyomo + HiGHS) on the
    sampled paths is below every heuristic's cost on those very paths, and verify()
    reproduces each heuristic's value exactly by re-simulating those paths."""
    result = optimize(scenarios.make("owmr", n_retailers=2), bound_periods=20, bound_replications=2)
    assert result.optimal.name == "perfect-information-bound" and result.optimal.policy is None
    assert {p.name for p in result.policies} == {
        "best-base-stock",
        "best-echelon-base-stock",
        "rolling-horizon",
    }
    for p in result.policies:
        assert result.optimal.value <= p.value + 1e-9
    for row in verify(result):
        assert row["simulated"] == pytest.approx(row["promised"], rel=1e-12)


def test_result_describes_the_problem_not_a_scenario_name():
    result = optimize(scenarios.make("single-stage", lead_time=1, shortage="backlog"))
    data = result.to_dict()
    assert data["problem"]["source"] == "single-stage"
    assert data["problem"]["params"] == {"lead_time": 1, "shortage": "backlog"}
    assert data["problem"]["kind"] == {
        "shape": "single-stage",
        "market": None,
        "shortage": "backlog",
    }
    assert "scenario" not in data and result.problem.name == "single-stage"


def test_continuous_review_gets_its_exact_optimum_and_the_engine_agrees():
    """Continuous time: optimize returns the exact (r, Q) of the continuous-review scenario
    (fixed cost) and verify's simulation of it agrees within its CI (multi-node continuous
    networks: tests/optimization/test_continuous_owmr.py)."""
    from optimization.optimize import verify

    res = optimize(scenarios.make("continuous-review", fixed_cost=20.0))
    assert res.optimal.name == "rq" and res.details["time"] == "continuous"
    assert (res.optimal.params["r"], res.optimal.params["Q"]) == (9, 16)
    checked = {row["name"]: row for row in verify(res, periods=4000, replications=6, seed=1)}
    assert set(checked) == {"rq", "base-stock"}  # the best (S-1, S) is listed beside it
    lo, hi = checked["rq"]["ci95"]
    assert lo - 0.05 <= res.optimal.value <= hi + 0.05
    assert all(row["inside"] for row in checked.values())
