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
from optimization.recommendation_mip import MIPRecommendationPolicy


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
