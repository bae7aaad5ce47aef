"""Dual-sourcing policies (single index, dual index, capped dual index, tailored base-surge):
their order formulas, hand-computed engine traces and who is regular or expedited."""

from __future__ import annotations

import math

import pytest

from des_supply import Deterministic, Edge, Network, Node, Simulation
from des_supply.sourcing_policies import (
    CappedDualIndex,
    DualIndex,
    DualSourcing,
    SingleIndex,
    TailoredBaseSurge,
    dual_sourcing_nodes,
)


def network(regular_lead=2, expedited_lead=0, first="expedited"):
    edges = [
        Edge("regular", "store", lead_time=regular_lead),
        Edge("expedited", "store", lead_time=expedited_lead, unit_cost=10),
    ]
    if first == "expedited":
        edges.reverse()
    return Network(
        nodes=(
            Node("expedited", kind="supply"),
            Node("regular", kind="supply"),
            Node(
                "store",
                holding_cost=1,
                shortage_cost=9,
                demand=Deterministic(2),
                supply_rule="choice",
            ),
        ),
        edges=tuple(edges),
    )


@pytest.mark.parametrize("first", ["expedited", "regular"])
def test_the_slower_supplier_is_regular_whatever_the_declaration_order(first):
    assert dual_sourcing_nodes(network(3, 1, first)) == {
        "store": DualSourcing("store", "regular", "expedited", 3, 1)
    }


@pytest.mark.parametrize(
    ("policy", "position", "expedite_position", "orders"),
    [
        (SingleIndex(4, 9), 2, 0, (5, 2)),  # q_e = 4 - 2, q_r = 9 - 2 - 2
        (SingleIndex(4, 9), 6, 0, (3, 0)),
        (DualIndex(4, 9), 6, 1, (0, 3)),  # q_e = 4 - 1, q_r = (9 - 6 - 3)^+
        (DualIndex(4, 9), 3, 5, (6, 0)),
        (CappedDualIndex(4, 9, 2), 3, 1, (2, 3)),  # q_r = min((9 - 3)^+, 2)
        (TailoredBaseSurge(2, 4), 50, -3, (2, 7)),
    ],
)
def test_order_formulas(policy, position, expedite_position, orders):
    assert policy.orders(position, expedite_position) == orders


def test_dual_index_trace_in_the_engine():
    """l_r = 2, l_e = 0, demand 2 a period, S_e = 2, S_r = 6, nothing on hand at first."""
    ledger = Simulation(network(), 6, seed=0).run(DualIndex(2, 6))
    # t=0: NI 0, IP 0 -> q_e 2, q_r 4;  t=1: IP 4 -> q_e 2, q_r 0;  t=2: 4 arrive, NI 4,
    # IP 4 -> q_r 2, 2 left at the end;  t=3: nothing arrives, NI 2, IP 4 -> q_r 2, 0 left ...
    assert ledger.column("shipped", "expedited").tolist() == [2, 2, 0, 0, 0, 0]
    assert ledger.column("shipped", "regular").tolist() == [4, 0, 2, 2, 2, 2]
    assert ledger.column("on_hand", "store").tolist() == [0, 0, 2, 0, 0, 0]
    assert ledger.column("backlog", "store").sum() == 0


def test_expedited_position_counts_what_arrives_within_the_expedited_lead_time():
    """l_r = 3, l_e = 1: at t=1 the regular order of t=0 (due at t=3) is outside IP_e."""
    ledger = Simulation(network(3, 1), 3, seed=0).run(DualIndex(3, 8))
    # t=0: IP_e 0 -> q_e 3 (due t=1), q_r = 8 - 3 = 5 (due t=3)
    # t=1: 3 arrive, demand 2 at t=0 backlogged then served: NI = 3 - 2 = 1; IP_e = 1 -> q_e 2;
    #      IP = 1 + 5 -> q_r = 8 - 6 - 2 = 0
    assert ledger.column("shipped", "expedited").tolist()[:2] == [3, 2]
    assert ledger.column("shipped", "regular").tolist()[:2] == [5, 0]


def test_capped_dual_index_caps_the_regular_order():
    ledger = Simulation(network(), 4, seed=0).run(CappedDualIndex(2, 10, cap=1))
    assert ledger.column("shipped", "regular").tolist() == [1, 1, 1, 1]


def test_tailored_base_surge_tracks_a_fractional_base_with_whole_orders():
    ledger = Simulation(network(), 6, seed=0).run(TailoredBaseSurge(1.5, 2))
    assert ledger.column("shipped", "regular").tolist() == [1, 2, 1, 2, 1, 2]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DualIndex(math.nan, 3), r"expedite_level\(=nan\) must be a finite number"),
        (lambda: CappedDualIndex(1, 3, cap=-1), r"cap\(=-1\) must be a number >= 0"),
        (lambda: TailoredBaseSurge(-1, 3), r"base\(=-1.0\) must be >= 0"),
    ],
)
def test_bad_parameters_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_node_that_does_not_dual_source_is_named():
    net = Network(
        nodes=(Node("s", kind="supply"), Node("store", demand=Deterministic(1))),
        edges=(Edge("s", "store"),),
    )
    with pytest.raises(ValueError, match="node 'store' does not choose between two suppliers"):
        Simulation(net, 2).run(DualIndex(1, 2))
