"""The engine on tiny hand-built networks: exact ledgers, worked out by hand.

Every expected sequence below follows the documented order of events in a
period (des_supply/sim.py): receive, decide, demand, account (or receive,
demand, decide, account with ``order_timing="order-after-demand"``).  An order
placed in period t on an edge with lead time L arrives at the start of t + L.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import Script, single

from des_supply import (
    Action,
    BaseStock,
    ConstantOrder,
    Deterministic,
    EchelonBaseStock,
    Edge,
    Network,
    Node,
    Observation,
    Poisson,
    Shifted,
    Simulation,
    Trace,
)
from des_supply.ledger import FIELDS
from des_supply.sim import DecisionError


def col(ledger, field, node):
    return ledger.column(field, node).tolist()


# -- one stocking node, deterministic demand ------------------------------------------------------


def test_base_stock_with_lead_time_reaches_its_steady_state(single_net):
    """Demand 3, lead time 2, S = 11, 9 on hand: end stock S - 3(L+1) = 2 from period 2."""
    led = Simulation(single_net, 6).run(BaseStock(11))
    assert col(led, "ordered", "store") == [2, 3, 3, 3, 3, 3]
    assert col(led, "received", "store") == [0, 0, 2, 3, 3, 3]
    assert col(led, "on_hand", "store") == [6, 3, 2, 2, 2, 2]
    assert col(led, "in_transit", "store") == [2, 5, 6, 6, 6, 6]
    assert col(led, "backlog", "store") == [0] * 6
    assert col(led, "sales", "store") == col(led, "served", "store") == [3] * 6
    assert col(led, "holding_cost", "store") == [6, 3, 2, 2, 2, 2]
    assert col(led, "shortage_cost", "store") == [0] * 6
    # the supplier ships what is ordered, the moment it is ordered
    assert col(led, "shipped", "plant") == col(led, "ordered", "store")


def test_backlog_is_filled_first_when_stock_arrives():
    """S = 7 < 3(L+1): two units are owed at the end of every period from period 2."""
    net = single(demand=3, lead_time=2, initial_on_hand=7)
    led = Simulation(net, 6).run(BaseStock(7))
    assert col(led, "on_hand", "store") == [4, 1, 0, 0, 0, 0]
    assert col(led, "backlog", "store") == [0, 0, 2, 2, 2, 2]
    assert col(led, "ordered", "store") == [0, 3, 3, 3, 3, 3]
    assert col(led, "received", "store") == [0, 0, 0, 3, 3, 3]
    assert col(led, "served", "store") == [3, 3, 1, 1, 1, 1]
    assert col(led, "sales", "store") == [3, 3, 1, 3, 3, 3]  # 2 owed + 1 from stock
    assert col(led, "lost", "store") == [0] * 6
    assert col(led, "shortage_cost", "store") == [0, 0, 10, 10, 10, 10]


def test_lost_sales_never_come_back():
    """Same system with lost sales: a 3-period cycle of (lose 2, hold 0, hold 0)."""
    net = single(demand=3, lead_time=2, initial_on_hand=7, shortage="lost")
    led = Simulation(net, 8).run(BaseStock(7))
    assert col(led, "on_hand", "store") == [4, 1, 0, 0, 0, 0, 0, 0]
    assert col(led, "lost", "store") == [0, 0, 2, 0, 0, 2, 0, 0]
    assert col(led, "backlog", "store") == [0] * 8
    assert col(led, "ordered", "store") == [0, 3, 3, 1, 3, 3, 1, 3]
    assert col(led, "received", "store") == [0, 0, 0, 3, 3, 1, 3, 3]
    assert col(led, "sales", "store") == [3, 3, 1, 3, 3, 1, 3, 3]
    assert col(led, "shortage_cost", "store") == [0, 0, 10, 0, 0, 10, 0, 0]


def test_lead_time_zero_arrives_before_demand():
    net = single(demand=3, lead_time=0, initial_on_hand=0)
    led = Simulation(net, 4).run(BaseStock(3))
    assert col(led, "ordered", "store") == [3] * 4
    assert col(led, "received", "store") == [3] * 4
    assert col(led, "served", "store") == [3] * 4
    assert col(led, "on_hand", "store") == [0] * 4
    assert col(led, "backlog", "store") == [0] * 4
    assert col(led, "in_transit", "store") == [0] * 4


def test_order_after_demand_sees_this_periods_demand():
    """Lead time 0, demand first: period 0 backlogs 3, then orders S - IP = 3 + 3."""
    net = single(demand=3, lead_time=0, initial_on_hand=0, order_timing="order-after-demand")
    led = Simulation(net, 4).run(BaseStock(3))
    assert col(led, "ordered", "store") == [6, 3, 3, 3]
    assert col(led, "on_hand", "store") == [3, 3, 3, 3]
    assert col(led, "backlog", "store") == [0] * 4
    assert col(led, "served", "store") == [0, 3, 3, 3]
    assert col(led, "sales", "store") == [3, 3, 3, 3]  # period 0's demand, filled on arrival


def test_order_timing_changes_the_periods_a_base_stock_level_covers():
    """With S = 5, L = 1, demand 3: after-demand covers L periods (stock 2), before-demand
    covers L + 1 periods (one unit short every period)."""
    after = Simulation(
        single(demand=3, lead_time=1, initial_on_hand=5, order_timing="order-after-demand"), 5
    ).run(BaseStock(5))
    assert col(after, "ordered", "store") == [3] * 5
    assert col(after, "on_hand", "store") == [2] * 5
    assert col(after, "backlog", "store") == [0] * 5
    before = Simulation(single(demand=3, lead_time=1, initial_on_hand=5), 5).run(BaseStock(5))
    assert col(before, "ordered", "store") == [0, 3, 3, 3, 3]
    assert col(before, "on_hand", "store") == [2, 0, 0, 0, 0]
    assert col(before, "backlog", "store") == [0, 1, 1, 1, 1]


def test_orders_are_rounded_in_integer_networks_only():
    integer = Simulation(single(demand=0, initial_on_hand=0), 2).run(ConstantOrder(2.6))
    assert col(integer, "ordered", "store") == [3, 3]
    net = Network(single(demand=0).nodes, single(demand=0).edges, continuous=True)
    led = Simulation(net, 2).run(ConstantOrder(2.6))
    assert col(led, "ordered", "store") == [2.6, 2.6]


# -- upstream shortages -------------------------------------------------------------------------


def two_echelon(dc_rule: str) -> Network:
    return Network(
        (
            Node("plant", kind="supply"),
            Node("dc", initial_on_hand=4, shortage=dc_rule, shortage_cost=1.0),
            Node("store", demand=Deterministic(0)),
        ),
        (Edge("plant", "dc", lead_time=1), Edge("dc", "store", lead_time=1)),
    )


def test_supplier_ships_what_it_has_and_backlogs_the_rest():
    """The store orders 10 from a dc holding 4: 4 leave now, 6 wait for the dc's own order."""
    led = Simulation(two_echelon("backlog"), 4).run(Script({0: {"store": 10}, 1: {"dc": 10}}))
    assert col(led, "shipped", "dc") == [4, 0, 6, 0]
    assert col(led, "backlog", "dc") == [6, 6, 0, 0]
    assert col(led, "received", "dc") == [0, 0, 10, 0]
    assert col(led, "on_hand", "dc") == [0, 0, 4, 4]
    assert col(led, "shortage_cost", "dc") == [6, 6, 0, 0]  # per unit owed downstream
    assert col(led, "received", "store") == [0, 4, 0, 6]
    assert col(led, "in_transit", "store") == [4, 0, 6, 0]
    assert col(led, "on_hand", "store") == [0, 4, 4, 10]


def test_supplier_with_lost_sales_loses_what_it_cannot_ship():
    led = Simulation(two_echelon("lost"), 4).run(Script({0: {"store": 10}, 1: {"dc": 10}}))
    assert col(led, "shipped", "dc") == [4, 0, 0, 0]
    assert col(led, "lost", "dc") == [6, 0, 0, 0]
    assert col(led, "backlog", "dc") == [0] * 4
    assert col(led, "shortage_cost", "dc") == [6, 0, 0, 0]  # per unit lost
    assert col(led, "on_hand", "dc") == [0, 0, 10, 10]
    assert col(led, "received", "store") == [0, 4, 0, 0]


def test_backlogged_units_count_as_on_order_downstream(script):
    policy = script({0: {"store": 10}})
    seen = {}

    class Spy(Script):
        def act(self, obs):
            seen[obs.t] = (obs.on_order("store"), obs.backlog("dc"), obs.inventory_position("dc"))
            return super().act(obs)

    Simulation(two_echelon("backlog"), 2).run(Spy(policy.table))
    assert seen[0] == (0, 0, 4)
    assert seen[1] == (6, 6, -6)  # 4 arrived; 6 still owed by the dc


# -- multi-sourcing -------------------------------------------------------------------------------


def two_sources(
    rule: str, a_on_hand: float = 50, b_on_hand: float = 50, continuous=None, shares=(None, None)
) -> Network:
    """plant -> a, b -> store; b's edge is declared first but has the higher priority number."""
    return Network(
        (
            Node("plant", kind="supply"),
            Node("a", initial_on_hand=a_on_hand),
            Node("b", initial_on_hand=b_on_hand),
            Node("store", demand=Deterministic(0), supply_rule=rule),
        ),
        (
            Edge("plant", "a"),
            Edge("plant", "b"),
            Edge("b", "store", lead_time=2, priority=1, share=shares[1]),
            Edge("a", "store", lead_time=1, priority=0, share=shares[0]),
        ),
        continuous=continuous,
    )


def test_priority_takes_what_the_first_supplier_has_and_the_rest_from_the_next():
    led = Simulation(two_sources("priority", a_on_hand=4, b_on_hand=100), 3).run(
        Script({0: {"store": 10}})
    )
    assert col(led, "shipped", "a") == [4, 0, 0]
    assert col(led, "shipped", "b") == [6, 0, 0]
    assert col(led, "received", "store") == [0, 4, 6]


def test_priority_last_supplier_takes_the_remainder_even_if_short():
    led = Simulation(two_sources("priority", a_on_hand=4, b_on_hand=3), 3).run(
        Script({0: {"store": 10}})
    )
    assert col(led, "shipped", "a") == [4, 0, 0]
    assert col(led, "shipped", "b") == [3, 0, 0]
    assert col(led, "backlog", "b") == [3, 3, 3]
    assert col(led, "backlog", "a") == [0, 0, 0]
    assert col(led, "received", "store") == [0, 4, 3]


def test_split_uses_shares_with_largest_remainder_rounding():
    net = two_sources("split", shares=(0.3, 0.7))
    led = Simulation(net, 2).run(Script({0: {"store": 10}, 1: {"store": 7}}))
    assert col(led, "shipped", "a") == [3, 2]  # 7 x 0.3 = 2.1 -> 2
    assert col(led, "shipped", "b") == [7, 5]  # 7 x 0.7 = 4.9 -> 5
    cont = Simulation(two_sources("split", shares=(0.3, 0.7), continuous=True), 1).run(
        Script({0: {"store": 7}})
    )
    assert cont.column("shipped", "a")[0] == pytest.approx(2.1)
    assert cont.column("shipped", "b")[0] == pytest.approx(4.9)


# -- assembly -----------------------------------------------------------------------------------


def kit_network(b_capacity: float = math.inf) -> Network:
    """One unit of A and two of B make one unit at ``asm``."""
    return Network(
        (
            Node("sa", kind="supply"),
            Node("sb", kind="supply", capacity=b_capacity),
            Node("asm", supply_rule="assembly", demand=Deterministic(0)),
        ),
        (
            Edge("sa", "asm", lead_time=1, bom=1, transit_holding_cost=0.1),
            Edge("sb", "asm", lead_time=3, bom=2, transit_holding_cost=0.2),
        ),
    )


def test_assembly_waits_for_complete_kits():
    seen = []

    class Spy(Script):
        def act(self, obs):
            seen.append(obs.on_order("asm"))
            return super().act(obs)

    led = Simulation(kit_network(), 5).run(Spy({0: {"asm": 5}}))
    assert col(led, "shipped", "sa") == [5, 0, 0, 0, 0]
    assert col(led, "shipped", "sb") == [10, 0, 0, 0, 0]  # bom 2
    assert col(led, "received", "asm") == [0, 0, 0, 5, 0]
    assert col(led, "on_hand", "asm") == [0, 0, 0, 5, 5]
    # A waits in the input buffer from period 1 and is still charged transit holding
    assert col(led, "transit_cost", "asm") == pytest.approx([2.5, 2.5, 2.5, 0, 0])
    assert seen == [0, 5, 5, 0, 0]  # complete kits on order (after the order at 0)


def test_assembly_builds_partial_kits_as_components_arrive():
    """B ships at most 7 per period: 3 kits at period 3, 2 more at period 4."""
    led = Simulation(kit_network(b_capacity=7), 6).run(Script({0: {"asm": 5}}))
    assert col(led, "shipped", "sb") == [7, 3, 0, 0, 0, 0]
    assert col(led, "backlog", "sb") == [3, 0, 0, 0, 0, 0]
    assert col(led, "received", "asm") == [0, 0, 0, 3, 2, 0]
    assert col(led, "on_hand", "asm") == [0, 0, 0, 3, 5, 5]


def test_assembly_in_transit_counts_kits_once():
    led = Simulation(kit_network(), 4).run(Script({0: {"asm": 5}}))
    assert col(led, "in_transit", "asm") == [5, 5, 5, 0]


# -- capacities -----------------------------------------------------------------------------------


def test_order_and_storage_capacity_cut_orders():
    net = single(demand=0, lead_time=2, initial_on_hand=5, capacity=4, storage_capacity=12)
    led = Simulation(net, 5).run(BaseStock(100))
    assert col(led, "ordered", "store") == [4, 3, 0, 0, 0]
    assert col(led, "on_hand", "store") == [5, 5, 9, 12, 12]


def test_capacitated_supply_works_off_its_backlog_first_come_first_served():
    net = single(demand=0, lead_time=1, initial_on_hand=0)
    net = net.replace_node("plant", capacity=4)
    led = Simulation(net, 5).run(Script({0: {"store": 10}, 1: {"store": 3}}))
    assert col(led, "shipped", "plant") == [4, 4, 4, 1, 0]
    assert col(led, "backlog", "plant") == [6, 5, 1, 0, 0]
    assert col(led, "received", "store") == [0, 4, 4, 4, 1]


def test_capacitated_supply_with_lost_sales_drops_the_excess():
    net = single(demand=0, lead_time=1, initial_on_hand=0)
    net = net.replace_node("plant", capacity=4, shortage="lost")
    led = Simulation(net, 3).run(Script({0: {"store": 10}}))
    assert col(led, "shipped", "plant") == [4, 0, 0]
    assert col(led, "lost", "plant") == [6, 0, 0]
    assert col(led, "received", "store") == [0, 4, 0]


# -- reviews --------------------------------------------------------------------------------------


def test_review_period_two_decides_on_even_periods_only():
    net = single(demand=1, initial_on_hand=20, review_period=2)
    policy = Script()
    Simulation(net, 6).run(policy)
    assert policy.epochs == [(0, ("store",)), (2, ("store",)), (4, ("store",))]
    sim = Simulation(net, 6)
    obs = sim.reset()
    ts = []
    while obs is not None:
        ts.append((obs.t, obs.deciding))
        sim.act({})
        obs = sim.advance()
    assert ts == policy.epochs


def test_review_offsets_and_who_decides_when():
    """dc reviews every period, store every second period from period 1: downstream first."""
    net = Network(
        (
            Node("plant", kind="supply"),
            Node("dc", initial_on_hand=10),
            Node(
                "store",
                demand=Deterministic(1),
                initial_on_hand=10,
                review_period=2,
                review_offset=1,
            ),
        ),
        (Edge("plant", "dc"), Edge("dc", "store")),
    )
    policy = Script()
    led = Simulation(net, 4).run(policy)
    assert policy.epochs == [(0, ("dc",)), (1, ("store", "dc")), (2, ("dc",)), (3, ("store", "dc"))]
    assert led.periods == 4


# -- lead times -----------------------------------------------------------------------------------


def crossing(sequential: bool) -> Network:
    """Lead time 3 for what leaves in period 0, 1 afterwards (a trace-driven lead time)."""
    return single(
        demand=0,
        lead_time=Trace((3.0, 1.0), after="hold"),
        initial_on_hand=0,
        edge={"sequential": sequential},
    )


def test_independent_lead_times_can_cross():
    led = Simulation(crossing(False), 5).run(Script({0: {"store": 5}, 1: {"store": 7}}))
    assert col(led, "received", "store") == [0, 0, 7, 5, 0]


def test_sequential_lead_times_never_cross():
    led = Simulation(crossing(True), 5).run(Script({0: {"store": 5}, 1: {"store": 7}}))
    assert col(led, "received", "store") == [0, 0, 0, 12, 0]


def test_pipeline_view_shows_units_by_due_period():
    net = crossing(False)
    sim = Simulation(net, 5)
    obs = sim.reset()
    sim.act({"store": 5})
    obs = sim.advance()
    assert obs.t == 1 and obs.pipeline("store", 3) == (0, 5, 0)
    sim.act({"store": 7})
    obs = sim.advance()
    assert obs.t == 2 and obs.pipeline("store", 2) == (5, 0)


def test_initial_pipeline_arrives_at_the_start_of_its_period():
    net = single(demand=0, initial_on_hand=1, initial_pipeline=(2, 5, 0, 7))
    led = Simulation(net, 5).run(Script())
    assert col(led, "received", "store") == [2, 5, 0, 7, 0]
    assert col(led, "on_hand", "store") == [3, 8, 8, 15, 15]
    assert led.initial_pipeline.tolist() == [0, 14]
    np.testing.assert_array_equal(led.conservation_residual(), 0)


def test_initial_pipeline_is_on_order():
    """Units of the initial pipeline are on their way: they count in the inventory position,
    the pipeline view and the ledger's in_transit, so base-stock 12 (demand over L + 1
    periods) orders nothing in period 0 and then replaces demand one for one."""
    net = single(demand=4, lead_time=2, initial_on_hand=4, initial_pipeline=(0, 4, 4))
    sim = Simulation(net, 4)
    obs = sim.reset()
    assert obs.pipeline("store", 3) == (4, 4, 0)
    assert obs.on_order("store") == 8 and obs.inventory_position("store") == 12
    assert obs.echelon_inventory_position("store") == 12
    led = Simulation(net, 4).run(BaseStock(12))
    assert col(led, "ordered", "store") == [0, 4, 4, 4]
    assert col(led, "received", "store") == [0, 4, 4, 4]
    assert col(led, "on_hand", "store") == [0, 0, 0, 0]
    assert col(led, "in_transit", "store") == [8, 8, 8, 8]


def test_units_in_network_counts_the_initial_pipeline_still_on_its_way():
    """The network-wide balance closes even when the horizon ends before the pipeline lands."""
    net = single(demand=1, initial_on_hand=3, initial_pipeline=(0, 0, 0, 5))
    sim = Simulation(net, 2)
    led = sim.run(Script())
    assert col(led, "on_hand", "store") == [2, 1]
    assert col(led, "in_transit", "store") == [5, 5]
    assert sim.units_in_network() == 1 + 5


# -- money -----------------------------------------------------------------------------------------


def test_fixed_variable_edge_and_transit_costs():
    net = single(
        demand=0,
        lead_time=2,
        initial_on_hand=0,
        holding_cost=1.0,
        fixed_order_cost=10,
        order_cost=2,
        edge={"unit_cost": 0.5, "transit_holding_cost": 0.1},
    )
    led = Simulation(net, 5).run(Script({0: {"store": 6}, 2: {"store": 4}}))
    assert col(led, "fixed_cost", "store") == [10, 0, 10, 0, 0]
    assert col(led, "variable_cost", "store") == [15, 0, 10, 0, 0]  # (2 + 0.5) per unit
    assert col(led, "transit_cost", "store") == pytest.approx([0.6, 0.6, 0.4, 0.4, 0])
    assert col(led, "holding_cost", "store") == [0, 0, 6, 6, 10]
    np.testing.assert_allclose(led.cost(), [25.6, 0.6, 26.4, 6.4, 10])
    assert led.objective == "cost"
    np.testing.assert_array_equal(led.objective_series(), led.cost())


def test_revenue_at_the_price_of_the_period_the_demand_came():
    net = single(
        demand=2, lead_time=1, initial_on_hand=1, price=3.0, holding_cost=0.5, shortage_cost=0.0
    )
    led = Simulation(net, 3).run(Script({0: {"store": 5}}))
    assert col(led, "sales", "store") == [1, 3, 2]
    assert col(led, "revenue", "store") == [3, 9, 6]
    assert led.objective == "profit"
    np.testing.assert_allclose(led.profit(), led["revenue"].sum(1) - led.cost())
    np.testing.assert_array_equal(led.objective_series(), led.profit())


def test_echelon_inventory_position_counts_the_echelon_not_internal_backlog(serial_net):
    seen = {}

    class Spy(Script):
        def act(self, obs):
            seen[obs.t] = {
                n: (obs.inventory_position(n), obs.echelon_inventory_position(n))
                for n in ("dc", "store")
            }
            return super().act(obs)

    Simulation(serial_net, 2).run(Spy({0: {"store": 8, "dc": 1}}))
    assert seen[0] == {"dc": (6, 10), "store": (4, 4)}
    # t=1: store got 6 (8 on hand), dc got 1 and sent it on, still owes 1
    assert seen[1] == {"dc": (-1, 9), "store": (10, 10)}


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, match",
    [
        ({"store": -1}, "finite number >= 0"),
        ({"store": math.nan}, "finite number >= 0"),
        ({"store": math.inf}, "finite number >= 0"),
        ({"plant": 1}, "node 'plant' does not decide"),
        ({"nowhere": 1}, "node 'nowhere' does not decide"),
        ([("store", 1)], "an action must be an Action or a mapping"),
    ],
)
def test_bad_orders_raise_decision_error(action, match):
    net = single(initial_on_hand=5)

    class Fixed:
        def act(self, obs):
            return action

    with pytest.raises(DecisionError, match=match):
        Simulation(net, 3).run(Fixed())
    sim = Simulation(net, 3)
    sim.reset()
    with pytest.raises(DecisionError, match=match):
        sim.step(action)


def test_order_for_a_node_that_does_not_review_now():
    net = Network(
        (
            Node("plant", kind="supply"),
            Node("dc", initial_on_hand=10),
            Node("store", demand=Deterministic(1), initial_on_hand=10, review_period=2),
        ),
        (Edge("plant", "dc"), Edge("dc", "store")),
    )
    sim = Simulation(net, 4)
    obs = sim.reset()
    assert obs.deciding == ("store", "dc")
    obs = sim.step({"store": 1})
    assert obs.t == 1 and obs.deciding == ("dc",)
    with pytest.raises(DecisionError, match=r"period 1: node 'store' does not decide now"):
        sim.step({"store": 1})


def test_trace_demand_that_stops_names_the_period():
    net = single(demand=Trace((1.0, 2.0), after="stop"), initial_on_hand=10)
    with pytest.raises(ValueError, match=r"'store'.*period 2"):
        Simulation(net, 5).run(Script())
    assert Simulation(net, 2).run(Script()).column("demand", "store").tolist() == [1, 2]


def test_bad_simulation_arguments():
    net = single()
    with pytest.raises(ValueError, match=r"periods\(=0\)"):
        Simulation(net, 0)
    with pytest.raises(ValueError, match=r"periods\(=2.5\)"):
        Simulation(net, 2.5)
    with pytest.raises(TypeError, match="network must be a Network"):
        Simulation({"nodes": []}, 5)
    with pytest.raises(ValueError, match=r"seed\(=-1\)"):
        Simulation(net, 5, seed=-1)
    with pytest.raises(TypeError, match="act"):
        Simulation(net, 5).run(object())


# -- the outside-driver API -----------------------------------------------------------------------


def stochastic_serial() -> Network:
    return Network(
        (
            Node("plant", kind="supply"),
            Node("dc", holding_cost=0.5, initial_on_hand=20),
            Node("store", holding_cost=1, shortage_cost=9, demand=Poisson(4), initial_on_hand=8),
        ),
        (
            Edge("plant", "dc", lead_time=Shifted(Poisson(1), 1)),
            Edge("dc", "store", lead_time=Shifted(Poisson(0.5), 0)),
        ),
    )


def test_reset_act_advance_equals_run_bit_for_bit():
    net, policy = stochastic_serial(), EchelonBaseStock({"dc": 30, "store": 12})
    expected = Simulation(net, 200, seed=7).run(policy)
    sim = Simulation(net, 200, seed=123)
    obs = sim.reset(seed=7)
    assert isinstance(obs, Observation) and obs.t == 0 and sim.now == 0
    epochs = 0
    while obs is not None:
        assert sim.observe() is obs and not sim.done
        sim.act(Action(orders=policy.act(obs)))
        obs = sim.advance()
        epochs += 1
    assert epochs == 200 and sim.done
    got = sim.ledger()
    for field in FIELDS:
        assert np.array_equal(expected[field], got[field]), field
    assert sim.total_cost == pytest.approx(expected.cost().sum())


def test_the_ledger_so_far_is_available_mid_run():
    sim = Simulation(stochastic_serial(), 10, seed=1)
    obs = sim.reset()
    for _ in range(3):
        obs = sim.step({n: 0 for n in obs.deciding})
    assert obs.t == 3 and sim.ledger().periods == 3


def test_driver_protocol_errors():
    sim = Simulation(single(initial_on_hand=5), 3)
    with pytest.raises(RuntimeError, match="not at a decision epoch"):
        sim.act({"store": 1})  # before reset
    sim.reset()
    with pytest.raises(RuntimeError, match="act"):
        sim.advance()  # advance without act
    sim.act({"store": 1})
    with pytest.raises(RuntimeError, match="not at a decision epoch"):
        sim.act({"store": 1})  # act twice
    assert sim.advance().t == 1
    sim.step({})
    assert sim.step({}) is None and sim.done
    with pytest.raises(RuntimeError, match="not at a decision epoch"):
        sim.observe()


def test_observation_names_unknown_nodes():
    sim = Simulation(single(initial_on_hand=5), 3)
    obs = sim.reset()
    assert obs.nodes == ("plant", "store")
    with pytest.raises(KeyError, match="no node 'x'"):
        obs.on_hand("x")


def test_adding_a_node_does_not_shift_another_nodes_demand():
    """Streams are keyed by name (crc32), so demand at ``a`` ignores what else exists."""
    a = Node("a", demand=Poisson(5), initial_on_hand=100)
    small = Network((Node("p", kind="supply"), a), (Edge("p", "a"),))
    big = Network(
        (Node("p", kind="supply"), Node("b", demand=Poisson(5)), a),
        (Edge("p", "b", lead_time=Shifted(Poisson(1), 1)), Edge("p", "a")),
    )
    da = Simulation(small, 300, seed=4).run(ConstantOrder(0)).column("demand", "a")
    db = Simulation(big, 300, seed=4).run(ConstantOrder(0)).column("demand", "a")
    assert np.array_equal(da, db)


def test_a_horizon_without_reviews_has_no_epoch():
    net = single(demand=1, initial_on_hand=5, review_period=2, review_offset=1)
    sim = Simulation(net, 1)
    assert sim.reset() is None and sim.done
    assert sim.ledger().column("on_hand", "store").tolist() == [4]


def test_fractional_order_capacity_keeps_integer_networks_whole():
    net = single(demand=0, initial_on_hand=0, capacity=2.5)
    assert net.continuous is False
    led = Simulation(net, 3).run(BaseStock(10))
    ordered = led.column("ordered", "store")
    np.testing.assert_array_equal(ordered, np.round(ordered))
