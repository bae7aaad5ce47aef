"""Simulated costs against closed forms and published values.

Each test cites its source.  Statistical checks use independent replications
(``des_supply.evaluate.simulate``) and a 99% Student-t interval over them, on
fixed seeds, so they are deterministic; the long versions are marked ``slow``
(``python -m pytest -m slow``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

import scenarios
from des_supply import (
    RQ,
    BaseStock,
    Deterministic,
    EchelonBaseStock,
    Edge,
    Empirical,
    Network,
    Node,
    Normal,
    Poisson,
    Shifted,
    Simulation,
)
from des_supply.evaluate import simulate


def ci99(samples) -> tuple[float, float]:
    x = np.asarray(samples, dtype=float)
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def poisson_base_stock_cost(level: int, mean: float, h: float, b: float) -> float:
    """E[h (S - D)^+ + b (D - S)^+] for D ~ Poisson(mean)."""
    k = np.arange(0, int(mean + 20 * math.sqrt(mean + 1) + 50))
    p = stats.poisson.pmf(k, mean)
    return float(np.sum(p * (h * np.maximum(level - k, 0) + b * np.maximum(k - level, 0))))


def normal_newsvendor_cost(level: float, mu: float, sigma: float, h: float, p: float) -> float:
    """g(S) = h E(S - D)^+ + p E(D - S)^+ for D ~ N(mu, sigma^2) (Snyder & Shen eq. 4.4)."""
    z = (level - mu) / sigma
    over = sigma * (z * stats.norm.cdf(z) + stats.norm.pdf(z))  # E(S - D)^+
    under = over - (level - mu)  # E(D - S)^+
    return h * over + p * under


# -- (a) single-stage backlog base-stock ------------------------------------------------------


@pytest.mark.parametrize("timing", ["order-before-demand", "order-after-demand"])
@pytest.mark.parametrize("lead_time, level", [(0, 8), (1, 14), (2, 18), (2, 20), (3, 26)])
def test_single_stage_backlog_base_stock(lead_time, level, timing):
    """Periodic-review base-stock with backlogging: the end-of-period net inventory is
    S - D, D the demand over the periods an order must cover, so the mean cost per period
    is E[h (S - D)^+ + b (D - S)^+] (Zipkin, *Foundations of Inventory Management*, 2000,
    sec. 6.2; Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., sec. 4.3).

    With orders placed before demand, the order of period t arrives at the start of
    t + L and covers L + 1 periods: D ~ Poisson(5 (L + 1)).  Placed after demand it
    covers L periods: D ~ Poisson(5 L) (for L = 0 the cost is h S exactly).
    """
    net = scenarios.make("single-stage", lead_time=lead_time, shortage="backlog").network
    net = replace(net, order_timing=timing)
    covered = lead_time + 1 if timing == "order-before-demand" else lead_time
    expected = poisson_base_stock_cost(level, 5.0 * covered, h=1.0, b=9.0)
    res = simulate(net, BaseStock(level), periods=2_500, warmup=20, replications=10, seed=2024)
    lo, hi = ci99(res.per_replication)
    assert lo <= expected <= hi, (expected, lo, hi)


# -- (b) newsvendor ----------------------------------------------------------------------------


def newsvendor(shortage: str = "backlog") -> Network:
    """Snyder & Shen Example 4.1: h = 0.18, p = 0.7, D ~ N(50, 8), lead time 0."""
    return Network(
        (
            Node("supplier", kind="supply"),
            Node(
                "store",
                holding_cost=0.18,
                shortage_cost=0.7,
                shortage=shortage,
                demand=Normal(50, 8),
                initial_on_hand=50.0,
            ),
        ),
        (Edge("supplier", "store", lead_time=0),),
        name="newsvendor",
    )


def test_newsvendor_closed_form_matches_the_book():
    """Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., Example 4.1:
    S* = mu + sigma Phi^-1(p / (p + h)) = 56.604 and g(S*) = 1.9976."""
    s_star = 50 + 8 * stats.norm.ppf(0.7 / (0.7 + 0.18))
    assert s_star == pytest.approx(56.604, abs=1e-3)
    assert normal_newsvendor_cost(s_star, 50, 8, 0.18, 0.7) == pytest.approx(1.9976, abs=1e-4)


@pytest.mark.parametrize("shortage", ["backlog", "lost"])
@pytest.mark.parametrize("level", [50.0, 56.604, 64.0])
def test_newsvendor_simulated(shortage, level):
    """Lead time 0: the order of period t arrives before its demand, so every period is a
    newsvendor with stock S (Snyder & Shen, 2nd ed., sec. 4.3; Example 4.1 data).  The
    penalty per unit backlogged at period end equals the one per unit lost here."""
    net = newsvendor(shortage)
    assert net.continuous
    expected = normal_newsvendor_cost(level, 50, 8, 0.18, 0.7)
    res = simulate(net, BaseStock(level), periods=2_000, warmup=1, replications=10, seed=7)
    lo, hi = ci99(res.per_replication)
    assert lo <= expected <= hi, (expected, lo, hi)


@pytest.mark.slow
def test_newsvendor_example_4_1_long_run():
    """Snyder & Shen, 2nd ed., Example 4.1 (STYLE.md sec. 2.8): base-stock 56.604 for 10^5
    periods; the mean cost is within 3 standard errors of g* = 1.9976."""
    ledger = Simulation(newsvendor(), 100_000, seed=41).run(BaseStock(56.604))
    cost = ledger.cost()[1:]
    se = cost.std(ddof=1) / math.sqrt(len(cost))  # periods are independent at lead time 0
    assert abs(cost.mean() - 1.9976) < 3 * se


# -- (c) Snyder & Shen Example 6.1 --------------------------------------------------------------

EXAMPLE_6_1 = EchelonBaseStock({"stage1": 6.49, "stage2": 12.02, "stage3": 22.71})
BOOK_COSTS = (47.65, 47.77)  # book (Example 6.1) and stockpyl's exact evaluation


def test_serial_example_6_1():
    """Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., Example 6.1 (Clark &
    Scarf 1960; Chen & Zheng 1994): under echelon base-stock levels (6.49, 12.02, 22.71) the
    expected cost is 47.65 per period (stockpyl's exact evaluation: 47.77).  The levels are
    rounded to two decimals, so the simulated 99% CI is widened by 0.3."""
    res = simulate(
        scenarios.make("serial").network,
        EXAMPLE_6_1,
        periods=5_000,
        warmup=200,
        replications=10,
        seed=0,
    )
    lo, hi = ci99(res.per_replication)
    for book in BOOK_COSTS:
        assert lo - 0.3 <= book <= hi + 0.3, (book, lo, hi)


@pytest.mark.slow
def test_serial_example_6_1_long_run():
    """Snyder & Shen, 2nd ed., Example 6.1, 20 x 20 000 periods: the book's 47.65 lies within
    the simulated 99% CI widened by 0.1."""
    res = simulate(
        scenarios.make("serial").network,
        EXAMPLE_6_1,
        periods=20_000,
        warmup=200,
        replications=20,
        seed=1,
        processes=2,
    )
    lo, hi = ci99(res.per_replication)
    assert lo - 0.1 <= BOOK_COSTS[0] <= hi + 0.1, (lo, hi)


# -- (d) deterministic demand: exact costs ---------------------------------------------------


def test_deterministic_base_stock_cost_is_exact():
    """Deterministic demand d = 4, lead time L = 2, order before demand: base-stock S covers
    d (L + 1) = 12 plus a safety stock of 2, so after the first L periods every period ends
    with exactly 2 units on hand and no backlog: cost h x 2 per period (e.g. Snyder & Shen,
    2nd ed., sec. 4.3 with sigma = 0)."""
    net = Network(
        (
            Node("plant", kind="supply"),
            Node(
                "store",
                holding_cost=0.5,
                shortage_cost=10,
                demand=Deterministic(4),
                initial_on_hand=14,
            ),
        ),
        (Edge("plant", "store", lead_time=2),),
    )
    res = simulate(net, BaseStock(14), periods=300, warmup=2, replications=3, seed=0)
    assert res.mean == 1.0 and res.per_replication.tolist() == [1.0] * 3
    assert res.ci95 == (1.0, 1.0)
    assert res.fill_rate == 1.0 and res.nodes["store"].backlog == 0
    ledger = Simulation(net, 6).run(BaseStock(14))
    assert ledger.column("on_hand", "store").tolist() == [10, 6, 2, 2, 2, 2]


def test_deterministic_rq_is_the_eoq_cycle():
    """EOQ in periods (Harris 1913; Snyder & Shen, 2nd ed., ch. 3): with d = 4, L = 0 and an
    (r, Q) = (0, 12) policy the cycle lasts Q / d = 3 periods, ends with (Q - d) / 2 = 4 units
    on average, and costs K d / Q + h (Q - d) / 2 = 9/3 + 4 = 7 per period."""
    net = Network(
        (
            Node("plant", kind="supply"),
            Node(
                "store",
                holding_cost=1.0,
                shortage_cost=10,
                fixed_order_cost=9,
                demand=Deterministic(4),
            ),
        ),
        (Edge("plant", "store", lead_time=0),),
    )
    ledger = Simulation(net, 300).run(RQ(r=0, Q=12))
    assert ledger.cost().mean() == 7.0
    assert ledger.column("ordered", "store")[:6].tolist() == [12, 0, 0, 12, 0, 0]


# -- (e) Little's law for the pipeline --------------------------------------------------------


@pytest.mark.parametrize(
    "lead_time",
    [Shifted(Poisson(1.5), 1), Empirical((1.0, 4.0), (0.5, 0.5))],
    ids=["poisson", "2pt"],
)
def test_littles_law_in_transit(lead_time):
    """Little's law, L = lambda W (Little 1961): the mean number of units in transit at period
    end equals the mean shipping rate times the mean lead time (a unit shipped in period t
    with lead time l is counted at the end of periods t, ..., t + l - 1).  The difference
    per replication has a 99% CI that contains 0."""
    net = Network(
        (
            Node("plant", kind="supply"),
            Node("store", holding_cost=1, shortage_cost=9, demand=Poisson(5), initial_on_hand=15),
        ),
        (Edge("plant", "store", lead_time=lead_time),),
    )
    res = simulate(
        net, BaseStock(25), periods=2_500, warmup=50, replications=10, seed=3, keep_ledgers=True
    )
    diffs = [
        led.column("in_transit", "store")[50:].mean()
        - lead_time.mean * led.column("shipped", "plant")[50:].mean()
        for led in res.ledgers
    ]
    lo, hi = ci99(diffs)
    assert lo <= 0 <= hi, (lo, hi)
    rate = np.mean([led.column("shipped", "plant")[50:].mean() for led in res.ledgers])
    assert rate == pytest.approx(5, rel=0.02)  # in steady state, supply = demand
