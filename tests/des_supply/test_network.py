"""The network model: validation messages, structure, and the dict / JSON round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import networkx as nx
import pytest
from hypothesis import given
from strategies import networks

from des_supply import (
    BaseStock,
    Deterministic,
    Edge,
    Network,
    NetworkError,
    Node,
    Normal,
    Poisson,
    Shifted,
    Simulation,
)

SUPPLY = Node("plant", kind="supply")


def net(*nodes, edges=(), **kw):
    return Network(tuple(nodes), tuple(edges), **kw)


# -- validation: every message names the node or edge at fault ------------------------------------


def test_cycle_is_refused_and_shown():
    with pytest.raises(NetworkError, match=r"has a cycle: (a -> b|b -> a)$"):
        net(
            SUPPLY,
            Node("a"),
            Node("b"),
            edges=(Edge("plant", "a"), Edge("a", "b"), Edge("b", "a")),
            name="loop",
        )


def test_cycle_message_names_the_network():
    with pytest.raises(NetworkError, match=r"network 'loop' has a cycle"):
        net(
            SUPPLY,
            Node("a"),
            Node("b"),
            edges=(Edge("plant", "a"), Edge("a", "b"), Edge("b", "a")),
            name="loop",
        )


def test_self_loop():
    with pytest.raises(NetworkError, match=r"edge 'a'->'a' is a self-loop"):
        net(SUPPLY, Node("a"), edges=(Edge("plant", "a"), Edge("a", "a")))


def test_unknown_node():
    with pytest.raises(NetworkError, match=r"edge 'plant'->'ghost': unknown node 'ghost'"):
        net(SUPPLY, Node("a"), edges=(Edge("plant", "a"), Edge("plant", "ghost")))


def test_duplicate_node_and_edge():
    with pytest.raises(NetworkError, match=r"node 'a' is declared twice"):
        net(SUPPLY, Node("a"), Node("a"), edges=(Edge("plant", "a"),))
    with pytest.raises(NetworkError, match=r"edge 'plant'->'a' is declared twice"):
        net(SUPPLY, Node("a"), edges=(Edge("plant", "a"), Edge("plant", "a", lead_time=2)))


@pytest.mark.parametrize(
    "field",
    [
        "holding_cost",
        "shortage_cost",
        "fixed_order_cost",
        "order_cost",
        "price",
        "initial_on_hand",
        "capacity",
        "storage_capacity",
    ],
)
def test_negative_node_numbers(field):
    with pytest.raises(NetworkError, match=rf"node 'a': {field}\(=-1.0\) must be >= 0"):
        Node("a", **{field: -1})


@pytest.mark.parametrize("field", ["holding_cost", "initial_on_hand"])
def test_nan_and_infinite_node_numbers(field):
    with pytest.raises(NetworkError, match=rf"node 'a': {field}\(=nan\)"):
        Node("a", **{field: math.nan})
    with pytest.raises(NetworkError, match=rf"node 'a': {field}\(=inf\) must be >= 0 and finite"):
        Node("a", **{field: math.inf})


def test_infinite_capacity_is_the_default_and_allowed():
    assert Node("a").capacity == math.inf and Node("a", storage_capacity=math.inf)


@pytest.mark.parametrize("field", ["unit_cost", "transit_holding_cost"])
def test_negative_edge_costs(field):
    with pytest.raises(NetworkError, match=rf"edge 'plant'->'a': {field}\(=-0.5\) must be >= 0"):
        Edge("plant", "a", **{field: -0.5})


def test_edge_bom_and_share():
    with pytest.raises(NetworkError, match=r"edge 'p'->'a': bom\(=0(\.0)?\) must be > 0"):
        Edge("p", "a", bom=0)
    with pytest.raises(NetworkError, match=r"edge 'p'->'a': share\(=1.5\) must be in \[0, 1\]"):
        Edge("p", "a", share=1.5)


@pytest.mark.parametrize(
    "lead_time", [1.5, Normal(2, 1), Shifted(Poisson(1), 0.5), Deterministic(0.25)]
)
def test_lead_time_must_be_whole_periods(lead_time):
    # refused by a periodic network (an Edge alone may carry a real lead time: continuous time)
    with pytest.raises(NetworkError, match=r"edge 'plant'->'a': lead_time must take whole numbers"):
        Network(
            (Node("plant", kind="supply"), Node("a")), (Edge("plant", "a", lead_time=lead_time),)
        )


def test_negative_lead_time():
    with pytest.raises(NetworkError, match=r"edge 'plant'->'a': lead_time: value\(=-1.0\)"):
        Edge("plant", "a", lead_time=-1)


def test_lead_time_that_is_not_a_distribution():
    with pytest.raises(NetworkError, match=r"edge 'plant'->'a': lead_time: not a distribution"):
        Edge("plant", "a", lead_time="two")


def test_stock_node_without_supplier():
    with pytest.raises(NetworkError, match=r"node 'orphan' is a stocking node with no supplier"):
        net(SUPPLY, Node("a"), Node("orphan"), edges=(Edge("plant", "a"),))


def test_supply_node_with_suppliers():
    with pytest.raises(NetworkError, match=r"node 'p2' is a supply node but has suppliers: plant"):
        net(
            SUPPLY,
            Node("p2", kind="supply"),
            Node("a"),
            edges=(Edge("plant", "p2"), Edge("p2", "a")),
        )


def test_multi_supplier_without_supply_rule():
    with pytest.raises(NetworkError, match=r"node 'a' has 2 suppliers; set supply_rule"):
        net(
            SUPPLY,
            Node("p2", kind="supply"),
            Node("a"),
            edges=(Edge("plant", "a"), Edge("p2", "a")),
        )


def test_split_shares_must_sum_to_one():
    with pytest.raises(NetworkError, match=r"node 'a': shares of its supply edges sum to 0.9"):
        net(
            SUPPLY,
            Node("p2", kind="supply"),
            Node("a", supply_rule="split"),
            edges=(Edge("plant", "a", share=0.5), Edge("p2", "a", share=0.4)),
        )
    with pytest.raises(NetworkError, match=r"'a' uses supply_rule='split' but edges from 'p2'"):
        net(
            SUPPLY,
            Node("p2", kind="supply"),
            Node("a", supply_rule="split"),
            edges=(Edge("plant", "a", share=0.5), Edge("p2", "a")),
        )


@pytest.mark.parametrize("rule", ["split", "priority"])
def test_one_item_from_several_suppliers_needs_bom_one(rule):
    share = 0.5 if rule == "split" else None
    with pytest.raises(NetworkError, match=r"edge 'p2'->'a': bom\(=2.0\) must be 1"):
        net(
            SUPPLY,
            Node("p2", kind="supply"),
            Node("a", supply_rule=rule),
            edges=(Edge("plant", "a", share=share), Edge("p2", "a", bom=2.0, share=share)),
        )


def test_supply_node_with_demand_or_stock():
    with pytest.raises(NetworkError, match=r"node 'plant': a supply node has unlimited stock"):
        Node("plant", kind="supply", demand=Poisson(3))
    with pytest.raises(NetworkError, match=r"node 'plant': a supply node"):
        Node("plant", kind="supply", initial_on_hand=5)
    with pytest.raises(NetworkError, match=r"node 'plant': a supply node"):
        Node("plant", kind="supply", initial_pipeline=(1,))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "factory"}, r"node 'a': kind\(='factory'\) must be 'stock' or 'supply'"),
        (
            {"shortage": "backorder"},
            r"node 'a': shortage\(='backorder'\) must be 'backlog' or 'lost'",
        ),
        ({"supply_rule": "cheapest"}, r"node 'a': supply_rule\(='cheapest'\) must be one of"),
        ({"review_period": 0}, r"node 'a': review_period\(=0\) must be >= 1"),
        ({"review_period": 1.5}, r"node 'a': review_period\(=1.5\) must be an integer"),
        (
            {"review_period": 2, "review_offset": 2},
            r"node 'a': review_offset\(=2\) must be in \[0, ",
        ),
        ({"initial_pipeline": (1, -2)}, r"node 'a': initial_pipeline entry\(=-2.0\)"),
        ({"demand": -3}, r"node 'a': demand: value\(=-3.0\) must be >= 0"),
    ],
)
def test_bad_node_fields(kwargs, match):
    with pytest.raises(NetworkError, match=match):
        Node("a", **kwargs)


def test_bad_node_names_and_network_fields():
    with pytest.raises(NetworkError, match="node name must be a non-empty string"):
        Node("")
    with pytest.raises(NetworkError, match="has no nodes"):
        Network((), ())
    with pytest.raises(NetworkError, match=r"order_timing\(='whenever'\)"):
        net(SUPPLY, Node("a"), edges=(Edge("plant", "a"),), order_timing="whenever")
    with pytest.raises(NetworkError, match="nodes must be Node objects"):
        Network(("a",), ())
    with pytest.raises(NetworkError, match="edges must be Edge objects"):
        Network((SUPPLY,), (("plant", "a"),))


def test_network_error_is_a_value_error():
    assert issubclass(NetworkError, ValueError)


# -- structure -------------------------------------------------------------------------------------


def test_graph_suppliers_customers_and_derived_properties():
    n = net(
        SUPPLY,
        Node("dc"),
        Node("s1", demand=Poisson(2)),
        Node("s2", demand=2.5),
        edges=(Edge("plant", "dc"), Edge("dc", "s1"), Edge("dc", "s2")),
    )
    G = n.graph()
    assert isinstance(G, nx.DiGraph) and set(G.edges) == {
        ("plant", "dc"),
        ("dc", "s1"),
        ("dc", "s2"),
    }
    assert G.nodes["dc"]["node"] is n.node("dc") and G.edges["dc", "s1"]["edge"].target == "s1"
    assert [e.target for e in n.customers("dc")] == ["s1", "s2"]
    assert [e.source for e in n.suppliers("dc")] == ["plant"]
    assert [x.name for x in n.stock_nodes] == ["dc", "s1", "s2"]
    assert [x.name for x in n.demand_nodes] == ["s1", "s2"]
    assert n.continuous is True  # Deterministic(2.5) is not whole
    assert n.node("s2").demand == Deterministic(2.5)
    with pytest.raises(KeyError, match="no node 'x'"):
        n.node("x")


def test_continuous_defaults_to_the_demand_and_can_be_forced():
    whole = net(SUPPLY, Node("a", demand=Poisson(2)), edges=(Edge("plant", "a"),))
    assert whole.continuous is False
    assert (
        net(
            SUPPLY, Node("a", demand=Poisson(2)), edges=(Edge("plant", "a"),), continuous=True
        ).continuous
        is True
    )


def test_replace_node_makes_a_validated_copy():
    n = net(SUPPLY, Node("a", holding_cost=1), edges=(Edge("plant", "a"),))
    m = n.replace_node("a", holding_cost=2)
    assert m.node("a").holding_cost == 2 and n.node("a").holding_cost == 1
    with pytest.raises(NetworkError, match=r"node 'a': holding_cost"):
        n.replace_node("a", holding_cost=-2)
    with pytest.raises(KeyError):
        n.replace_node("zz", holding_cost=2)


def test_reviews_at():
    node = Node("a", review_period=3, review_offset=1)
    assert [t for t in range(8) if node.reviews_at(t)] == [1, 4, 7]


# -- round trips -----------------------------------------------------------------------------------


@given(networks())
def test_dict_round_trip(network):
    assert Network.from_dict(network.to_dict()) == network


@given(networks())
def test_json_round_trip(network):
    text = network.to_json()
    assert json.loads(text) == network.to_dict()
    assert Network.from_json(text) == network


def test_to_dict_leaves_out_defaults():
    n = net(SUPPLY, Node("a", holding_cost=2), edges=(Edge("plant", "a"),))
    d = n.to_dict()
    assert d["nodes"][1] == {"name": "a", "holding_cost": 2.0}
    assert d["edges"][0] == {
        "source": "plant",
        "target": "a",
        "lead_time": {"type": "deterministic", "value": 1},
    }


def test_from_json_reads_a_file(tmp_path):
    import scenarios

    n = scenarios.make("owmr").network
    path = tmp_path / "owmr.json"
    n.to_json(path)
    assert path.read_text().endswith("}\n")
    assert Network.from_json(path) == n
    assert Network.from_json(str(path)) == n
    a = Simulation(n, 50, seed=1).run(BaseStock(10))
    b = Simulation(Network.from_json(path), 50, seed=1).run(BaseStock(10))
    assert (a.cost() == b.cost()).all()


def test_from_json_errors(tmp_path):
    with pytest.raises(NetworkError, match="cannot read network file"):
        Network.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NetworkError, match="not valid JSON"):
        Network.from_json(bad)
    with pytest.raises(NetworkError, match="not valid JSON"):
        Network.from_json('{"nodes": [}')
    arr = tmp_path / "list.json"
    arr.write_text("[1, 2]")
    with pytest.raises(NetworkError, match="must be a JSON object"):
        Network.from_json(arr)


BASE = {
    "nodes": [{"name": "plant", "kind": "supply"}, {"name": "a"}],
    "edges": [{"source": "plant", "target": "a"}],
}


def crafted(change):
    data = copy.deepcopy(BASE)
    change(data)
    return data


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.update(__class__="os.system"), r"network: unknown field\(s\) '__class__'"),
        (lambda d: d["nodes"][1].update(exec="print(1)"), r"node 'a': unknown field\(s\) 'exec'"),
        (lambda d: d["edges"][0].update(__reduce__=[]), r"edge 'plant'->'a': unknown field"),
        (
            lambda d: d["nodes"][1].update(demand={"type": "__import__('os').system('x')"}),
            r"node 'a': demand: unknown distribution type",
        ),
        (
            lambda d: d["nodes"][1].update(demand={"type": "poisson", "mean": 5, "code": "x"}),
            r"node 'a': demand \('poisson' distribution\): unknown field\(s\) 'code' "
            r"\(allowed: type, mean\)",
        ),
        (
            lambda d: d["nodes"][1].update(demand="poisson"),
            r"node 'a': demand\(='poisson'\) must be a number \(deterministic\) or a distribution",
        ),
        (lambda d: d["nodes"][1].update(demand={"mean": 5}), r"node 'a': demand: .*'type' key"),
        (
            lambda d: d["edges"][0].update(lead_time="2"),
            r"edge 'plant'->'a': lead_time\(='2'\) must",
        ),
        (
            lambda d: d["edges"][0].update(lead_time={"type": "poisson", "mean": "many"}),
            r"edge 'plant'->'a': lead_time",
        ),
        (lambda d: d["nodes"][1].update(kind="module"), r"node 'a': kind\(='module'\)"),
        (
            lambda d: d["nodes"][1].update(holding_cost=[1]),
            r"node 'a': holding_cost\(=\[1\]\) must be",
        ),
        (lambda d: d["nodes"][1].update(name=["a"]), r"node name must be a non-empty string"),
        (lambda d: d.update(nodes={"a": 1}), r"'nodes' must be a list"),
        (lambda d: d.update(edges="plant->a"), r"'edges' must be a list"),
        (lambda d: d["nodes"].append("b"), r"each node must be an object with a 'name'"),
        (lambda d: d["edges"].append({"source": "a"}), r"each edge must be an object"),
        (lambda d: d.update(order_timing=1), r"order_timing"),
    ],
)
def test_crafted_json_is_refused(change, match, tmp_path):
    data = crafted(change)
    with pytest.raises(NetworkError, match=match):
        Network.from_dict(data)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    with pytest.raises(NetworkError):
        Network.from_json(path)


def test_loading_json_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for change in (
        lambda d: d["nodes"][1].update(demand={"type": payload}),
        lambda d: d["nodes"][1].update(name=payload, kind=payload),
        lambda d: d["edges"][0].update(
            lead_time={"type": "shifted", "shift": 1, "base": {"type": payload}}
        ),
    ):
        with pytest.raises(NetworkError):
            Network.from_dict(crafted(change))
    assert not marker.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["nodes"][1].update(initial_pipeline=5),
        lambda d: d["nodes"][1].update(review_period=None),
        lambda d: d["nodes"][1].update(review_period="weekly"),
        lambda d: d["edges"][0].update(source=["plant"]),
        lambda d: d["edges"][0].update(lead_time={"type": "shifted", "shift": 1}),
        lambda d: d["edges"][0].update(lead_time={"type": "empirical", "values": 5}),
        lambda d: d["edges"][0].update(sequential="false"),
        lambda d: d["edges"][0].update(priority="high"),
    ],
    ids=[
        "pipeline-int",
        "review-None",
        "review-str",
        "source-list",
        "shifted-no-base",
        "empirical-int",
        "sequential-str",
        "priority-str",
    ],
)
def test_wrongly_typed_json_raises_network_error(change):
    """Wrong types end in a NetworkError, never a TypeError/KeyError from deep inside (and
    'sequential': 'false' is not read as true)."""
    with pytest.raises(NetworkError):
        Network.from_dict(crafted(change))


def test_numeric_strings_in_json_are_refused():
    """Numbers must be JSON numbers: a numeric string is refused (naming the node or edge,
    the field and the value), never read as the number it spells; see
    test_network_file.py for every field."""
    data = {
        "nodes": [
            {"name": "plant", "kind": "supply"},
            {"name": "p2", "kind": "supply"},
            {"name": "a", "supply_rule": "split", "holding_cost": "1.5"},
        ],
        "edges": [
            {"source": "plant", "target": "a", "share": "0.5", "bom": "1"},
            {"source": "p2", "target": "a", "share": 0.5},
        ],
    }
    with pytest.raises(NetworkError, match=r"node 'a': holding_cost\(='1.5'\) must be a number"):
        Network.from_dict(data)
    data["nodes"][2]["holding_cost"] = 1.5
    with pytest.raises(NetworkError, match=r"edge 'plant'->'a': bom\(='1'\) must be a number"):
        Network.from_dict(data)


# -- structure derived once ------------------------------------------------------------------------


@given(networks())
def test_derived_structure_matches_the_graph(network):
    G = network.graph()
    index = {n.name: i for i, n in enumerate(network.nodes)}
    topo = tuple(nx.lexicographical_topological_sort(G, key=index.__getitem__))
    assert network.topological_order == topo
    assert network.downstream_first == topo[::-1]
    for n in network.nodes:
        assert network.echelon(n.name) == (
            n.name,
            *sorted(nx.descendants(G, n.name), key=index.__getitem__),
        )
        inbound = network.suppliers(n.name)
        assert network.supply_rule_of(n.name) == (n.supply_rule if len(inbound) > 1 else None)
        assert inbound == tuple(e for e in network.edges if e.target == n.name)
        assert network.customers(n.name) == tuple(e for e in network.edges if e.source == n.name)
    assert list(network.mean_flows) == [n.name for n in network.nodes]


def test_mean_flows_follow_bom_split_and_priority():
    nodes = (
        SUPPLY,
        Node("p2", kind="supply"),
        Node("east"),
        Node("west", supply_rule="priority"),
        Node("kit", supply_rule="assembly", demand=1),
        Node("s1", supply_rule="split", demand=Poisson(6)),
        Node("s2", demand=3),
    )
    edges = (
        Edge("plant", "east"),
        Edge("p2", "west", priority=1),
        Edge("plant", "west"),
        Edge("east", "s1", share=0.25),
        Edge("west", "s1", share=0.75),
        Edge("west", "s2"),
        Edge("east", "kit", bom=2),
        Edge("west", "kit", bom=3),
    )
    n = net(*nodes, edges=edges)
    flows = n.mean_flows
    assert flows["s1"] == 6 and flows["s2"] == 3 and flows["kit"] == 1
    assert flows["east"] == 6 * 0.25 + 1 * 2
    assert flows["west"] == 6 * 0.75 + 3 + 1 * 3
    assert flows["plant"] == flows["east"] + flows["west"]  # asked first (priority 0)
    assert flows["p2"] == 0.0
    flows["plant"] = -1
    assert n.mean_flows["plant"] != -1  # a copy
    assert n.supply_rule_of("west") == "priority" and n.supply_rule_of("east") is None
    assert n.echelon("west") == ("west", "kit", "s1", "s2")
    assert n.topological_order == ("plant", "p2", "east", "west", "kit", "s1", "s2")
    with pytest.raises(KeyError, match="no node 'x'"):
        n.echelon("x")
    with pytest.raises(KeyError, match="no node 'x'"):
        n.supply_rule_of("x")


def test_derived_structure_is_not_part_of_the_value():
    import pickle

    n = net(SUPPLY, Node("a", demand=Poisson(2)), edges=(Edge("plant", "a"),))
    m = net(SUPPLY, Node("a", demand=Poisson(2)), edges=(Edge("plant", "a"),))
    assert n == m and hash(n) == hash(m) and "structure" not in repr(n)
    assert [f.name for f in dataclasses.fields(n) if f.init] == [
        "nodes",
        "edges",
        "name",
        "order_timing",
        "continuous",
        "decisions",
        "shipping_timing",
        "time",
    ]
    back = pickle.loads(pickle.dumps(n))
    assert back == n and back.echelon("plant") == ("plant", "a") and back.mean_flows == n.mean_flows
    assert copy.deepcopy(n).topological_order == ("plant", "a")
    r = dataclasses.replace(n, name="other")
    assert r.name == "other" and r.mean_flows == {"plant": 2.0, "a": 2.0}


def test_observation_exposes_the_network():
    n = net(SUPPLY, Node("a", demand=Poisson(2)), edges=(Edge("plant", "a"),))
    sim = Simulation(n, 3, seed=0)
    obs = sim.reset()
    assert obs.network is n
    with pytest.raises(AttributeError):
        obs.network = n
