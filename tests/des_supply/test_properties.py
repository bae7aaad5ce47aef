"""Properties of the engine on random networks (hypothesis; strategies in tests/strategies.py).

Each property runs on networks of every shape, with either shortage rule per
node, stochastic lead times, capacities, review periods and both order timings,
under a random policy from :mod:`des_supply.policies`.  The ``*_under_conventions``
properties add sequential decisions, ship-before-receipt and shipping capacities.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import networks, periods, policies, seeds

from des_supply import BaseStock, ConstantOrder, Network, Poisson, Simulation
from des_supply.evaluate import simulate
from des_supply.ledger import FIELDS

TOL = 1e-6


def _assembles(net: Network, name: str) -> bool:
    """Does *name* turn several input units into one (assembly or a bom other than 1)?"""
    inbound = net.suppliers(name)
    rule = net.node(name).supply_rule if len(inbound) > 1 else None
    return rule == "assembly" or any(e.bom != 1 for e in inbound)


# Long enough for every initial-pipeline entry (at most 3, tests/strategies.py) to arrive:
# what is still on its way at the end is covered by a separate test in test_sim.py.
long_periods = st.integers(4, 60)


def _run(data, net: Network):
    """Simulate *net* over a drawn horizon and seed under a drawn policy."""
    sim = Simulation(net, data.draw(periods), seed=data.draw(seeds))
    return sim.run(data.draw(policies(net)))


@given(st.data())
def test_unit_conservation_per_node(data):
    """Ledger.conservation_residual is zero: on hand moves only by received - shipped - sales."""
    net = data.draw(networks())
    ledger = _run(data, net)
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=TOL)


@given(st.data())
def test_unit_conservation_network_wide(data):
    """What entered the network = what left it + what is still in it.

    Units enter from supply nodes (their shipments), from the initial stock and
    from the initial pipeline; they leave
    only as external sales.  Lost demand never touches stock, so it appears on
    neither side; backlogged demand leaves when it is finally sold.  Assembly
    turns ``sum(bom)`` component units into one unit of product, so each
    assembled unit removes ``sum(bom) - 1`` units (zero when every bom is 1 and
    there is no assembly rule).
    """
    net = data.draw(networks())
    sim = Simulation(net, data.draw(long_periods), seed=data.draw(seeds))
    ledger = sim.run(data.draw(policies(net)))

    supplied = sum(ledger.column("shipped", n.name).sum() for n in net.nodes if n.kind == "supply")
    initial = sum(n.initial_on_hand + sum(n.initial_pipeline) for n in net.nodes)
    consumed = 0.0
    for n in net.stock_nodes:
        if _assembles(net, n.name):
            kits = ledger.column("received", n.name).sum() - sum(n.initial_pipeline)
            consumed += kits * (sum(e.bom for e in net.suppliers(n.name)) - 1)
    entered = supplied + initial
    left = ledger["sales"].sum() + sim.units_in_network() + consumed
    assert entered == pytest.approx(left, rel=1e-9, abs=TOL)


@given(st.data())
def test_unit_conservation_without_assembly(data):
    """With bom 1 everywhere (no assembly): supplied + initial = sold + on hand + in transit."""
    net = data.draw(networks(assembly=False))
    sim = Simulation(net, data.draw(long_periods), seed=data.draw(seeds))
    ledger = sim.run(data.draw(policies(net)))
    supplied = sum(ledger.column("shipped", n.name).sum() for n in net.nodes if n.kind == "supply")
    initial = sum(n.initial_on_hand + sum(n.initial_pipeline) for n in net.nodes)
    final_on_hand = ledger["on_hand"][-1].sum()
    final_transit = ledger["in_transit"][-1].sum()
    assert supplied + initial == pytest.approx(
        ledger["sales"].sum() + final_on_hand + final_transit, rel=1e-9, abs=TOL
    )
    assert sim.units_in_network() == pytest.approx(final_on_hand + final_transit, abs=TOL)


@given(st.data())
def test_stocks_flows_and_costs_are_never_negative(data):
    net = data.draw(networks())
    ledger = _run(data, net)
    for field in FIELDS:
        assert ledger[field].min() >= -TOL, field


@given(st.data())
def test_capacities_and_reviews_are_respected(data):
    """Orders never exceed the order capacity and happen only at reviews; capacitated
    supply ships at most its capacity per period; storage capacity caps stock on hand
    (when the node starts within it and has no initial pipeline)."""
    net = data.draw(networks())
    horizon = data.draw(periods)
    ledger = Simulation(net, horizon, seed=data.draw(seeds)).run(data.draw(policies(net)))
    t = np.arange(horizon)
    for n in net.nodes:
        ordered = ledger.column("ordered", n.name)
        if n.kind == "supply":
            assert (ledger.column("shipped", n.name) <= n.capacity + TOL).all()
            continue
        assert (ordered <= n.capacity + TOL).all()
        off_review = (t - n.review_offset) % n.review_period != 0
        assert (ordered[off_review] == 0).all()
        if n.initial_on_hand <= n.storage_capacity and not any(n.initial_pipeline):
            assert (ledger.column("on_hand", n.name) <= n.storage_capacity + TOL).all()


@given(st.data())
def test_integer_networks_move_whole_units(data):
    net = data.draw(networks(continuous=False))
    ledger = _run(data, net)
    if net.continuous:  # an integer-valued demand can still be declared continuous
        return
    for field in ("on_hand", "backlog", "lost", "ordered", "received", "shipped", "sales"):
        np.testing.assert_array_equal(ledger[field], np.round(ledger[field]), err_msg=field)


@given(st.data())
def test_same_seed_same_ledger(data):
    """Bit-identical ledgers for the same seed: rerun, fresh object, and outside driver."""
    net = data.draw(networks())
    horizon, seed = data.draw(periods), data.draw(seeds)
    policy = data.draw(policies(net))
    sim = Simulation(net, horizon, seed=seed)
    first = sim.run(policy)
    again = sim.run(policy)
    other = Simulation(net, horizon, seed=seed).run(policy)
    for field in FIELDS:
        assert np.array_equal(first[field], again[field]), field
        assert np.array_equal(first[field], other[field]), field

    driven = Simulation(net, horizon, seed=seed)
    obs = driven.reset(seed)
    while obs is not None:
        driven.act(policy.act(obs))
        obs = driven.advance()
    ledger = driven.ledger()
    for field in FIELDS:
        assert np.array_equal(first[field], ledger[field]), field


@given(st.data())
def test_common_random_numbers_across_policies(data):
    """Two policies on the same seed see the identical demand column."""
    net = data.draw(networks())
    horizon, seed = data.draw(periods), data.draw(seeds)
    a = Simulation(net, horizon, seed=seed).run(data.draw(policies(net)))
    b = Simulation(net, horizon, seed=seed).run(data.draw(policies(net)))
    assert np.array_equal(a["demand"], b["demand"])


@given(networks(), seeds)
def test_different_seeds_differ_somewhere_when_demand_is_random(net, seed):
    """The seed matters: a Poisson-demand node almost surely sees another path."""
    if not any(isinstance(n.demand, Poisson) and n.demand.mean > 1 for n in net.nodes):
        return
    a = Simulation(net, 60, seed=seed).run(ConstantOrder(1))
    b = Simulation(net, 60, seed=seed + 1).run(ConstantOrder(1))
    assert not np.array_equal(a["demand"], b["demand"])


def test_parallel_replications_equal_serial_ones():
    """Replication k runs on SeedSequence(seed, spawn_key=(k,)) wherever it runs."""
    import scenarios

    net = scenarios.make("random-dag", n_nodes=6, n_layers=2, seed=3).network
    policy = BaseStock(25)
    serial = simulate(net, policy, periods=300, replications=4, seed=11, processes=1)
    parallel = simulate(net, policy, periods=300, replications=4, seed=11, processes=2)
    assert np.array_equal(serial.per_replication, parallel.per_replication)
    assert serial.mean == parallel.mean and serial.ci95 == parallel.ci95
    assert serial.nodes == parallel.nodes
    assert not math.isclose(serial.per_replication[0], serial.per_replication[1])


# -- the peer conventions: sequential decisions, ship-before-receipt, shipping capacities ------


@given(st.data())
def test_units_are_conserved_under_conventions(data):
    """Per node and network-wide (bom 1): shipping capacities and ship-before-receipt hold
    units back or lose them by the node's rule, never drop them."""
    net = data.draw(networks(assembly=False, conventions=True))
    sim = Simulation(net, data.draw(long_periods), seed=data.draw(seeds))
    ledger = sim.run(data.draw(policies(net)))
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=TOL)
    supplied = sum(ledger.column("shipped", n.name).sum() for n in net.nodes if n.kind == "supply")
    initial = sum(n.initial_on_hand + sum(n.initial_pipeline) for n in net.nodes)
    assert supplied + initial == pytest.approx(
        ledger["sales"].sum() + sim.units_in_network(), rel=1e-9, abs=TOL
    )
    for field in FIELDS:
        assert ledger[field].min() >= -TOL, field


@given(st.data())
def test_owed_units_are_accounted_under_conventions(data):
    """Every unit requested of a node (external demand and downstream orders) is shipped or
    sold, backlogged, or lost: requested = shipped + sales + lost + change in backlog."""
    net = data.draw(networks(assembly=False, conventions=True))
    ledger = _run(data, net)
    for n in net.stock_nodes:
        name = n.name
        asked = ledger.column("demand", name).sum()
        for e in net.customers(name):
            asked += ledger.column("ordered", e.target).sum() * (
                1.0 if len(net.suppliers(e.target)) == 1 else np.nan
            )
        if np.isnan(asked):  # several suppliers: how an order splits is another property
            continue
        done = (
            ledger.column("shipped", name).sum()
            + ledger.column("sales", name).sum()
            + ledger.column("lost", name).sum()
            + ledger.column("backlog", name)[-1]
        )
        assert asked == pytest.approx(done, rel=1e-9, abs=TOL), name


@given(st.data())
def test_shipping_capacities_are_respected(data):
    net = data.draw(networks(conventions=True))
    horizon = data.draw(periods)
    ledger = Simulation(net, horizon, seed=data.draw(seeds)).run(data.draw(policies(net)))
    for n in net.nodes:
        cap = n.capacity if n.kind == "supply" else n.shipping_capacity
        assert (ledger.column("shipped", n.name) <= cap + TOL).all()
        if n.kind == "stock" and math.isinf(n.capacity) and math.isinf(n.storage_capacity):
            assert (ledger.column("order_cut", n.name) == 0).all()
        if math.isinf(cap):
            assert (ledger.column("capacity_short", n.name) == 0).all()


@given(st.data())
def test_outside_driving_equals_run_under_conventions(data):
    """Node-by-node epochs (sequential) driven from outside give run(policy)'s ledger."""
    net = data.draw(networks(conventions=True))
    horizon, seed = data.draw(periods), data.draw(seeds)
    policy = data.draw(policies(net))
    first = Simulation(net, horizon, seed=seed).run(policy)
    driven = Simulation(net, horizon, seed=seed)
    obs = driven.reset(seed)
    while obs is not None:
        if net.decisions == "sequential":
            assert len(obs.deciding) == 1 and obs.deciding[0] in obs.deciding_this_period
        driven.act(policy.act(obs))
        obs = driven.advance()
    ledger = driven.ledger()
    for field in FIELDS:
        assert np.array_equal(first[field], ledger[field]), field
