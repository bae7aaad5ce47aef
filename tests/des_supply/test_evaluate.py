"""Replications and KPIs (des_supply.evaluate)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import single

from des_supply import BaseStock, Poisson, Simulation
from des_supply.evaluate import confidence_interval, paired_difference, simulate
from des_supply.rng import replication_seed


def test_confidence_interval():
    mean, lo, hi = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert hi - mean == mean - lo == pytest.approx(4.302652729911275 / math.sqrt(3))  # t(.975, 2)
    assert confidence_interval([5.0]) == (5.0, -math.inf, math.inf)


@pytest.mark.parametrize("n", [2, 3, 10, 30, 200, 3000])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_confidence_interval_uses_students_t_quantile(n, level):
    """The half-width is scipy.stats' t quantile times the standard error, to the last bit
    (the module takes the quantile from scipy.special to keep scipy.stats out of start-up)."""
    from scipy import stats

    x = np.random.default_rng(n).normal(size=n)
    mean, lo, hi = confidence_interval(x, level)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    assert (lo, hi) == (mean - half, mean + half)


def test_replication_k_is_the_simulation_on_its_spawned_seed():
    net = single(demand=Poisson(3), lead_time=1, initial_on_hand=5)
    res = simulate(
        net, BaseStock(8), periods=100, replications=3, seed=5, warmup=10, keep_ledgers=True
    )
    for k in range(3):
        ledger = Simulation(net, 100, replication_seed(5, k)).run(BaseStock(8))
        assert np.array_equal(ledger.cost(), res.ledgers[k].cost())
        assert res.per_replication[k] == ledger.cost()[10:].mean()
    assert res.mean == pytest.approx(res.per_replication.mean())
    assert res.ci95[0] < res.mean < res.ci95[1]


def test_kpis_on_a_deterministic_run():
    """Demand 3, S = 7 < 3 (L + 1): from period 2 one unit of 3 is served at once."""
    net = single(demand=3, lead_time=2, initial_on_hand=7)
    res = simulate(net, BaseStock(7), periods=12, warmup=2, replications=2)
    store = res.nodes["store"]
    assert store.fill_rate == pytest.approx(1 / 3)
    assert store.cycle_service_level == 0.0
    assert store.backlog == 2.0 and store.on_hand == 0.0 and store.ordered == 3.0
    assert store.cost == 10.0 and res.mean == 10.0
    assert res.fill_rate == pytest.approx(1 / 3)
    assert res.nodes["plant"].fill_rate is None
    d = res.to_dict()
    assert d["nodes"]["store"]["fill_rate"] == pytest.approx(1 / 3)
    assert d["per_replication"] == [10.0, 10.0]


def test_single_replication_uses_batch_means():
    net = single(demand=Poisson(3), lead_time=1, initial_on_hand=5)
    res = simulate(net, BaseStock(6), periods=400, replications=1, seed=1)
    assert math.isfinite(res.ci95[0]) and res.ci95[0] < res.mean < res.ci95[1]


def test_paired_difference_with_common_random_numbers():
    net = single(demand=Poisson(3), lead_time=1, initial_on_hand=5, shortage_cost=9)
    a = simulate(net, BaseStock(4), periods=300, replications=5, seed=2)
    b = simulate(net, BaseStock(8), periods=300, replications=5, seed=2)
    mean, lo, hi = paired_difference(a, b)
    assert mean == pytest.approx(a.mean - b.mean) and lo < mean < hi
    other = simulate(net, BaseStock(8), periods=300, replications=5, seed=3)
    with pytest.raises(ValueError, match="same seed"):
        paired_difference(a, other)


def test_bad_arguments():
    net = single()
    with pytest.raises(ValueError, match=r"replications\(=0\)"):
        simulate(net, BaseStock(1), periods=10, replications=0)
    with pytest.raises(ValueError, match=r"warmup\(=10\) must be in \[0, periods=10\)"):
        simulate(net, BaseStock(1), periods=10, warmup=10)
    with pytest.raises(TypeError, match="act"):
        simulate(net, object(), periods=10)


@pytest.mark.parametrize("engine", ["event", "batch"])
def test_non_finite_costs_are_refused_with_the_node(engine):
    """Ordering up to 1e307 units at a holding cost of 1000 overflows: an input error, not a
    result (network magnitudes are bounded; a policy's level is not)."""
    from des_supply.evaluate import NonFiniteResultError

    net = single(demand=Poisson(3), lead_time=1, holding_cost=1000.0)
    with pytest.raises(
        NonFiniteResultError,
        match=r"replication 0: the cost per period is inf.*"
        r"node 'store': cost per period inf",
    ):
        simulate(net, BaseStock(1e307), periods=30, replications=2, engine=engine)


def test_engine_choice_is_reported():
    net = single(demand=Poisson(3), lead_time=1, initial_on_hand=5)
    many = simulate(net, BaseStock(6), periods=50, replications=16)
    few = simulate(net, BaseStock(6), periods=50, replications=2)
    assert many.engine == "batch" and many.engine_note == ""
    assert few.engine == "event" and "fewer than 16" in few.engine_note
    assert many.to_dict()["engine"] == "batch"
    forced = simulate(net, BaseStock(6), periods=50, replications=2, engine="batch")
    assert forced.engine == "batch"
    assert np.array_equal(forced.per_replication, few.per_replication)
    with pytest.raises(ValueError, match=r"engine\(='fast'\) must be one of auto, event, batch"):
        simulate(net, BaseStock(6), periods=50, engine="fast")
