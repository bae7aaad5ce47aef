"""Wagner-Whitin lot sizing (optimization/wagner_whitin.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimization.wagner_whitin import wagner_whitin


def test_example_3_9():
    """Snyder & Shen, Fundamentals of Supply Chain Theory (2nd ed.), Example 3.9:
    demand [90, 120, 80, 70], K=500, h=2 -> cost 1380, orders [210, 0, 150, 0]."""
    plan = wagner_whitin([90, 120, 80, 70], fixed_cost=500, holding_cost=2)
    assert plan.total_cost == 1380
    assert plan.orders == (210, 0, 150, 0)
    assert plan.ending_inventory == (120, 0, 70, 0)
    assert plan.order_periods == (0, 2)


@pytest.mark.parametrize(
    "demand, K, h, cost, orders",
    [
        ([150, 100, 80, 200], 120, 0.8, 424, (150, 180, 0, 200)),  # Problem 3.27
        ([730, 580, 445, 650, 880], 100, 0.1, 423, (1310, 0, 1095, 0, 880)),  # Problem 3.29
    ],
)
def test_book_problems(demand, K, h, cost, orders):
    """Snyder & Shen Problems 3.27 and 3.29 (solutions as in stockpyl's tests)."""
    plan = wagner_whitin(demand, K, h)
    assert plan.total_cost == pytest.approx(cost)
    assert plan.orders == pytest.approx(orders)


def _brute_force(d, K, h, c):
    """Every set of setup periods (2^T); each unit of demand of period t comes from the
    setup period i <= t with the lowest c_i + h_i + ... + h_{t-1} (no capacity, so this
    assignment is optimal for the set; no zero-inventory-ordering assumption)."""
    T = len(d)
    best = np.inf
    for setups in itertools.product([0, 1], repeat=T):
        cost = sum(K[i] for i in range(T) if setups[i])
        for t in range(T):
            if d[t] == 0:
                continue
            options = [c[i] + sum(h[i:t]) for i in range(t + 1) if setups[i]]
            if not options:
                cost = np.inf
                break
            cost += d[t] * min(options)
        best = min(best, cost)
    return best


def _plan_cost(plan, d, K, h, c):
    inv, cost = 0.0, 0.0
    for t, q in enumerate(plan.orders):
        cost += (K[t] if q > 0 else 0.0) + c[t] * q
        inv += q - d[t]
        assert inv >= -1e-9  # no backorders
        cost += h[t] * inv
    return cost


@settings(max_examples=80, deadline=None)
@given(data=st.data(), T=st.integers(1, 7))
def test_equals_brute_force(data, T):
    """DP = exhaustive search over all 2^T setup patterns on random small instances
    (per-period K, h and unit cost, zero demands allowed); the returned plan costs
    what it says and meets demand on time."""

    def ints(lo, hi):
        return st.lists(st.integers(lo, hi), min_size=T, max_size=T)

    d = data.draw(ints(0, 60), label="demand")
    K = data.draw(ints(0, 300), label="K")
    h = data.draw(ints(0, 5), label="h")
    c = data.draw(ints(0, 8), label="c")
    plan = wagner_whitin(d, K, h, c)
    assert plan.total_cost == pytest.approx(_brute_force(d, K, h, c))
    assert _plan_cost(plan, d, K, h, c) == pytest.approx(plan.total_cost)
    assert sum(plan.orders) == pytest.approx(sum(d))


@pytest.mark.parametrize(
    "args, word",
    [
        (([], 1, 1), "demand"),
        (([5, -1], 1, 1), "demand"),
        (([5, 1], -1, 1), "fixed_cost"),
        (([5, 1], [1, 2, 3], 1), "fixed_cost"),
        (([5, 1], 1, -2), "holding_cost"),
        (([5, 1], 1, 1, [0, -1]), "unit_cost"),
    ],
)
def test_rejects_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        wagner_whitin(*args)


def test_docstring_examples():
    """The module's doctest examples run as written."""
    import doctest

    import optimization.wagner_whitin as module

    assert doctest.testmod(module).failed == 0
