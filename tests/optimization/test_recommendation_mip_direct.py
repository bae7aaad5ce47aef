"""Direct re-solves of the recommendation MPC (``MIPRecommendationPolicy(resolve="direct")``)
against the Pyomo persistent path: the same orders and recommendations epoch by epoch and
the same ledger, on lost sales, backlog and a third instance (patterns on the products axis,
whole-unit orders, relaxed future choices, a fixed safety stock)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scenarios
from des_supply.recommendation import KEY
from des_supply.sim import Simulation
from optimization import recommendation_mip
from optimization.recommendation_mip import MIPRecommendationPolicy
from optimization.solve import SolverError


class Recorder:
    """Wraps a policy and keeps every action (orders, recommendation) it returns."""

    def __init__(self, policy):
        self.policy, self.seen = policy, []

    def act(self, obs):
        action = self.policy.act(obs)
        self.seen.append((dict(action.orders), np.array(action.extra[KEY])))
        return action


def run(params: dict, resolve: str, periods: int, seed: int, **kw):
    net = scenarios.make("recommendation-small", **params).network
    market = scenarios.make_market("recommendation-small", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # horizon vs lead time
        mpc = MIPRecommendationPolicy(net, market, resolve=resolve, **kw)
    rec = Recorder(mpc)
    ledger = Simulation(net, periods, seed, scenarios.make_market("recommendation-small", **params))
    return rec, mpc, ledger.run(rec)


@pytest.mark.parametrize(
    "params,kw",
    [
        ({"shortage": "lost"}, {"horizon": 4, "safety_stock": "auto"}),
        ({"shortage": "backlog"}, {"horizon": 4, "safety_stock": "auto"}),
        (
            {"axis": "products"},
            {
                "horizon": 3,
                "family": "all",
                "safety_stock": 1.5,
                "integer": True,
                "relax_future": True,
            },
        ),
    ],
)
def test_direct_resolves_give_the_same_plans_as_pyomo(params, kw):
    periods, seed = 10, 3
    a, mpc_a, ledger_a = run(params, "pyomo", periods, seed, **kw)
    b, mpc_b, ledger_b = run(params, "direct", periods, seed, **kw)
    assert len(a.seen) == len(b.seen) == periods
    for t, ((orders_a, alpha_a), (orders_b, alpha_b)) in enumerate(
        zip(a.seen, b.seen, strict=True)
    ):
        assert orders_a == orders_b, f"epoch {t}"
        assert np.array_equal(alpha_a, alpha_b), f"epoch {t}"
    assert mpc_a.terminations == mpc_b.terminations
    assert mpc_a.last_report.objective == mpc_b.last_report.objective
    assert ledger_a.data.keys() == ledger_b.data.keys()
    for field, values in ledger_a.data.items():
        assert np.array_equal(values, ledger_b[field]), field
    # the plans are not trivial: something is ordered and recommendations change
    assert any(sum(o.values()) > 0 for o, _ in b.seen)
    assert len({alpha.tobytes() for _, alpha in b.seen}) > 1


def test_resolve_mode_is_checked():
    net = scenarios.make("recommendation-small").network
    with pytest.raises(ValueError, match="resolve"):
        MIPRecommendationPolicy(net, scenarios.make_market("recommendation-small"), 3, resolve="x")


# -- the default path against HiGHS's defaults with no memory (the path before both) -------
CASES = [
    ({"shortage": "lost"}, {"horizon": 4, "safety_stock": "auto"}),
    ({"shortage": "backlog"}, {"horizon": 4, "safety_stock": "auto"}),
    (
        {"axis": "products"},
        {"horizon": 3, "family": "all", "integer": True, "relax_future": True},
    ),
]


@pytest.mark.parametrize("params,kw", CASES)
def test_default_path_gives_the_plans_of_highs_defaults_without_memory(params, kw, monkeypatch):
    """MPC_HIGHS_OPTIONS and the memory of solved states change no plan, epoch by epoch."""
    periods, seed = 16, 0
    new, mpc_new, ledger_new = run(params, "direct", periods, seed, **kw)
    monkeypatch.setattr(recommendation_mip, "MPC_HIGHS_OPTIONS", {})
    monkeypatch.setattr(recommendation_mip, "MPC_MEMO_SIZE", 0)
    old, mpc_old, ledger_old = run(params, "direct", periods, seed, **kw)
    assert mpc_old.memo_hits == 0 and len(mpc_old.solver_times) == periods
    assert mpc_new.memo_hits + len(mpc_new.solver_times) == periods
    for t, ((orders_a, alpha_a), (orders_b, alpha_b)) in enumerate(
        zip(old.seen, new.seen, strict=True)
    ):
        assert orders_a == orders_b, f"epoch {t}"
        assert np.array_equal(alpha_a, alpha_b), f"epoch {t}"
    assert mpc_old.terminations == mpc_new.terminations
    assert np.array_equal(ledger_old.profit(), ledger_new.profit())


def test_memory_is_used_on_repeated_states():
    """Whole units on the products axis revisit states: most epochs are not re-solved."""
    params, kw = CASES[2]
    _, mpc, _ = run(params, "direct", 16, 0, **kw)
    assert mpc.memo_hits >= 4


class StubObservation:
    """The part of an Observation the MPC reads: on hand, backlog, pipeline."""

    def __init__(self, on_hand: dict[str, float], t: int = 0):
        self.stock, self.t, self.deciding = on_hand, t, tuple(on_hand)

    def on_hand(self, n: str) -> float:
        return self.stock[n]

    def backlog(self, n: str) -> float:
        return 0.0

    def pipeline(self, n: str, k: int) -> tuple[float, ...]:
        return (0.0,) * k


def mpc_small(**kw) -> MIPRecommendationPolicy:
    net = scenarios.make("recommendation-small", shortage="lost").network
    market = scenarios.make_market("recommendation-small", shortage="lost")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MIPRecommendationPolicy(net, market, 4, safety_stock="auto", **kw)


@pytest.mark.parametrize("resolve", ["direct", "pyomo"])
def test_a_remembered_state_gets_its_own_plan(resolve):
    """The answer to a state seen before is that state's plan, not the last one."""
    mpc, fresh = mpc_small(resolve=resolve), mpc_small(resolve=resolve)
    low, high = (
        StubObservation({"p0": 0, "p1": 0, "p2": 0}),
        StubObservation({"p0": 30, "p1": 30, "p2": 30}),
    )
    first = mpc.act(low)
    second = mpc.act(high)
    assert first.orders != second.orders  # the two states do call for different plans
    again = mpc.act(low)
    assert mpc.memo_hits == 1
    assert again.orders == first.orders == fresh.act(low).orders
    assert np.array_equal(again.extra[KEY], first.extra[KEY])
    assert mpc.last_report is not None and mpc.last_report.optimal


@pytest.mark.parametrize("resolve", ["direct", "pyomo"])
def test_failed_solve_reports_its_status_every_time(resolve):
    """An infeasible state (negative stock under lost sales) raises with the termination,
    and again when it comes back: failures are not remembered."""
    mpc = mpc_small(resolve=resolve)
    bad = StubObservation({"p0": -100.0, "p1": 0.0, "p2": 0.0})
    for _ in range(2):
        with pytest.raises(SolverError, match="termination=provenInfeasible") as err:
            mpc.act(bad)
        assert err.value.termination == "provenInfeasible"
    assert mpc.memo_hits == 0
    ok = mpc.act(StubObservation({"p0": 5.0, "p1": 5.0, "p2": 5.0}))
    assert mpc.last_report is not None and mpc.last_report.optimal and ok.orders is not None
