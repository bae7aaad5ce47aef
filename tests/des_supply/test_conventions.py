"""The conventions of textbooks and peer simulators, on hand-built networks worked out by hand.

* ``decisions``: ``simultaneous`` (one epoch per period, the pre-order state) or
  ``sequential`` (one epoch per node, downstream first, each after its customers' orders).
* ``shipping_timing``: ``receive-then-ship`` or ``ship-before-receipt`` (OR-Gym).
* ``shipping_capacity`` at stocking nodes; ledger fields ``order_cut`` and
  ``capacity_short``.
* Network validation of issue 17: initial stock within storage, magnitudes bounded.

Order of events: see the module docstring of des_supply/sim.py.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import Script

import rl
import scenarios
from des_supply import (
    BaseStock,
    ConstantOrder,
    Deterministic,
    EchelonBaseStock,
    Edge,
    Network,
    NetworkError,
    Node,
    Simulation,
)
from des_supply.ledger import FIELDS
from des_supply.network import MAX_MAGNITUDE
from des_supply.problem import as_problem, convention_note
from des_supply.rng import replication_seed


def col(ledger, field, node):
    return ledger.column(field, node).tolist()


def chain(
    decisions="simultaneous",
    shipping_timing="receive-then-ship",
    dc=None,
    store=None,
    lead=(1, 1),
    demand=3,
) -> Network:
    """plant -> dc -> store (demand *demand* per period); lead times *lead*."""
    dc_kw = {"holding_cost": 1.0, **(dc or {})}
    store_kw = {"holding_cost": 1.0, "shortage_cost": 5.0, **(store or {})}
    return Network(
        (
            Node("plant", kind="supply"),
            Node("dc", **dc_kw),
            Node("store", demand=Deterministic(demand), **store_kw),
        ),
        (Edge("plant", "dc", lead_time=lead[0]), Edge("dc", "store", lead_time=lead[1])),
        name="chain",
        decisions=decisions,
        shipping_timing=shipping_timing,
    )


# -- decisions -------------------------------------------------------------------------------------


def test_sequential_upstream_orders_what_its_customer_ordered_in_the_same_period():
    """Installation base-stock, demand 3: the store orders 3 from period 1 on; under
    sequential decisions the dc sees that order at once and orders 3 in the same period,
    under simultaneous decisions one period later (and runs out)."""
    kw = {"dc": {"initial_on_hand": 6}, "store": {"initial_on_hand": 6}}
    policy = BaseStock({"dc": 6, "store": 6})
    seq = Simulation(chain("sequential", **kw), 6).run(policy)
    sim = Simulation(chain("simultaneous", **kw), 6).run(policy)
    assert col(seq, "ordered", "store") == col(sim, "ordered", "store") == [0, 3, 3, 3, 3, 3]
    assert col(seq, "ordered", "dc") == [0, 3, 3, 3, 3, 3]
    assert col(sim, "ordered", "dc") == [0, 0, 3, 3, 3, 3]
    assert col(seq, "on_hand", "dc") == [6, 3, 3, 3, 3, 3]  # receives each period what it ships
    assert col(sim, "on_hand", "dc") == [6, 3, 0, 0, 0, 0]


def test_sequential_epochs_are_handed_out_node_by_node_downstream_first(script):
    net = chain("sequential", dc={"initial_on_hand": 10}, store={"initial_on_hand": 2})
    policy = script({0: {"store": 4, "dc": 5}, 1: {"store": 1}})
    led = Simulation(net, 2).run(policy)
    assert policy.epochs == [(0, ("store",)), (0, ("dc",)), (1, ("store",)), (1, ("dc",))]
    assert col(led, "shipped", "dc") == [4, 1]

    sim = Simulation(net, 2)
    obs = sim.reset(0)
    assert (obs.t, obs.deciding, obs.deciding_this_period) == (0, ("store",), ("store", "dc"))
    assert obs.on_hand("dc") == 10
    sim.act({"store": 4})
    obs = sim.advance()
    assert (obs.t, obs.deciding) == (0, ("dc",))
    assert obs.on_hand("dc") == 6 and obs.on_order("store") == 4  # the store's order is placed
    with pytest.raises(ValueError, match="node 'store' does not decide now"):
        sim.act({"store": 1})
    sim.act({"dc": 5})
    assert sim.advance().deciding == ("store",)


def test_sequential_echelon_base_stock_is_unchanged_and_equals_installation():
    """Internal orders cancel in echelon positions: echelon base-stock places the same
    orders under both modes, and under sequential decisions installation levels
    S_j - S_{j-1} place them too."""
    net = scenarios.make("serial", demand="poisson").network
    echelon = EchelonBaseStock({"stage1": 8, "stage2": 14, "stage3": 25})
    local = BaseStock({"stage1": 8, "stage2": 6, "stage3": 11})
    ech = Simulation(net, 300, seed=3).run(echelon)
    ech_sim = Simulation(dataclasses.replace(net, decisions="simultaneous"), 300, seed=3).run(
        echelon
    )
    inst = Simulation(net, 300, seed=3).run(local)
    for field in FIELDS:
        np.testing.assert_array_equal(ech[field], ech_sim[field], err_msg=field)
    np.testing.assert_array_equal(ech["ordered"][20:], inst["ordered"][20:])
    assert ech.cost()[50:].sum() == pytest.approx(inst.cost()[50:].sum())


def test_sequential_decisions_with_a_market_are_refused():
    problem = scenarios.make("pricing-a")
    net = dataclasses.replace(problem.network, decisions="sequential")
    with pytest.raises(ValueError, match="sequential decisions with a market"):
        Simulation(net, 5, market=problem.new_market())


# -- shipping timing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timing, shipped, on_hand",
    [
        ("receive-then-ship", [0, 5, 5, 5, 5], [0, 0, 0, 0, 0]),
        ("ship-before-receipt", [0, 0, 5, 5, 5], [0, 5, 5, 5, 5]),
    ],
)
def test_ship_before_receipt_ships_receipts_a_period_later(timing, shipped, on_hand):
    """The dc has nothing at the start; 5 units reach it every period from period 1 and the
    store orders 5 every period.  Receive-then-ship passes them on at once; OR-Gym's
    ship-before-receipt ships only the stock held at the start of the period."""
    net = chain(shipping_timing=timing, lead=(1, 0), demand=0)
    led = Simulation(net, 5).run(ConstantOrder(5))
    assert col(led, "shipped", "dc") == shipped
    assert col(led, "on_hand", "dc") == on_hand
    assert col(led, "backlog", "dc") == [5 + x for x in on_hand]  # what it holds, it owes


def test_ship_before_receipt_serves_external_demand_from_receipts():
    """A node with its own demand sells this period's receipts at once; only shipments to
    downstream nodes wait."""
    nodes = (Node("plant", kind="supply"), Node("dc", demand=Deterministic(2)), Node("store"))
    net = Network(
        nodes,
        (Edge("plant", "dc", lead_time=1), Edge("dc", "store", lead_time=1)),
        shipping_timing="ship-before-receipt",
    )
    led = Simulation(net, 3).run(Script({0: {"dc": 4}, 1: {"store": 2}}))
    assert col(led, "sales", "dc") == [0, 2, 0]  # period 1: the backlog, from the receipts
    assert col(led, "shipped", "dc") == [0, 0, 2]  # the store's order waits for period 2
    assert col(led, "backlog", "dc") == [2, 4, 4]  # period 1's demand queues behind the store


# -- shipping capacity -----------------------------------------------------------------------------


def test_shipping_capacity_caps_shipments_backlog_included():
    """The dc ships at most 3 per period; the store orders 5 per period."""
    net = chain(dc={"initial_on_hand": 10, "shipping_capacity": 3}, lead=(1, 1), demand=0)
    led = Simulation(net, 4).run(Script({t: {"store": 5} for t in range(4)}))
    assert col(led, "shipped", "dc") == [3, 3, 3, 1]  # stock 10: 3 + 3 + 3 + 1
    assert col(led, "backlog", "dc") == [2, 4, 6, 10]
    assert col(led, "capacity_short", "dc") == [2, 4, 0, 0]  # then the backlog holds orders back
    assert col(led, "on_hand", "dc") == [7, 4, 1, 0]
    np.testing.assert_allclose(led.conservation_residual(), 0.0)


def test_shipping_capacity_with_lost_sales_loses_the_excess():
    net = chain(dc={"initial_on_hand": 10, "shipping_capacity": 3, "shortage": "lost"}, demand=0)
    led = Simulation(net, 3).run(Script({t: {"store": 5} for t in range(3)}))
    assert col(led, "shipped", "dc") == [3, 3, 3]
    assert col(led, "lost", "dc") == [2, 2, 2]
    assert col(led, "capacity_short", "dc") == [2, 2, 1]  # period 2: only 4 in stock
    assert col(led, "backlog", "dc") == [0, 0, 0]


def test_supply_capacity_shows_in_capacity_short():
    net = Network(
        (Node("plant", kind="supply", capacity=4), Node("store", demand=Deterministic(0))),
        (Edge("plant", "store"),),
    )
    led = Simulation(net, 3).run(Script({0: {"store": 10}}))
    assert col(led, "shipped", "plant") == [4, 4, 2]
    assert col(led, "capacity_short", "plant") == [6, 0, 0]


def test_order_cut_records_order_and_storage_capacity_cuts():
    net = chain(store={"capacity": 4, "storage_capacity": 9, "initial_on_hand": 3}, demand=0)
    led = Simulation(net, 3).run(Script({0: {"store": 7}, 1: {"store": 4}, 2: {"store": 1}}))
    assert col(led, "ordered", "store") == [4, 2, 0]  # capacity 4; then room 9 - 3 - 4 = 2
    assert col(led, "order_cut", "store") == [3, 2, 1]


def test_shipping_capacity_is_for_stocking_nodes():
    with pytest.raises(
        NetworkError, match="node 'plant': shipping_capacity.*supply node's capacity"
    ):
        Node("plant", kind="supply", shipping_capacity=5)


# -- validation (issue 17) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            {"initial_on_hand": 8, "storage_capacity": 5},
            r"node 'n': initial stock 8 \(initial_on_hand 8 \+ initial_pipeline 0\) is above "
            r"storage_capacity\(=5\)",
        ),
        (
            {"initial_on_hand": 3, "initial_pipeline": (0, 4), "storage_capacity": 5},
            r"node 'n': initial stock 7 .* above storage_capacity",
        ),
        ({"initial_on_hand": 1e308}, r"node 'n': initial_on_hand\(=1e\+308\) is above 1e\+15"),
        ({"holding_cost": 2e15}, r"node 'n': holding_cost\(=2e\+15\) is above 1e\+15"),
        ({"capacity": 1e300}, r"node 'n': capacity\(=1e\+300\) is above 1e\+15.*use inf"),
        ({"initial_pipeline": (1e20,)}, r"node 'n': initial_pipeline entry\(=1e\+20\) is above"),
    ],
)
def test_node_inputs_that_cannot_give_finite_costs_are_refused(kw, match):
    with pytest.raises(NetworkError, match=match):
        Node("n", **kw)


def test_edge_magnitudes_are_bounded_and_the_bound_keeps_costs_finite():
    with pytest.raises(NetworkError, match=r"edge 'a'->'b': unit_cost\(=1e\+200\) is above"):
        Edge("a", "b", unit_cost=1e200)
    big = chain(dc={"initial_on_hand": MAX_MAGNITUDE, "holding_cost": MAX_MAGNITUDE}, demand=0)
    led = Simulation(big, 3).run(ConstantOrder(0))
    assert np.isfinite(led.cost()).all() and led.cost()[0] == pytest.approx(1e30)


@pytest.mark.parametrize("field, value", [("decisions", "both"), ("shipping_timing", "later")])
def test_bad_convention_names_are_refused(field, value):
    with pytest.raises(
        NetworkError, match=rf"network 'chain': {field}\(='{value}'\) must be one of"
    ):
        dataclasses.replace(chain(), **{field: value})


# -- round trips and the problem -------------------------------------------------------------------


def test_conventions_survive_json_and_networkx():
    net = chain("sequential", "ship-before-receipt", dc={"shipping_capacity": 7})
    data = net.to_dict()
    assert data["decisions"] == "sequential" and data["shipping_timing"] == "ship-before-receipt"
    assert data["nodes"][1]["shipping_capacity"] == 7
    assert Network.from_dict(data) == net
    assert Network.from_json(net.to_json()) == net
    G = net.to_networkx()
    assert G.graph["decisions"] == "sequential" and G.nodes["dc"]["shipping_capacity"] == 7
    assert Network.from_networkx(G) == net
    plain = chain().to_dict()  # defaults are left out: files of older networks are unchanged
    assert "decisions" not in plain and "shipping_timing" not in plain


def test_the_schema_describes_the_conventions():
    jsonschema = pytest.importorskip("jsonschema")
    from des_supply.network import network_schema

    validator = jsonschema.Draft202012Validator(network_schema())
    data = chain("sequential", "ship-before-receipt", dc={"shipping_capacity": 7}).to_dict()
    assert list(validator.iter_errors(data)) == []
    for bad in ({"decisions": "both"}, {"shipping_timing": "later"}):
        assert list(validator.iter_errors({**data, **bad}))
    data["nodes"][1]["initial_on_hand"] = 1e300
    assert list(validator.iter_errors(data))


def test_problem_shows_its_conventions():
    problem = as_problem(
        chain(
            "sequential", "ship-before-receipt", dc={"shipping_capacity": 7}, store={"capacity": 9}
        )
    )
    conv = problem.conventions
    assert conv["decisions"] == "sequential" and conv["shipping_timing"] == "ship-before-receipt"
    assert conv["capacities"] == ["order", "shipping"]
    assert problem.describe()["decisions"] == "sequential"
    assert scenarios.make("serial").conventions["decisions"] == "sequential"
    assert scenarios.make("beer-game").conventions["decisions"] == "simultaneous"
    orgym = scenarios.make("orgym-inventory").conventions
    assert orgym["shipping_timing"] == "ship-before-receipt" and orgym["capacities"] == ["shipping"]


def test_convention_note_warns_about_installation_policies_under_simultaneous_decisions():
    late = scenarios.make("serial", decisions="simultaneous")
    note = convention_note(late, "base-stock")
    assert note is not None and "\n" not in note and "sequential" in note
    assert convention_note(late, "best-base-stock") is not None
    assert convention_note(scenarios.make("serial"), "base-stock") is None
    assert convention_note(late, "echelon-base-stock") is None
    assert convention_note(scenarios.make("single-stage"), "base-stock") is None


# -- the order check on a large network (issue 17) -------------------------------------------------


def test_a_few_hundred_node_network_runs_and_checks_its_orders():
    net = scenarios.make("random-dag", n_nodes=400, n_layers=6).network
    assert len(net.stock_nodes) == 400
    led = Simulation(net, 4, seed=1).run(BaseStock(15))
    assert led["ordered"].shape == (4, len(net.nodes)) and led["ordered"].sum() > 0
    sim = Simulation(net, 2, seed=1)
    obs = sim.reset(1)
    sim.act({n: 1.0 for n in obs.deciding})
    obs = sim.advance()
    with pytest.raises(ValueError, match="node 'ghost' does not decide now"):
        sim.act({**{n: 0.0 for n in obs.deciding}, "ghost": 1.0})


# -- the envs under sequential decisions -----------------------------------------------------------


def test_single_agent_env_in_base_stock_mode_is_the_textbook_installation_policy():
    """Under sequential decisions each node's (S - IP)^+ is computed at its own turn, so
    the env's base-stock action places exactly Simulation.run(BaseStock)'s orders."""
    problem = scenarios.make("serial")
    levels = {"stage1": 6.5, "stage2": 5.5, "stage3": 10.7}
    env = rl.make_env(problem, periods=30, action_mode="base-stock", max_level=40)
    action = np.array([2.0 * levels[n] / 40 - 1.0 for n in env.nodes], dtype=np.float32)
    _, info = env.reset(seed=4)
    assert info["action_mask"].all()
    total, truncated = 0.0, False
    while not truncated:
        _, reward, _, truncated, info = env.step(action)
        total += reward
        assert info["dt"] == 1
    sim = Simulation(problem.network, 30, replication_seed(4, 0))
    sim.run(BaseStock(levels))
    assert total == pytest.approx(-sim.total_cost, rel=1e-6)  # float32 levels


def test_aec_env_follows_the_sequential_order():
    problem = scenarios.make("serial", demand="poisson")
    env = rl.aec_env(problem, periods=12, action_mode="base-stock", max_level=40)
    levels = {"stage1": 8.0, "stage2": 6.0, "stage3": 11.0}
    env.reset(seed=2)
    turns = []
    for agent in env.agent_iter():
        _, _, _, truncated, _ = env.last()
        if truncated:
            env.step(None)
            continue
        turns.append((env.runner.t, agent))
        env.step(np.array([2.0 * levels[agent] / 40 - 1.0], dtype=np.float32))
    assert turns[:3] == [(0, "stage1"), (0, "stage2"), (0, "stage3")]
    assert len(turns) == 36
    sim = Simulation(problem.network, 12, replication_seed(2, 0))
    led = sim.run(BaseStock(levels))
    assert env.runner.sim.total_cost == pytest.approx(sim.total_cost, rel=1e-6)
    assert math.isfinite(led.cost().sum())
