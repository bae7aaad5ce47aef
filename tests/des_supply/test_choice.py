"""The ``"choice"`` supply rule: the policy orders from each supplier (dual sourcing, methods).

Unit traces on a hand-built dual-sourcing node, the validation of actions and networks,
the file round trip, the batch engine's fallback, and the engine's properties
(conservation, non-negativity, determinism, outside driving) on random networks whose
multi-sourced nodes choose (hypothesis; strategies in tests/strategies.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import networks, periods, policies, seeds

from des_supply import Action, Deterministic, Edge, Network, Node, Poisson, Simulation
from des_supply.batch import unsupported
from des_supply.evaluate import simulate
from des_supply.ledger import FIELDS
from des_supply.network import NetworkError, network_schema
from des_supply.problem import Problem
from des_supply.sim import DecisionError

TOL = 1e-6


def dual(demand=None, lr=2, le=0, ce=10.0, **node):
    """One store, a regular (lead time *lr*, free) and an expedited (*le*, *ce* a unit) supplier."""
    demand = Deterministic(2) if demand is None else demand
    return Network(
        nodes=(
            Node("regular", kind="supply"),
            Node("expedited", kind="supply"),
            Node(
                "store",
                holding_cost=1,
                shortage_cost=9,
                demand=demand,
                supply_rule="choice",
                **node,
            ),
        ),
        edges=(
            Edge("regular", "store", lead_time=lr),
            Edge("expedited", "store", lead_time=le, unit_cost=ce),
        ),
    )


class Fixed:
    """The same orders every period."""

    def __init__(self, orders):
        self.orders = orders

    def act(self, obs):
        return Action(orders={"store": dict(self.orders)})


def test_each_supplier_has_its_own_lead_time_and_unit_cost():
    """3 regular units arrive 2 periods after they are ordered, 1 expedited unit at once."""
    ledger = Simulation(dual(), 6, seed=0).run(Fixed({"regular": 3, "expedited": 1}))
    received = ledger.column("received", "store")
    assert received.tolist() == [1, 1, 4, 4, 4, 4]
    assert ledger.column("ordered", "store").tolist() == [4] * 6
    assert ledger.column("shipped", "regular").tolist() == [3] * 6
    assert ledger.column("shipped", "expedited").tolist() == [1] * 6
    assert ledger.column("variable_cost", "store").tolist() == [10.0] * 6  # only expedited units
    assert ledger.column("in_transit", "store").tolist() == [3, 6, 6, 6, 6, 6]


def test_node_capacity_cuts_the_last_supplier_first():
    net = dual(capacity=3, order_cost=0.5, fixed_order_cost=2)
    ledger = Simulation(net, 3, seed=0).run(Fixed({"regular": 2, "expedited": 2}))
    assert ledger.column("shipped", "regular").tolist() == [2, 2, 2]
    assert ledger.column("shipped", "expedited").tolist() == [1, 1, 1]
    assert ledger.column("order_cut", "store").tolist() == [1, 1, 1]
    # fixed cost once per epoch, order cost per unit of the total, edge cost per unit shipped
    assert ledger.column("fixed_cost", "store").tolist() == [2, 2, 2]
    assert ledger.column("variable_cost", "store").tolist() == [3 * 0.5 + 10] * 3


def test_supplier_capacity_backlogs_at_that_supplier():
    net = Network(
        nodes=(
            Node("regular", kind="supply", capacity=1),
            Node("expedited", kind="supply"),
            Node("store", demand=Deterministic(1), supply_rule="choice"),
        ),
        edges=(Edge("regular", "store", lead_time=1), Edge("expedited", "store", lead_time=0)),
    )
    seen = []

    class Probe:
        def act(self, obs):
            seen.append(
                (
                    obs.supplier_on_order("store", "regular"),
                    obs.supplier_pipeline("store", "regular", 2),
                )
            )
            return {"store": {"regular": 2}}

    ledger = Simulation(net, 3, seed=0).run(Probe())
    assert ledger.column("shipped", "regular").tolist() == [1, 1, 1]
    assert ledger.column("backlog", "regular").tolist() == [1, 2, 3]
    # at each epoch the supplier has just shipped one backlogged unit (due next period);
    # the rest of what was ordered waits in its backlog (no arrival period yet)
    assert seen == [(0.0, (0.0, 0.0)), (1.0, (1.0, 0.0)), (2.0, (1.0, 0.0))]


def test_rounding_is_per_supplier_unless_continuous():
    ledger = Simulation(dual(), 2, seed=0).run(Fixed({"regular": 1.4, "expedited": 0.6}))
    assert ledger.column("shipped", "regular").tolist() == [1, 1]
    assert ledger.column("shipped", "expedited").tolist() == [1, 1]


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        ({"store": 3}, "chooses its suppliers (supply_rule='choice'): its order must be a mapping"),
        ({"store": {"plant": 1}}, "orders from 'plant', which is not one of its suppliers"),
        ({"store": {"regular": -1}}, "from supplier 'regular' (edge 'regular'->'store')"),
        ({"store": {"regular": math.inf}}, "must be a finite number >= 0"),
        ({"store": {"regular": "2"}}, "must be a finite number >= 0, got '2'"),
    ],
)
def test_bad_orders_name_the_node_and_supplier(orders, message):
    sim = Simulation(dual(), 3, seed=0)
    sim.reset(0)
    with pytest.raises(DecisionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sim.act(orders)


def test_a_mapping_for_a_node_that_does_not_choose_is_refused():
    net = Network(
        nodes=(Node("s", kind="supply"), Node("store", demand=Poisson(2))),
        edges=(Edge("s", "store"),),
    )
    sim = Simulation(net, 3, seed=0)
    sim.reset(0)
    with pytest.raises(DecisionError, match="node 'store' has supply_rule=None, not 'choice'"):
        sim.act({"store": {"s": 1}})


def test_network_checks_and_file_round_trip(tmp_path):
    with pytest.raises(NetworkError, match="'assembly', 'split', 'priority' or 'choice'"):
        Network(
            nodes=(Node("a", kind="supply"), Node("b", kind="supply"), Node("c")),
            edges=(Edge("a", "c"), Edge("b", "c")),
        )
    with pytest.raises(NetworkError, match=r"edge 'regular'->'store': bom\(=2.0\) must be 1"):
        Network(
            nodes=(
                Node("regular", kind="supply"),
                Node("x", kind="supply"),
                Node("store", supply_rule="choice"),
            ),
            edges=(Edge("regular", "store", bom=2), Edge("x", "store")),
        )
    net = dual(demand=Poisson(2), lr=3)
    path = tmp_path / "dual.json"
    net.to_json(path)
    assert Network.from_json(path) == net
    data = json.loads(path.read_text())
    assert "choice" in network_schema()["$defs"]["node"]["properties"]["supply_rule"]["enum"]
    assert data["nodes"][2]["supply_rule"] == "choice"
    problem = Problem(net)
    assert problem.kind.shape == "multi-sourcing"
    assert problem.describe()["kind"]["shape"] == "multi-sourcing"
    # each supplier may carry the whole flow
    assert net.mean_flows == {"regular": 2.0, "expedited": 2.0, "store": 2.0}


def test_batch_engine_falls_back_with_one_line():
    net = dual(demand=Poisson(2))
    assert unsupported(net) == "node 'store' supply_rule='choice' (orders per supplier)"
    res = simulate(net, Fixed({"regular": 2}), periods=50, replications=30, seed=0)
    assert res.engine == "event"
    assert "supply_rule='choice'" in res.engine_note and "\n" not in res.engine_note


# -- properties on random networks with choosing nodes -------------------------------------
choosing = networks(shape="general", choice=True, conventions=True).filter(
    lambda net: any(net.supply_rule_of(n.name) == "choice" for n in net.stock_nodes)
)


@given(choosing, st.data())
def test_units_are_conserved_when_nodes_choose(net, data):
    sim = Simulation(net, data.draw(st.integers(4, 60)), seed=data.draw(seeds))
    ledger = sim.run(data.draw(policies(net)))
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=TOL)
    consumed = 0.0
    for n in net.stock_nodes:
        if (
            any(e.bom != 1 for e in net.suppliers(n.name))
            or net.supply_rule_of(n.name) == "assembly"
        ):
            kits = ledger.column("received", n.name).sum() - sum(n.initial_pipeline)
            consumed += kits * (sum(e.bom for e in net.suppliers(n.name)) - 1)
    supplied = sum(ledger.column("shipped", n.name).sum() for n in net.nodes if n.kind == "supply")
    initial = sum(n.initial_on_hand + sum(n.initial_pipeline) for n in net.nodes)
    assert supplied + initial == pytest.approx(
        ledger["sales"].sum() + sim.units_in_network() + consumed, rel=1e-9, abs=TOL
    )
    for field in FIELDS:
        assert ledger[field].min() >= -TOL, field


@given(choosing, st.data())
def test_what_a_choosing_node_orders_is_requested_of_its_suppliers(net, data):
    """ordered = what its suppliers shipped to it, backlogged for it or lost, when each of its
    suppliers is a supply node serving it alone."""
    ledger = Simulation(net, data.draw(periods), seed=data.draw(seeds)).run(
        data.draw(policies(net))
    )
    for n in net.stock_nodes:
        inbound = net.suppliers(n.name)
        if net.supply_rule_of(n.name) != "choice" or any(
            net.node(e.source).kind != "supply" or len(net.customers(e.source)) != 1
            for e in inbound
        ):
            continue
        requested = sum(
            ledger.column("shipped", e.source).sum()
            + ledger.column("lost", e.source).sum()
            + ledger.column("backlog", e.source)[-1]
            for e in inbound
        )
        assert ledger.column("ordered", n.name).sum() == pytest.approx(requested, abs=TOL)


@given(choosing, st.data())
def test_same_seed_same_ledger_and_outside_driving_when_nodes_choose(net, data):
    horizon, seed = data.draw(periods), data.draw(seeds)
    policy = data.draw(policies(net))
    first = Simulation(net, horizon, seed=seed).run(policy)
    other = Simulation(net, horizon, seed=seed).run(policy)
    driven = Simulation(net, horizon, seed=seed)
    obs = driven.reset(seed)
    while obs is not None:
        driven.act(policy.act(obs))
        obs = driven.advance()
    ledger = driven.ledger()
    for field in FIELDS:
        assert np.array_equal(first[field], other[field]), field
        assert np.array_equal(first[field], ledger[field]), field


def test_choice_runs_in_continuous_time_too():
    """The continuous-time engine places orders with the same code: per-supplier orders."""
    from des_supply.arrivals import PoissonProcess
    from des_supply.continuous import ContinuousSimulation

    net = Network(
        nodes=(
            Node("regular", kind="supply"),
            Node("expedited", kind="supply"),
            Node(
                "store",
                holding_cost=1,
                shortage_cost=9,
                demand=PoissonProcess(2.0),
                supply_rule="choice",
            ),
        ),
        edges=(
            Edge("regular", "store", lead_time=Deterministic(2.0)),
            Edge("expedited", "store", lead_time=Deterministic(0.5), unit_cost=3),
        ),
        time="continuous",
    )

    class Rule:
        def act(self, obs):
            short = obs.on_hand("store") - obs.backlog("store") < 0
            ip = obs.inventory_position("store")
            return {"store": {"regular": max(0.0, 6 - ip), "expedited": 1.0 if short else 0.0}}

    sim = ContinuousSimulation(net, 100, seed=1)
    ledger = sim.run(Rule())
    regular, expedited = (ledger.column("shipped", n).sum() for n in ("regular", "expedited"))
    assert regular > 0 and expedited > 0
    assert ledger.column("variable_cost", "store").sum() == pytest.approx(3 * expedited)
