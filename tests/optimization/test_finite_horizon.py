"""Finite-horizon DP for the single-stage backlog model (optimization/finite_horizon.py)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import stats

from optimization.finite_horizon import TimeVaryingSS, finite_horizon
from optimization.newsvendor import base_stock_backlog, newsvendor
from optimization.ss_policy import optimal_ss


class FakeObs:
    """Just enough of des_supply.sim.Observation for policy.act()."""

    def __init__(self, positions: dict[str, float], t: int = 0) -> None:
        self.t, self.deciding, self._ip = t, tuple(positions), positions

    def inventory_position(self, node: str) -> float:
        return self._ip[node]

    def echelon_inventory_position(self, node: str) -> float:
        return self._ip[node]


# -- brute force: physical state (inventory level, pipeline), tree of demand outcomes -------


def _brute_force(pmfs, h, p, K, c, hT, pT, gamma, L, level0, pipe0, policy=None, qmax=8):
    """Optimal (or ``policy``'s) expected discounted cost by exhaustive recursion over
    order quantities 0..qmax and demand outcomes, with the engine's order-before-demand
    timing: receive, order (arrives after L periods), demand, charge.  Holding and
    backorder costs of periods 0..L-1 (fixed by the initial pipeline) are left out."""
    n, T = len(pmfs), len(pmfs) - L

    @cache
    def V(t, level, pipe):
        if t == n:
            return hT * max(level, 0) + pT * max(-level, 0)
        if L:
            level, pipe = level + pipe[0], pipe[1:] + (0,)
        if t >= T:
            choices = [0]
        elif policy is not None:
            s, S = policy
            ip = level + sum(pipe)
            choices = [S[t] - ip if ip <= s[t] else 0]
        else:
            choices = range(qmax + 1)
        best = np.inf
        for q in choices:
            lv, pp = (level + q, pipe) if L == 0 else (level, pipe[: L - 1] + (pipe[L - 1] + q,))
            val = (K if q > 0 else 0.0) + c * q
            for d, prob in enumerate(pmfs[t]):
                if prob == 0:
                    continue
                nxt = lv - d
                charge = (h * max(nxt, 0) + p * max(-nxt, 0)) if t >= L else 0.0
                val += prob * (charge + gamma * V(t + 1, nxt, pp))
            best = min(best, val)
        return best

    return V(0, level0, tuple(pipe0))


TINY = dict(h=1.0, p=4.0, K=3.0, c=1.0, hT=0.5, pT=6.0, gamma=0.9)
TINY_PMFS = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.3, 0.6], [0.5, 0.5]]


@pytest.mark.parametrize(
    "L, level0, pipe0",
    [(0, 0, ()), (0, 3, ()), (0, -2, ()), (1, 1, (1,)), (1, -1, (0,)), (2, 0, (1, 2))],
)
def test_tiny_instance_equals_brute_force(L, level0, pipe0):
    """A 4-period instance with non-stationary demand on {0, 1, 2}, fixed and unit
    ordering costs, terminal costs and discounting: the DP optimum equals the
    exhaustive search, and its (s_t, S_t) policy attains it."""
    a = TINY
    r = finite_horizon(
        TINY_PMFS,
        a["h"],
        a["p"],
        fixed_cost=a["K"],
        unit_cost=a["c"],
        terminal_holding=a["hT"],
        terminal_penalty=a["pT"],
        discount=a["gamma"],
        lead_time=L,
        initial_inventory=level0 + sum(pipe0),
    )
    args = (
        TINY_PMFS,
        a["h"],
        a["p"],
        a["K"],
        a["c"],
        a["hT"],
        a["pT"],
        a["gamma"],
        L,
        level0,
        pipe0,
    )
    assert r.expected_cost == pytest.approx(_brute_force(*args), rel=1e-12)
    policy = (r.reorder_points, r.order_up_to_levels)
    assert _brute_force(*args, policy=policy) == pytest.approx(r.expected_cost, rel=1e-12)


def test_stationary_long_horizon_is_myopic():
    """Stationary Poisson(5), h=1, p=9, c=2, gamma=0.95, K=0, 30 periods: the early
    base-stock levels equal the myopic level F^{-1}((p - (1 - gamma) c) / (p + h))
    (Snyder & Shen Sec. 4.5.4); the last one is the newsvendor level with
    overage cost h + c, since leftovers are worth nothing."""
    h, p, c, gamma = 1.0, 9.0, 2.0, 0.95
    r = finite_horizon([5.0] * 30, h, p, unit_cost=c, discount=gamma)
    myopic = stats.poisson(5).ppf((p - (1 - gamma) * c) / (p + h))
    assert r.base_stock_levels[:20] == (myopic,) * 20
    assert r.reorder_points == tuple(S - 1 for S in r.base_stock_levels)
    assert r.base_stock_levels[-1] == newsvendor(h + c, p - c, stats.poisson(5)).base_stock_level


def test_stationary_with_lead_time_is_base_stock():
    """With L=2 and no ordering costs the levels equal the infinite-horizon base-stock
    level over L+1 periods, and the cost per decision period equals its cost."""
    r = finite_horizon(
        [4.0] * 40,
        1.0,
        9.0,
        lead_time=2,
        initial_inventory=int(base_stock_backlog(2, 1, 9, 4).base_stock_level),
    )
    bs = base_stock_backlog(2, 1.0, 9.0, 4.0)
    assert set(r.base_stock_levels) == {bs.base_stock_level}
    assert r.expected_cost / 38 == pytest.approx(bs.expected_cost, rel=1e-9)


def test_long_horizon_with_fixed_cost_reaches_zheng_federgruen():
    """Stationary Poisson(10), h=1, p=9, K=64 over 60 periods: (s_0, S_0) is the
    infinite-horizon optimum (6, 40) of Zheng & Federgruen (1991), Table I."""
    r = finite_horizon([10.0] * 60, 1.0, 9.0, fixed_cost=64.0)
    zf = optimal_ss(1.0, 9.0, 64.0, stats.poisson(10))
    assert (
        (r.reorder_points[0], r.order_up_to_levels[0])
        == (zf.reorder_point, zf.order_up_to_level)
        == (6, 40)
    )


def test_pmf_inputs_equal_poisson_means():
    means = [3.0, 7.5, 1.0, 4.0]
    r1 = finite_horizon(means, 1.0, 5.0, fixed_cost=10.0)
    r2 = finite_horizon([stats.poisson(m) for m in means], 1.0, 5.0, fixed_cost=10.0)
    assert r1.order_up_to_levels == r2.order_up_to_levels
    assert r1.reorder_points == r2.reorder_points
    assert r1.expected_cost == pytest.approx(r2.expected_cost, rel=1e-12)


# -- the engine policy -----------------------------------------------------------------------


def test_time_varying_policy_act():
    pol = finite_horizon(TINY_PMFS, 1.0, 4.0, fixed_cost=3.0).policy()
    assert isinstance(pol, TimeVaryingSS)
    fixed = TimeVaryingSS(s=(2, 0, 5), S=(6, 4, 9))
    assert fixed.act(FakeObs({"a": 2.0, "b": 3.0}, t=0)) == {"a": 4.0, "b": 0.0}
    assert fixed.act(FakeObs({"a": 0.0, "b": -1.5}, t=1)) == {"a": 4.0, "b": 5.5}
    assert fixed.act(FakeObs({"a": 5.0}, t=2)) == {"a": 4.0}
    assert fixed.act(FakeObs({"a": 5.0}, t=50)) == {"a": 4.0}  # holds the last pair
    assert fixed.act(FakeObs({"a": 5.5}, t=50)) == {"a": 0.0}
    with pytest.raises(ValueError, match="obs.t"):
        fixed.act(FakeObs({"a": 0.0}, t=-1))


@pytest.mark.parametrize("s, S", [((1, 2), (3,)), ((), ()), ((4,), (4,))])
def test_time_varying_policy_rejects_bad_levels(s, S):
    with pytest.raises(ValueError):
        TimeVaryingSS(s, S)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(demand=[]), "demand"),
        (dict(demand=[3.0, -1.0]), "demand_mean"),
        (dict(demand=[[0.5, 0.4]]), r"demand\[0\]"),
        (dict(holding=-1.0), "holding"),
        (dict(penalty=0.0), "penalty"),
        (dict(fixed_cost=-1.0), "fixed_cost"),
        (dict(unit_cost=-1.0), "unit_cost"),
        (dict(terminal_penalty=-1.0), "terminal_penalty"),
        (dict(discount=1.5), "discount"),
        (dict(lead_time=-1), "lead_time"),
        (dict(lead_time=3), "lead_time"),
        (dict(initial_inventory=1.5), "initial_inventory"),
    ],
)
def test_rejects_bad_input(kwargs, word):
    args = dict(demand=[3.0, 3.0, 3.0], holding=1.0, penalty=4.0) | kwargs
    with pytest.raises(ValueError, match=word):
        finite_horizon(**args)


def test_docstring_examples():
    """The module's doctest examples run as written."""
    import doctest

    import optimization.finite_horizon as module

    assert doctest.testmod(module).failed == 0
