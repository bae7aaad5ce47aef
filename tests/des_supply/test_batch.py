"""The batch engine equals the event engine, replication by replication (des_supply.batch).

Quantities must be identical in whole-unit networks; money (and every quantity of a
continuous network) equal up to floating-point summation order.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from conftest import single
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import networks, policies, seeds

import scenarios
from des_supply import (
    SS,
    BaseStock,
    ConstantRate,
    EchelonBaseStock,
    Edge,
    Network,
    Node,
    Poisson,
    Simulation,
)
from des_supply.batch import BATCH_FIELDS, BatchSimulation, unsupported
from des_supply.batch_policies import vectorise
from des_supply.evaluate import simulate
from des_supply.ledger import COST_FIELDS, FIELDS
from des_supply.rng import replication_seed
from des_supply.sim import DecisionError

MONEY = set(COST_FIELDS) | {"revenue"}


def assert_same_ledgers(
    net: Network, policy, periods: int, seed: int, replications: int = 3
) -> None:
    """Each replication of a batch run has the event engine's ledger on the same seed."""
    seeds = [replication_seed(seed, k) for k in range(replications)]
    run = BatchSimulation(net, periods, seeds).run(policy, record=True)
    for k, s in enumerate(seeds):
        event = Simulation(net, periods, s).run(policy)
        batch = run.ledgers[k]
        assert batch.nodes == event.nodes and batch.objective == event.objective
        for f in FIELDS:
            a, b = event[f], batch[f]
            if f in MONEY or net.continuous:
                np.testing.assert_allclose(
                    b, a, rtol=1e-9, atol=1e-9, err_msg=f"{f}, replication {k}"
                )
            else:
                np.testing.assert_array_equal(b, a, err_msg=f"{f}, replication {k}")


def test_fields_are_the_ledger_fields():
    assert BATCH_FIELDS == tuple(FIELDS)


@settings(max_examples=40)
@given(st.data())
def test_batch_equals_event_engine_on_random_networks(data):
    """Every shape, shortage rule, lead time (0, stochastic, sequential), order, storage,
    supply and shipping capacity, review period, initial pipeline, both order timings, both
    decision modes, both shipping timings, under every policy."""
    net = data.draw(networks(conventions=True))
    assert unsupported(net) is None
    assert_same_ledgers(
        net, data.draw(policies(net)), data.draw(st.integers(1, 40)), data.draw(seeds)
    )


@pytest.mark.slow
@settings(max_examples=400)
@given(st.data())
def test_batch_equals_event_engine_on_many_random_networks(data):
    """The property above on ten times as many networks (pytest -m slow)."""
    net = data.draw(networks(conventions=True))
    assert_same_ledgers(
        net, data.draw(policies(net)), data.draw(st.integers(1, 60)), data.draw(seeds)
    )


@settings(max_examples=8)
@given(st.data())
def test_batch_equals_event_engine_on_whole_unit_networks_over_two_blocks(data):
    """Past period 256 the draws come from the streams' second block, as in the event engine."""
    net = data.draw(networks(continuous=False, max_stock=3, conventions=True))
    assert_same_ledgers(net, data.draw(policies(net)), 300, data.draw(seeds), replications=2)


@pytest.mark.parametrize("name", scenarios.names())
def test_each_registered_scenario_runs_on_the_batch_engine_or_says_why_not(name):
    problem = scenarios.make(name)
    reason = unsupported(problem.network, problem.market)
    if reason:
        assert (
            (problem.market is not None and "market" in reason)
            or (problem.network.time == "continuous" and "time='continuous'" in reason)
            or (problem.kind.shape == "multi-sourcing" and "supply_rule='choice'" in reason)
        ), reason
        return
    policy = EchelonBaseStock(30) if problem.kind.shape == "serial" else BaseStock(20)
    assert_same_ledgers(problem.network, policy, 80, seed=7, replications=2)


def test_simulate_results_are_the_event_engines():
    net = scenarios.make("random-dag", n_nodes=6, n_layers=2, seed=3).network
    kwargs = dict(periods=300, replications=16, seed=11, warmup=20)
    event = simulate(net, SS(5, 25), engine="event", **kwargs)
    batch = simulate(net, SS(5, 25), **kwargs)
    assert (event.engine, batch.engine, batch.engine_note) == ("event", "batch", "")
    assert np.array_equal(event.per_replication, batch.per_replication)
    assert event.mean == batch.mean and event.ci95 == batch.ci95
    assert event.nodes == batch.nodes and event.fill_rate == batch.fill_rate
    kept = simulate(net, SS(5, 25), keep_ledgers=True, engine="batch", **kwargs)
    assert np.array_equal(kept.per_replication, event.per_replication)
    assert len(kept.ledgers) == 16


def test_simulate_batch_over_processes_equals_serial():
    net = single(demand=Poisson(4), lead_time=2, shortage_cost=9, holding_cost=1)
    kwargs = dict(periods=200, replications=20, seed=5, engine="batch")
    one = simulate(net, BaseStock(14), processes=1, **kwargs)
    two = simulate(net, BaseStock(14), processes=2, **kwargs)
    assert np.array_equal(one.per_replication, two.per_replication)


def test_fallback_for_a_market():
    problem = scenarios.make("pricing-a")
    assert "market" in unsupported(problem.network, problem.market)
    with pytest.warns(UserWarning, match="batch engine not used: a market"):
        res = simulate(problem, BaseStock(10), periods=30, replications=2, engine="batch")
    assert res.engine == "event" and "market" in res.engine_note


def test_fallback_for_an_unknown_network_setting(monkeypatch):
    """A setting the batch engine does not know (here: one pretended into the network's
    fields) sends the run to the event engine, naming it."""
    import des_supply.batch as batch

    monkeypatch.setattr(batch, "_NODE_FIELDS", batch._NODE_FIELDS - {"shipping_capacity"})
    net = single(demand=Poisson(3), shipping_capacity=4.0)
    assert unsupported(net) == "node 'store' setting shipping_capacity=4.0"
    monkeypatch.setattr(batch, "_SHIPPING_TIMINGS", ("receive-then-ship",))
    net = dataclasses.replace(single(demand=Poisson(3)), shipping_timing="ship-before-receipt")
    assert "shipping_timing" in unsupported(net)
    res = simulate(net, BaseStock(8), periods=50, replications=16)
    assert res.engine == "event" and "shipping_timing" in res.engine_note
    with pytest.raises(ValueError, match="does not run network setting shipping_timing"):
        BatchSimulation(net, 10, [0])


class Lookup:
    """A policy with no vectorised version."""

    def act(self, obs):
        return {n: 3.0 for n in obs.deciding}


def test_fallback_for_a_policy_without_vectorised_version():
    net = single(demand=Poisson(3))
    assert vectorise(Lookup(), net) is None
    res = simulate(net, Lookup(), periods=40, replications=16)
    assert res.engine == "event" and "Lookup has no vectorised version" in res.engine_note
    with pytest.raises(TypeError, match="no vectorised version"):
        BatchSimulation(net, 10, [0]).run(Lookup())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert simulate(net, Lookup(), periods=40, replications=2).engine == "event"


class RowLevels:
    """The generic path: any policy acting on the batch state."""

    def __init__(self, levels):
        self.levels = levels

    def act_batch(self, sim):
        return np.maximum(0.0, self.levels[:, None] - sim.inventory_position())


def test_generic_batch_policy_rows_with_their_own_parameters():
    net = single(demand=Poisson(4), lead_time=1, shortage_cost=5, holding_cost=1)
    levels = np.array([6.0, 9.0, 12.0])
    run = BatchSimulation(net, 60, [1, 1, 1]).run(RowLevels(levels), record=True)
    for level, ledger in zip(levels, run.ledgers):
        event = Simulation(net, 60, 1).run(BaseStock(level))
        np.testing.assert_array_equal(ledger["ordered"], event["ordered"])


def test_constant_rate_is_vectorised():
    net = single(demand=Poisson(4), lead_time=1, review_period=2)
    assert_same_ledgers(net, ConstantRate(4.75), 40, seed=2)


def test_bad_orders_and_missing_parameters_are_refused():
    net = Network(
        (Node("s", kind="supply"), Node("a", demand=Poisson(2)), Node("b", demand=Poisson(2))),
        (Edge("s", "a"), Edge("s", "b")),
    )

    class Negative:
        def act_batch(self, sim):
            return np.full((sim.R, 2), -1.0)

    with pytest.raises(
        DecisionError, match="period 0: order at node 'b' must be a finite number >= 0"
    ):
        BatchSimulation(net, 5, [0, 1]).run(Negative())
    with pytest.raises(KeyError, match="level has no value for node 'b'"):
        BatchSimulation(net, 5, [0]).run(BaseStock({"a": 3}))


def test_a_trace_that_runs_out_stops_the_run_as_in_the_event_engine():
    from des_supply import Trace

    net = single(demand=Trace((1.0, 2.0), after="stop"))
    with pytest.raises(ValueError, match="demand trace has no value for period 2") as event:
        Simulation(net, 5, 0).run(BaseStock(3))
    with pytest.raises(ValueError, match=str(event.value)):
        BatchSimulation(net, 5, [0]).run(BaseStock(3))


def test_lead_times_beyond_the_first_ring_keep_their_due_periods():
    """An unbounded lead-time distribution: the pipeline ring grows without moving shipments."""
    from des_supply import Shifted

    net = single(
        demand=Poisson(3), lead_time=Shifted(Poisson(6.0), 1), holding_cost=1, shortage_cost=4
    )
    assert math.isinf(net.edges[0].lead_time.upper_bound)
    assert_same_ledgers(net, BaseStock(30), 600, seed=4, replications=4)


@pytest.mark.parametrize("echelon", [False, True])
def test_policy_search_on_the_batch_engine_takes_the_event_engines_path(monkeypatch, echelon):
    """search_base_stock batches its candidates; with the batch engine off (every candidate by
    simulate on the event engine) it finds the same levels after the same evaluations."""
    from optimization import search

    problem = scenarios.make("serial" if echelon else "owmr")
    kwargs = dict(echelon=echelon, periods=300, warmup=50, factors=(0.8, 1.0, 1.3, 1.7))
    batched = search.search_base_stock(problem, **kwargs)
    monkeypatch.setattr(search, "unsupported", lambda *a: "switched off in this test")
    real = search.simulate
    monkeypatch.setattr(search, "simulate", lambda *a, **k: real(*a, **k, engine="event"))
    event = search.search_base_stock(problem, **kwargs)
    assert batched.levels == event.levels and batched.evaluations == event.evaluations
    assert batched.value == pytest.approx(event.value, rel=1e-12)


def test_a_second_run_starts_again_from_the_same_seeds():
    net = single(demand=Poisson(4), lead_time=1)
    sim = BatchSimulation(net, 30, [3, 4])
    first = sim.run(BaseStock(9), record=True)
    again = sim.run(BaseStock(9), record=True)
    for a, b in zip(first.ledgers, again.ledgers):
        assert np.array_equal(a["demand"], b["demand"]) and np.array_equal(a.cost(), b.cost())


@settings(max_examples=20)
@given(st.data())
def test_simulate_kpis_are_the_same_on_both_engines(data):
    """Every number of Results (cost or profit, CI, per-node KPIs, fill rates) from the batch
    engine's running sums equals the event engine's from its ledgers."""
    net = data.draw(networks(conventions=True))
    policy = data.draw(policies(net))
    periods = data.draw(st.integers(2, 40))
    kwargs = dict(
        periods=periods,
        replications=3,
        seed=data.draw(seeds),
        warmup=data.draw(st.integers(0, periods - 1)),
    )
    event = simulate(net, policy, engine="event", **kwargs)
    batch = simulate(net, policy, engine="batch", **kwargs)
    assert batch.engine == "batch" and batch.objective == event.objective
    np.testing.assert_allclose(batch.per_replication, event.per_replication, rtol=1e-12, atol=1e-12)
    assert batch.fill_rate == pytest.approx(event.fill_rate, rel=1e-12)
    assert batch.cycle_service_level == event.cycle_service_level
    for name, a in event.nodes.items():
        b = batch.nodes[name]
        for f in ("on_hand", "backlog", "lost", "ordered", "cost", "revenue"):
            assert getattr(b, f) == pytest.approx(getattr(a, f), rel=1e-12, abs=1e-12), (name, f)
        assert b.fill_rate == pytest.approx(a.fill_rate, rel=1e-12)
        assert b.cycle_service_level == a.cycle_service_level
