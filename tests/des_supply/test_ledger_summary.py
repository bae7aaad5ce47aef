"""Running ledger summaries (des_supply.ledger.LedgerSummary) give the full ledger's Results.

``simulate`` keeps running summaries by default; ``keep_ledgers=True`` keeps every row.  The
two must report the same numbers bit for bit: mean, CI (batch means with one replication),
per-node KPIs and fill rates, with and without warm-up, and on networks large enough that
numpy sums their nodes pairwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import single
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import networks, policies, seeds

import scenarios
from des_supply import BaseStock, EchelonBaseStock, Poisson, Simulation
from des_supply.evaluate import simulate
from des_supply.ledger import FIELDS, LedgerSummary
from des_supply.policy_registry import make_policy
from des_supply.sim import FLUSH_PERIODS


def assert_same_results(a, b):
    """Every number of two Results, compared exactly."""
    assert np.array_equal(a.per_replication, b.per_replication)
    assert a.mean == b.mean and a.ci95 == b.ci95
    assert a.fill_rate == b.fill_rate and a.cycle_service_level == b.cycle_service_level
    assert a.nodes == b.nodes


CASES = [
    ("single-stage", {}, "base-stock", {"level": 18}),
    ("serial", {}, "echelon-base-stock", {"level": 40}),
    ("orgym-inventory", {}, "base-stock", {"level": 30}),
    ("random-dag", {"n_nodes": 20}, "ss", {"s": 6, "S": 25}),  # > 8 nodes: pairwise node sums
    ("pricing-a", {}, "myopic-pricing", {"level": 20}),
    ("recommendation-small", {}, "base-stock-popularity", {"level": 20}),
]


@pytest.mark.parametrize("name, params, policy, policy_params", CASES)
@pytest.mark.parametrize("replications, warmup", [(1, 0), (1, 37), (3, 0), (3, 150)])
def test_summary_results_equal_full_ledger_results(
    name, params, policy, policy_params, replications, warmup
):
    problem = scenarios.make(name, **params)
    pol = make_policy(policy, problem, policy_params)
    # over two flushes and a part: the summary is built chunk by chunk
    kwargs = dict(
        periods=2 * FLUSH_PERIODS + 77,
        replications=replications,
        seed=3,
        warmup=warmup,
        engine="event",
    )
    full = simulate(problem, pol, keep_ledgers=True, **kwargs)
    summary = simulate(problem, pol, **kwargs)
    assert len(full.ledgers) == replications and summary.ledgers == []
    assert_same_results(full, summary)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_summary_of_a_run_equals_summary_of_its_ledger(data):
    """Chunk by chunk during the run == at once from the full ledger, on random networks."""
    net = data.draw(networks(conventions=True))
    policy = data.draw(policies(net))
    periods = data.draw(st.integers(1, 700))
    warmup = data.draw(st.integers(0, periods - 1))
    seed = data.draw(seeds)
    ledger = Simulation(net, periods, seed).run(policy)
    kept = Simulation(net, periods, seed).run_summary(policy, warmup=warmup)
    whole = LedgerSummary.of_ledger(ledger, warmup)
    assert kept.periods == whole.periods == periods
    assert kept.series == whole.series
    assert np.array_equal(kept.sums, whole.sums)
    assert np.array_equal(kept.node_cost, whole.node_cost)
    assert np.array_equal(kept.in_stock, whole.in_stock)
    np.testing.assert_array_equal(np.frombuffer(kept.series), ledger.objective_series()[warmup:])


def test_summary_numbers_are_the_ledger_means():
    net = single(demand=Poisson(3), lead_time=1, initial_on_hand=5, shortage_cost=9)
    ledger = Simulation(net, 600, 1).run(BaseStock(6))
    summary = LedgerSummary.of_ledger(ledger, 100)
    assert summary.counted == 500
    for f in FIELDS:
        np.testing.assert_allclose(summary.field_sum(f), ledger[f][100:].sum(0), rtol=1e-12)
    np.testing.assert_allclose(np.frombuffer(summary.series).mean(), ledger.cost()[100:].mean())
    with pytest.raises(KeyError, match="no ledger field 'nope'"):
        summary.field_sum("nope")


def test_memory_does_not_grow_with_the_horizon_but_for_the_series():
    net = scenarios.make("serial").network
    short = Simulation(net, 300, 0).run_summary(EchelonBaseStock(40))
    long = Simulation(net, 3000, 0).run_summary(EchelonBaseStock(40))
    assert short.sums.shape == long.sums.shape == (len(FIELDS), len(net.nodes))
    assert (len(short.series), len(long.series)) == (300, 3000)
    sim = Simulation(net, 3000, 0)
    sim.run_summary(EchelonBaseStock(40))
    assert len(sim._rows) == 0 and len(sim._buffer) == 0  # no row is kept
    with pytest.raises(RuntimeError, match="running summaries only"):
        sim.ledger()


@pytest.mark.parametrize("engine, replications", [("event", 2), ("batch", 16)])
def test_a_window_keeps_those_periods_in_full(engine, replications):
    net = single(demand=Poisson(4), lead_time=2, initial_on_hand=8, shortage_cost=9)
    kwargs = dict(periods=700, replications=replications, seed=4, warmup=50, engine=engine)
    full = simulate(net, BaseStock(14), keep_ledgers=True, **kwargs)
    window = simulate(net, BaseStock(14), ledger_window=(300, 420), **kwargs)
    assert_same_results(full, window)
    assert len(window.ledgers) == replications
    for whole, part in zip(full.ledgers, window.ledgers):
        assert part.start == 300 and part.periods == 120
        for f in FIELDS:
            assert np.array_equal(part[f], whole[f][300:420])
        assert np.array_equal(part.initial_on_hand, whole["on_hand"][299])
        np.testing.assert_allclose(part.conservation_residual(), 0.0, atol=1e-9)


def test_a_window_from_period_zero_and_past_the_end():
    net = single(demand=Poisson(4), lead_time=2, initial_on_hand=8)
    whole = Simulation(net, 100, 2).run(BaseStock(14))
    first = Simulation(net, 100, 2).run_summary(BaseStock(14), window=(0, 10)).window_ledger()
    last = Simulation(net, 100, 2).run_summary(BaseStock(14), window=(90, 500)).window_ledger()
    assert first.start == 0 and np.array_equal(first["on_hand"], whole["on_hand"][:10])
    assert np.array_equal(first.initial_on_hand, whole.initial_on_hand)
    assert last.periods == 10 and np.array_equal(last.cost(), whole.cost()[90:])
    assert np.array_equal(whole.window(90, 500).cost(), last.cost())


@pytest.mark.parametrize("window", [(5, 5), (-1, 3), (3.5, 9), "0:9"])
def test_a_bad_window_is_refused_in_one_line(window):
    net = single(demand=Poisson(4), lead_time=2)
    with pytest.raises((ValueError, TypeError), match="ledger_window"):
        simulate(net, BaseStock(14), periods=50, ledger_window=window)


def test_results_to_pandas_gives_tidy_frames():
    pd = pytest.importorskip("pandas")
    net = single(demand=Poisson(4), lead_time=2, initial_on_hand=8, shortage_cost=9)
    res = simulate(net, BaseStock(14), periods=200, replications=3, seed=1, warmup=20)
    frames = res.to_pandas()
    assert isinstance(frames.nodes, pd.DataFrame)
    assert list(frames.nodes["node"]) == list(res.nodes)
    store = frames.nodes.set_index("node").loc["store"]
    assert store["on_hand"] == res.nodes["store"].on_hand
    assert store["fill_rate"] == res.nodes["store"].fill_rate
    assert list(frames.replications["replication"]) == [0, 1, 2]
    assert np.array_equal(frames.replications["value"].to_numpy(), res.per_replication)
    row = frames.summary.iloc[0]
    assert row["mean"] == res.mean and row["ci95_low"] == res.ci95[0]
    assert row["objective"] == "cost" and row["replications"] == 3
