"""Exact optimal (s, S) policies (optimization/ss_policy.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from optimization.newsvendor import newsvendor
from optimization.ss_policy import optimal_ss, ss_cost


class FakeObs:
    """Just enough of des_supply.sim.Observation for policy.act()."""

    def __init__(self, positions: dict[str, float], t: int = 0) -> None:
        self.t, self.deciding, self._ip = t, tuple(positions), positions

    def inventory_position(self, node: str) -> float:
        return self._ip[node]

    def echelon_inventory_position(self, node: str) -> float:
        return self._ip[node]


# Zheng & Federgruen (1991), Operations Research 39(4), Table I: h=1, p=9, K=64, lead
# time 0, Poisson demand with the means below; optimal s*, S* and c(s*, S*) (3 decimals).
# (Values as carried in stockpyl's tests/test_ss.py.)
ZF_MU = list(range(10, 80, 5)) + [21, 22, 23, 24, 51, 52, 59, 61, 63, 64]
ZF_S_LOW = [
    6,
    10,
    14,
    19,
    23,
    28,
    33,
    37,
    42,
    47,
    52,
    56,
    62,
    67,
    15,
    16,
    17,
    18,
    43,
    44,
    51,
    52,
    54,
    55,
]
ZF_S_UP = [
    40,
    49,
    62,
    56,
    66,
    77,
    87,
    97,
    108,
    118,
    129,
    75,
    81,
    86,
    65,
    68,
    52,
    54,
    110,
    112,
    126,
    131,
    73,
    74,
]
ZF_COST = [
    35.022,
    42.698,
    49.173,
    54.262,
    57.819,
    61.215,
    64.512,
    67.776,
    70.975,
    74.149,
    77.306,
    78.518,
    79.037,
    79.554,
    50.406,
    51.632,
    52.757,
    53.518,
    71.611,
    72.246,
    76.679,
    77.929,
    78.287,
    78.402,
]


# -- published values ------------------------------------------------------------------------


def test_example_4_7():
    """Snyder & Shen, Fundamentals of Supply Chain Theory (2nd ed.), Example 4.7:
    h=1, p=4, K=5, Poisson(6): (s*, S*) = (4, 10), g = 8.034112; g(6, 18) = 10.193799."""
    r = optimal_ss(1, 4, 5, stats.poisson(6))
    assert (r.reorder_point, r.order_up_to_level) == (4, 10)
    assert r.expected_cost == pytest.approx(8.0341116, abs=1e-6)
    assert ss_cost(6, 18, 1, 4, 5, stats.poisson(6)) == pytest.approx(10.1937987, abs=1e-6)


def test_problem_4_31():
    """Snyder & Shen Problem 4.31: h=40, p=125, K=150, Poisson(4): (2, 7), 223.57483;
    c(4, 10) = 262.27556."""
    r = optimal_ss(40, 125, 150, stats.poisson(4))
    assert (r.reorder_point, r.order_up_to_level) == (2, 7)
    assert r.expected_cost == pytest.approx(223.574830, abs=1e-5)
    assert ss_cost(4, 10, 40, 125, 150, stats.poisson(4)) == pytest.approx(262.275561, abs=1e-5)


@pytest.mark.parametrize("i", range(len(ZF_MU)))
def test_zheng_federgruen_table(i):
    """Zheng & Federgruen (1991) Table I (all 24 instances): s*, S* exactly and the
    optimal cost to the published 3 decimals."""
    r = optimal_ss(1, 9, 64, stats.poisson(ZF_MU[i]))
    assert (r.reorder_point, r.order_up_to_level) == (ZF_S_LOW[i], ZF_S_UP[i])
    assert r.expected_cost == pytest.approx(ZF_COST[i], abs=5e-4 + 1e-9)


# -- independent checks ----------------------------------------------------------------------


def _markov_cost(s, S, h, p, K, pmf, lead_time):
    """Brute force: stationary distribution of the inventory position after ordering
    (states s+1..S) and the expected cost per period, by plain linear algebra."""
    states = np.arange(s + 1, S + 1)
    n = states.size
    P = np.zeros((n, n))
    for a, y in enumerate(states):
        for d, prob in enumerate(pmf):
            nxt = y - d
            P[a, nxt - s - 1 if nxt > s else n - 1] += prob
    A = np.vstack([P.T - np.eye(n), np.ones(n)])
    pi = np.linalg.lstsq(A, np.append(np.zeros(n), 1.0), rcond=None)[0]
    lead = np.ones(1)
    for _ in range(lead_time + 1):
        lead = np.convolve(lead, pmf)
    d = np.arange(lead.size)
    G = np.array(
        [np.sum(lead * (h * np.maximum(y - d, 0) + p * np.maximum(d - y, 0))) for y in states]
    )
    reorder = np.array([pmf[max(0, y - s) :].sum() for y in states])  # P(y - D <= s)
    return float(pi @ (G + K * reorder))


def _poisson(mean, n=None):
    n = n or int(mean + 20 * np.sqrt(mean) + 20)
    pmf = stats.poisson.pmf(np.arange(n), mean)
    return pmf / pmf.sum()


@pytest.mark.parametrize(
    "s, S, lead_time", [(4, 10, 0), (6, 18, 0), (-3, 5, 0), (15, 30, 2), (0, 1, 1)]
)
def test_cost_equals_markov_chain(s, S, lead_time):
    """The renewal formula c(s, S) equals the Markov-chain evaluation."""
    pmf = _poisson(6)
    exact = _markov_cost(s, S, 1, 4, 5, pmf, lead_time)
    assert ss_cost(s, S, 1, 4, 5, stats.poisson(6), lead_time) == pytest.approx(exact, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    probs=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6).filter(
        lambda v: sum(v) > 0.1 and sum(v[1:]) > 0.05
    ),
    s=st.integers(-4, 6),
    gap=st.integers(1, 9),
    lead_time=st.integers(0, 2),
    K=st.floats(0, 20),
)
def test_cost_equals_markov_chain_custom_pmf(probs, s, gap, lead_time, K):
    """Same check on random pmfs, including P(D = 0) > 0."""
    pmf = np.asarray(probs) / sum(probs)
    exact = _markov_cost(s, s + gap, 1.5, 7.0, K, pmf, lead_time)
    assert ss_cost(s, s + gap, 1.5, 7.0, K, list(pmf), lead_time) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize(
    "h, p, K, mean, lead_time",
    [
        (1, 4, 5, 6, 0),
        (1, 9, 20, 3, 1),
        (2, 5, 50, 2.5, 2),
        (1, 19, 1, 4, 0),
        (3, 2, 8, 5, 1),
    ],
)
def test_optimum_equals_grid_search(h, p, K, mean, lead_time):
    """optimal_ss equals the best pair of an exhaustive search over a wide box."""
    r = optimal_ss(h, p, K, stats.poisson(mean), lead_time)
    centre = int((lead_time + 1) * mean)
    best = min(
        (ss_cost(s, S, h, p, K, stats.poisson(mean), lead_time), s, S)
        for s in range(centre - 12, centre + 6)
        for S in range(s + 1, centre + 30)
    )
    assert r.expected_cost == pytest.approx(best[0], rel=1e-12)
    assert r.expected_cost == pytest.approx(
        ss_cost(r.reorder_point, r.order_up_to_level, h, p, K, stats.poisson(mean), lead_time),
        rel=1e-12,
    )


@pytest.mark.parametrize("lead_time", [0, 3])
def test_zero_fixed_cost_is_base_stock(lead_time):
    """With K = 0 the optimal (s, S) is the newsvendor level over L+1 periods, s = S - 1."""
    r = optimal_ss(1, 9, 0, stats.poisson(4), lead_time)
    nv = newsvendor(1, 9, stats.poisson(4 * (lead_time + 1)))
    assert r.order_up_to_level == nv.base_stock_level
    assert r.reorder_point == r.order_up_to_level - 1
    assert r.expected_cost == pytest.approx(nv.expected_cost, rel=1e-12)


# -- policy and validation -------------------------------------------------------------------


def test_policy_is_engine_ss():
    pol = optimal_ss(1, 4, 5, stats.poisson(6)).policy()
    assert pol.act(FakeObs({"a": 4.0, "b": 5.0, "c": -2.0})) == {"a": 6.0, "b": 0.0, "c": 12.0}


@pytest.mark.parametrize(
    "args, word",
    [
        ((-1, 4, 5, stats.poisson(6)), "holding"),
        ((1, 0, 5, stats.poisson(6)), "penalty"),
        ((1, 4, -5, stats.poisson(6)), "fixed_cost"),
        ((1, 4, 5, stats.poisson(6), -1), "lead_time"),
        ((1, 4, 5, []), "demand"),
        ((1, 4, 5, [1.0]), "demand"),
        ((1, 4, 5, {0: 0.5, 2: 0.4}), "demand"),
    ],
)
def test_rejects_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        optimal_ss(*args)
    with pytest.raises(ValueError):
        ss_cost(0, 3, *args)


def test_cost_needs_s_below_S():
    with pytest.raises(ValueError, match="S"):
        ss_cost(5, 5, 1, 4, 5, stats.poisson(6))


def test_docstring_examples():
    """The module's doctest examples run as written."""
    import doctest

    import optimization.ss_policy as module

    assert doctest.testmod(module).failed == 0
