"""Newsvendor and single-stage base-stock optimum (optimization/newsvendor.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from optimization.newsvendor import base_stock_backlog, newsvendor, newsvendor_cost


class FakeObs:
    """Just enough of des_supply.sim.Observation for policy.act()."""

    def __init__(self, positions: dict[str, float], t: int = 0) -> None:
        self.t, self.deciding, self._ip = t, tuple(positions), positions

    def inventory_position(self, node: str) -> float:
        return self._ip[node]

    def echelon_inventory_position(self, node: str) -> float:
        return self._ip[node]


# -- published values ------------------------------------------------------------------------


def test_example_4_1_normal():
    """Snyder & Shen, Fundamentals of Supply Chain Theory (2nd ed.), Example 4.1:
    h=0.18, p=0.7, D~N(50, 8) gives S*=56.6040 and g(S*)=1.9976 (4 decimals)."""
    r = newsvendor(0.18, 0.70, stats.norm(50, 8))
    assert r.base_stock_level == pytest.approx(56.6040, abs=5e-5)
    assert r.expected_cost == pytest.approx(1.9976, abs=5e-5)
    assert r == newsvendor(0.18, 0.70, mean=50, std=8)
    # same instance, g(40) = 7.3561 (the book's evaluation of a non-optimal level)
    assert newsvendor_cost(0.18, 0.70, mean=50, std=8, level=40) == pytest.approx(7.35613, abs=1e-5)


def test_example_4_4_lead_time():
    """Snyder & Shen Example 4.4: same costs and demand, lead time L=4; the relevant
    demand is that of L+1 = 5 periods, S* = 264.7669, g* = 4.4668."""
    r = base_stock_backlog(4, 0.18, 0.70, 50, "normal", demand_std=8)
    assert r.base_stock_level == pytest.approx(264.76689, abs=1e-4)
    assert r.expected_cost == pytest.approx(4.466781, abs=1e-5)


def test_example_4_7_poisson_without_fixed_cost():
    """Snyder & Shen Example 4.7 without K: h=1, p=4, Poisson(6) gives S*=8,
    g(8)=3.570107 and g(5)=6.590296."""
    r = newsvendor(1, 4, stats.poisson(6))
    assert r.base_stock_level == 8
    assert r.expected_cost == pytest.approx(3.570107, abs=1e-6)
    assert newsvendor_cost(1, 4, stats.poisson(6), 5) == pytest.approx(6.590296, abs=1e-6)
    pmf = stats.poisson.pmf(np.arange(41), 6)
    assert newsvendor(1, 4, pmf / pmf.sum()).base_stock_level == 8


def test_problem_4_7b_custom_pmf():
    """Snyder & Shen Problem 4.7(b): h=500000, p=1000000 and the pmf below give
    S*=5 with cost 1,225,000 (and 1,725,000 at S=3)."""
    pmf = {1: 0.25, 2: 0.05, 3: 0.1, 4: 0.2, 5: 0.15, 6: 0.10, 7: 0.10, 8: 0.05}
    r = newsvendor(500_000, 1_000_000, pmf)
    assert r.base_stock_level == 5
    assert r.expected_cost == pytest.approx(1_225_000)
    assert newsvendor_cost(500_000, 1_000_000, pmf, 3) == pytest.approx(1_725_000)


def test_problem_4_8b_lognormal():
    """Snyder & Shen Problem 4.8(b): h=1, p=0.1765, lognormal(mu=6, sigma=0.3):
    S* = 295.6266, g* = 29.4425; g(350) = 34.5888."""
    dist = stats.lognorm(0.3, 0, math.exp(6))
    r = newsvendor(1, 0.1765, dist)
    assert r.base_stock_level == pytest.approx(295.62664, abs=1e-4)
    assert r.expected_cost == pytest.approx(29.44254, abs=1e-4)
    assert newsvendor_cost(1, 0.1765, dist, 350) == pytest.approx(34.58884, abs=1e-4)


# -- independent checks ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(h=st.floats(0.05, 20), p=st.floats(0.05, 50), mean=st.floats(0.2, 60))
def test_discrete_fractile_and_local_optimality(h, p, mean):
    """S* is the critical fractile of F and no neighbouring integer is cheaper."""
    r = newsvendor(h, p, stats.poisson(mean))
    S, ratio = int(r.base_stock_level), p / (p + h)
    F = stats.poisson(mean).cdf
    assert F(S) >= ratio - 1e-12
    assert S == 0 or F(S - 1) < ratio + 1e-12
    for other in (S - 1, S + 1):
        assert r.expected_cost <= newsvendor_cost(h, p, stats.poisson(mean), other) + 1e-9
    # brute force of g by summation
    d = np.arange(int(stats.poisson(mean).isf(1e-16)) + 2)
    f = stats.poisson.pmf(d, mean)
    g = np.sum(f * (h * np.maximum(S - d, 0) + p * np.maximum(d - S, 0)))
    assert r.expected_cost == pytest.approx(g, rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    h=st.floats(0.05, 20), p=st.floats(0.05, 50), mean=st.floats(-20, 100), sd=st.floats(0.5, 30)
)
def test_normal_fractile_and_minimum(h, p, mean, sd):
    """F(S*) = p/(p+h); the closed form equals numerical integration and is minimal."""
    r = newsvendor(h, p, mean=mean, std=sd)
    assert stats.norm(mean, sd).cdf(r.base_stock_level) == pytest.approx(p / (p + h), abs=1e-9)
    integrated = h * stats.norm(mean, sd).expect(
        lambda x: r.base_stock_level - x, ub=r.base_stock_level
    ) + p * stats.norm(mean, sd).expect(lambda x: x - r.base_stock_level, lb=r.base_stock_level)
    assert r.expected_cost == pytest.approx(integrated, rel=1e-6)
    for delta in (-0.1 * sd, 0.1 * sd):
        assert r.expected_cost <= newsvendor_cost(
            h, p, mean=mean, std=sd, level=r.base_stock_level + delta
        )


def test_continuous_generic_path_matches_normal_closed_form():
    """A t distribution with huge df takes the numerical-integration path and must
    agree with the normal closed form."""
    r_t = newsvendor(0.18, 0.7, stats.t(1e7, 50, 8))
    r_n = newsvendor(0.18, 0.7, stats.norm(50, 8))
    assert r_t.base_stock_level == pytest.approx(r_n.base_stock_level, abs=1e-4)
    assert r_t.expected_cost == pytest.approx(r_n.expected_cost, abs=1e-5)


def test_base_stock_backlog_poisson_is_newsvendor_over_l_plus_1_periods():
    for (L, mu), (h, p) in [((3, 2.5), (1.0, 9.0)), ((0, 6.0), (1.0, 4.0))]:
        r = base_stock_backlog(L, h, p, mu, "poisson")
        nv = newsvendor(h, p, stats.poisson((L + 1) * mu))
        assert r.base_stock_level == nv.base_stock_level
        assert r.expected_cost == pytest.approx(nv.expected_cost, rel=1e-12)


@pytest.mark.parametrize("lead_time", [0, 2])
def test_base_stock_backlog_monte_carlo(lead_time):
    """Plain-numpy simulation of the order-before-demand timing (receive, order,
    demand, cost) under base-stock S*: the mean cost per period is within 4 SE."""
    h, p, mu = 1.0, 9.0, 4.0
    r = base_stock_backlog(lead_time, h, p, mu, "poisson")
    S = r.base_stock_level
    rng = np.random.default_rng(20240611)
    reps, periods, warmup = 2000, 220, 20
    net = np.full(reps, S)  # inventory level (on hand - backorders)
    pipe = np.zeros((lead_time + 1, reps))  # pipe[k]: due k+1 periods after this one
    total = np.zeros(reps)
    for t in range(periods):
        net += pipe[0]  # receive
        pipe = np.roll(pipe, -1, axis=0)
        pipe[-1] = 0.0
        order = np.maximum(S - (net + pipe.sum(axis=0)), 0.0)
        if lead_time == 0:
            net += order
        else:
            pipe[lead_time - 1] += order  # arrives at the start of period t + L
        net -= rng.poisson(mu, reps)
        if t >= warmup:
            total += h * np.maximum(net, 0) + p * np.maximum(-net, 0)
    means = total / (periods - warmup)
    se = means.std(ddof=1) / math.sqrt(reps)
    assert abs(means.mean() - r.expected_cost) < 4 * se


# -- policy and validation -------------------------------------------------------------------


def test_policy_orders_up_to_level():
    pol = newsvendor(1, 4, stats.poisson(6)).policy()
    assert pol.act(FakeObs({"store": 3.0})) == {"store": 5.0}
    assert pol.act(FakeObs({"store": 11.0})) == {"store": 0.0}


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(holding=-1, penalty=1, demand=stats.poisson(3)), "holding"),
        (dict(holding=1, penalty=0, demand=stats.poisson(3)), "penalty"),
        (dict(holding=1, penalty=1, demand={}), "demand"),
        (dict(holding=1, penalty=1, demand=[]), "demand"),
        (dict(holding=1, penalty=1, demand=[0.5, 0.4]), "demand"),
        (dict(holding=1, penalty=1, demand={-1: 1.0}), "demand"),
        (dict(holding=1, penalty=1, mean=5, std=-1), "std"),
        (dict(holding=1, penalty=1), "demand"),
    ],
)
def test_newsvendor_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        newsvendor(**kwargs)


@pytest.mark.parametrize(
    "args, kwargs, word",
    [
        ((-1, 1, 1, 5), {}, "lead_time"),
        ((1.5, 1, 1, 5), {}, "lead_time"),
        ((1, -1, 1, 5), {}, "holding"),
        ((1, 1, -2, 5), {}, "penalty"),
        ((1, 1, 1, -5), {}, "demand_mean"),
        ((1, 1, 1, 5), dict(demand="normal"), "demand_std"),
        ((1, 1, 1, 5), dict(demand="gamma"), "demand"),
    ],
)
def test_base_stock_backlog_rejects_bad_input(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        base_stock_backlog(*args, **kwargs)


def test_docstring_examples():
    """The module's doctest examples run as written."""
    import doctest

    import optimization.newsvendor as module

    assert doctest.testmod(module).failed == 0
