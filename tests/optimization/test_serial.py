"""Clark-Scarf / Chen-Zheng serial system (optimization/serial.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from optimization.newsvendor import newsvendor
from optimization.serial import serial_base_stock, serial_cost

# Snyder & Shen Example 6.1, stage 1 (downstream) first.
EX61 = dict(local_holding=[7.0, 4.0, 2.0], lead_times=[1, 1, 2], penalty=37.12, demand_mean=5.0)


class FakeObs:
    """Just enough of des_supply.sim.Observation for policy.act()."""

    def __init__(self, positions: dict[str, float], t: int = 0) -> None:
        self.t, self.deciding, self._ip = t, tuple(positions), positions

    def inventory_position(self, node: str) -> float:
        return self._ip[node]

    def echelon_inventory_position(self, node: str) -> float:
        return self._ip[node]


def _echelon_from_local(echelon_h):
    """Local holding costs h'_j = h_j + ... + h_N from echelon holding costs."""
    return list(np.cumsum(np.asarray(echelon_h, dtype=float)[::-1])[::-1])


# -- published values ------------------------------------------------------------------------


def test_example_6_1_normal():
    """Snyder & Shen, Fundamentals of Supply Chain Theory (2nd ed.), Example 6.1:
    3 stages, N(5, 1) demand, p=37.12, h'=(7, 4, 2), L=(1, 1, 2).  The book reports
    S* = (6.49, 12.02, 22.71) and C* = 47.65 from a coarser discretisation; the
    converged value is 47.6601 (see test_example_6_1_grid_convergence), so the cost
    is checked to 0.02 and the levels to the book's 2 decimals."""
    r = serial_base_stock(**EX61, demand="normal", demand_std=1.0)
    assert r.echelon_levels == pytest.approx((6.49, 12.02, 22.71), abs=0.01)
    assert r.expected_cost == pytest.approx(47.65, abs=0.02)
    assert r.local_levels == pytest.approx(np.diff([0.0, *r.echelon_levels]))


def test_example_6_1_against_stockpyl():
    """stockpyl's ssm_serial test of Example 6.1 (x_num=100, d_num=10: demand cut at
    +-4 sd into 10 cells) gets S* = (6.600, 11.997, 22.791) and C* = 47.7747.  Its
    10-cell demand grid adds variance and biases the cost up; on a fine grid the
    optimum is 47.6601.  We check agreement to 0.3% in cost and 0.12 in levels."""
    r = serial_base_stock(**EX61, demand="normal", demand_std=1.0)
    assert r.expected_cost == pytest.approx(47.77466, rel=3e-3)
    assert r.echelon_levels == pytest.approx((6.59966, 11.99663, 22.79056), abs=0.12)


def test_example_6_1_grid_convergence():
    """The discretisation error is O(grid_step^2): halving the default step changes
    the cost by < 1e-5 and the levels by < 1e-3."""
    r1 = serial_base_stock(**EX61, demand="normal", demand_std=1.0)
    r2 = serial_base_stock(**EX61, demand="normal", demand_std=1.0, grid_step=r1.grid_step / 2)
    assert r1.grid_step == pytest.approx(0.01)
    assert r1.expected_cost == pytest.approx(r2.expected_cost, abs=1e-5)
    assert r1.echelon_levels == pytest.approx(r2.echelon_levels, abs=1e-3)
    assert r1.expected_cost == pytest.approx(47.6601, abs=1e-4)


def test_example_6_1_poisson_against_stockpyl():
    """stockpyl's test_example_6_1_poisson (Example 6.1 with Poisson(5) demand):
    S* = (9, 15, 26), C* = 72.0435; stockpyl cuts lead-time demand at tail 3e-5,
    we at 1e-16, so costs agree to 0.005."""
    r = serial_base_stock(**EX61, demand="poisson")
    assert r.echelon_levels == (9, 15, 26)
    assert r.expected_cost == pytest.approx(72.04354, abs=5e-3)


@pytest.mark.parametrize(
    "echelon_h, p, levels, cost",
    [
        ([0.25] * 4, 9, (8, 13, 18, 22), 12.688),  # row 1
        ([0.25, 2.5, 2.5, 0.25], 9, (9, 10, 13, 19), 53.008),  # row 9
        ([0.25] * 4, 99, (11, 17, 22, 27), 16.206),  # row 17
        ([0.25, 2.5, 2.5, 0.25], 99, (11, 14, 18, 26), 74.564),  # row 25
    ],
)
def test_shang_song_table_1(echelon_h, p, levels, cost):
    """Shang & Song (2003), Management Science 49(5), Table 1, rows 1, 9, 17, 25:
    4 stages, Poisson demand of rate 16, lead time 0.25 per stage (continuous review),
    echelon holding costs h, backorder cost p; optimal echelon levels exactly and
    the published optimal cost to its 3 decimals.  (Rows as in stockpyl's instances.)"""
    r = serial_base_stock(_echelon_from_local(echelon_h), [0.25] * 4, p, 16.0, "poisson")
    assert r.echelon_levels == levels
    assert r.expected_cost == pytest.approx(cost, abs=5e-4 + 1e-9)


# -- independent checks ----------------------------------------------------------------------


@pytest.mark.parametrize("demand, L", [("normal", 3), ("poisson", 2), ("poisson", 0.5)])
def test_single_stage_is_newsvendor_over_lead_time(demand, L):
    """N = 1: the recursion reduces to the newsvendor over the demand of L periods
    (exact for Poisson; for normal demand within the O(grid_step^2) discretisation
    error, about 1e-5 relative at the default step)."""
    h, p, mu, sd = 2.0, 18.0, 6.0, 2.0
    std = sd if demand == "normal" else None
    r = serial_base_stock([h], [L], p, mu, demand, std)
    dist = stats.norm(L * mu, sd * math.sqrt(L)) if demand == "normal" else stats.poisson(L * mu)
    nv = newsvendor(h, p, dist)
    tol = 1e-3 if demand == "normal" else 1e-12
    assert r.echelon_levels[0] == pytest.approx(nv.base_stock_level, abs=tol)
    assert r.expected_cost == pytest.approx(nv.expected_cost, rel=2e-5 if std else 1e-12)


def test_cost_of_optimum_and_perturbations():
    r = serial_base_stock(**EX61, demand="poisson")
    assert serial_cost(r.echelon_levels, **EX61, demand="poisson") == pytest.approx(
        r.expected_cost, rel=1e-12
    )
    for j in range(3):
        for delta in (-1, 1):
            levels = list(r.echelon_levels)
            levels[j] += delta
            assert serial_cost(levels, **EX61, demand="poisson") > r.expected_cost


def _simulate(
    levels,
    local_holding,
    lead_times,
    penalty,
    draw,
    rng,
    reps=3000,
    periods=230,
    warmup=30,
    before_demand=False,
):
    """Plain-numpy simulation of echelon base-stock in Snyder & Shen's timing: receive,
    demand at stage 1, then each stage (downstream first) orders up to its echelon
    level and its supplier ships what it has on hand (shipments to stage j take L_j
    periods); costs at the end of the period: h'_j on hand and on units shipped by
    stage j still in transit, p per backorder.  With ``before_demand`` the orders
    come before the demand.  Returns per-replication mean costs."""
    N = len(levels)
    hl = np.asarray(local_holding, dtype=float)
    start = np.minimum.accumulate(np.asarray(levels)[::-1])[::-1]  # stock to start with
    local = np.diff(np.concatenate([[0.0], start]))
    net1 = np.full(reps, local[0])  # stage-1 inventory level
    on_hand = [None] + [np.full(reps, local[j]) for j in range(1, N)]
    owed = [np.zeros(reps) for _ in range(N)]  # ordered by j, not yet shipped
    pipes = [np.zeros((L, reps)) for L in lead_times]  # ring buffers of arrivals
    total = np.zeros(reps)
    for t in range(periods):
        for j, L in enumerate(lead_times):  # 1. receive
            arrived = pipes[j][t % L].copy()
            pipes[j][t % L] = 0.0
            if j == 0:
                net1 += arrived
            else:
                on_hand[j] += arrived
        if not before_demand:
            net1 -= draw(rng, reps)  # 2. demand
        for j in range(N):  # 3. order and ship
            ip = net1 + sum(pipes[k].sum(axis=0) for k in range(j + 1)) + owed[j]
            ip = ip + sum(on_hand[k] for k in range(1, j + 1))
            owed[j] += np.maximum(levels[j] - ip, 0.0)
            ship = owed[j].copy() if j == N - 1 else np.minimum(owed[j], on_hand[j + 1])
            owed[j] -= ship
            if j < N - 1:
                on_hand[j + 1] -= ship
            pipes[j][t % lead_times[j]] += ship  # arrives at t + L_j
        if before_demand:
            net1 -= draw(rng, reps)
        if t >= warmup:  # 4. costs
            cost = hl[0] * np.maximum(net1, 0) + penalty * np.maximum(-net1, 0)
            for j in range(1, N):
                cost += hl[j] * (on_hand[j] + pipes[j - 1].sum(axis=0))
            total += cost
    return total / (periods - warmup)


def _poisson_draw(rng, n):
    return rng.poisson(5.0, n).astype(float)


def _normal_draw(rng, n):
    return np.maximum(rng.normal(5.0, 1.0, n), 0.0)


@pytest.mark.parametrize("demand", ["poisson", "normal"])
def test_monte_carlo_example_6_1(demand):
    """The optimal cost of Example 6.1 (Poisson(5) and N(5, 1) demand) equals the mean
    cost of a plain-numpy simulation of the physical system within 4 standard errors.
    (Normal draws are cut at 0 for the simulation; P(D < 0) = 3e-7.)"""
    if demand == "poisson":
        r = serial_base_stock(**EX61, demand="poisson")
        draw = _poisson_draw
    else:
        r = serial_base_stock(**EX61, demand="normal", demand_std=1.0)
        draw = _normal_draw
    means = _simulate(
        np.asarray(r.echelon_levels),
        EX61["local_holding"],
        EX61["lead_times"],
        EX61["penalty"],
        draw,
        np.random.default_rng(61),
    )
    se = means.std(ddof=1) / math.sqrt(means.size)
    assert abs(means.mean() - r.expected_cost) < 4 * se


def test_monte_carlo_order_before_demand():
    """Under the engine's default timing (order, then demand) the shifted recursion
    also matches simulation, and differs from the Snyder & Shen timing."""
    r = serial_base_stock(**EX61, demand="poisson", order_timing="order-before-demand")
    assert r.echelon_levels == (15, 20, 31)
    assert r.expected_cost == pytest.approx(
        serial_base_stock(**(EX61 | {"lead_times": [2, 1, 2]}), demand="poisson").expected_cost
        - 5.0 * (2.0 + 2.0),
        rel=1e-12,
    )
    means = _simulate(
        np.asarray(r.echelon_levels),
        EX61["local_holding"],
        EX61["lead_times"],
        EX61["penalty"],
        _poisson_draw,
        np.random.default_rng(63),
        before_demand=True,
    )
    se = means.std(ddof=1) / math.sqrt(means.size)
    assert abs(means.mean() - r.expected_cost) < 4 * se


def test_monte_carlo_non_optimal_levels():
    """serial_cost of arbitrary (even non-monotone) echelon levels matches simulation."""
    levels = [7.0, 18.0, 16.0]
    exact = serial_cost(levels, **EX61, demand="poisson")
    means = _simulate(
        np.asarray(levels),
        EX61["local_holding"],
        EX61["lead_times"],
        EX61["penalty"],
        _poisson_draw,
        np.random.default_rng(62),
    )
    se = means.std(ddof=1) / math.sqrt(means.size)
    assert abs(means.mean() - exact) < 4 * se


# -- policies and validation -----------------------------------------------------------------


def test_policies():
    r = serial_base_stock(**EX61, demand="poisson")
    names = ["store", "dc", "plant"]
    pol = r.policy(names)
    ip = {"store": 7.0, "dc": 15.0, "plant": 30.0}
    assert pol.act(FakeObs(ip)) == {"store": 2.0, "dc": 0.0, "plant": 0.0}
    assert r.installation_policy(names).act(FakeObs(ip)) == {"store": 2.0, "dc": 0.0, "plant": 0.0}
    assert r.local_levels == (9, 6, 11)
    with pytest.raises(ValueError, match="node_names"):
        r.policy(["store", "dc"])


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(local_holding=[]), "local_holding"),
        (dict(local_holding=[2.0, 4.0, 1.0]), "local_holding"),
        (dict(local_holding=[7.0, -4.0, 2.0]), "local_holding"),
        (dict(lead_times=[1, -1, 2]), "lead_times"),
        (dict(lead_times=[1, 2]), "lead_times"),
        (dict(penalty=0.0), "penalty"),
        (dict(demand_mean=-5.0), "demand_mean"),
        (dict(demand="normal"), "demand_std"),
        (dict(demand="normal", demand_std=-1.0), "demand_std"),
        (dict(demand="normal", demand_std=1.0, grid_step=0.0), "grid_step"),
        (dict(demand="gamma"), "demand"),
        (dict(order_timing="before"), "order_timing"),
    ],
)
def test_rejects_bad_input(kwargs, word):
    args = dict(EX61, demand="poisson") | kwargs
    with pytest.raises(ValueError, match=word):
        serial_base_stock(**args)


def test_serial_cost_rejects_bad_levels():
    with pytest.raises(ValueError, match="echelon_levels"):
        serial_cost([9, 15], **EX61, demand="poisson")
    with pytest.raises(ValueError, match="integers"):
        serial_cost([9.5, 15, 26], **EX61, demand="poisson")


def test_docstring_examples():
    """The module's doctest examples run as written."""
    import doctest

    import optimization.serial as module

    assert doctest.testmod(module).failed == 0
