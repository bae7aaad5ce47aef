"""The network file as a contract: its JSON Schema, format_version, the example files,
strict number rules, unknown-field messages, and the plain networkx round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from strategies import networks

import scenarios
from des_supply import (
    BaseStock,
    Deterministic,
    Edge,
    Network,
    NetworkError,
    Node,
    Poisson,
    distributions,
)
from des_supply.evaluate import simulate
from des_supply.network import FORMAT_VERSION, SCHEMA_PATH, network_schema
from des_supply.problem import as_problem

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(scenarios.__file__).resolve().parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
SCHEMA = network_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_errors(data) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(data)]


def plain(data):
    """*data* as it reads back from a JSON file."""
    return json.loads(json.dumps(data))


# -- the schema ------------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_shipped_with_the_package():
    assert SCHEMA_PATH.name == "network.schema.json" and SCHEMA_PATH.is_file()
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert network_schema() is not network_schema()  # a fresh dict: callers may change theirs


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def test_schema_fields_are_the_dataclass_fields():
    defs = SCHEMA["$defs"]
    assert list(defs["node"]["properties"]) == _fields(Node)
    assert list(defs["edge"]["properties"]) == _fields(Edge)
    assert set(SCHEMA["properties"]) == {*_fields(Network), "format_version", "$schema"}
    required = {
        cls: [
            f.name
            for f in dataclasses.fields(cls)
            if f.init
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        for cls in (Node, Edge)
    }
    assert defs["node"]["required"] == required[Node]
    assert defs["edge"]["required"] == required[Edge]


@pytest.mark.parametrize("cls", [Node, Edge])
def test_schema_defaults_and_descriptions_match_the_dataclasses(cls):
    props = SCHEMA["$defs"][cls.__name__.lower()]["properties"]
    for f in dataclasses.fields(cls):
        prop = props[f.name]
        assert prop.get("description"), f"{cls.__name__}.{f.name} has no description"
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            continue
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        if isinstance(default, float) and math.isinf(default):
            assert prop["x-default"] == "unlimited" and "default" not in prop
        elif hasattr(default, "to_dict"):
            assert prop["default"] == default.to_dict()
        else:
            assert prop["default"] == (list(default) if isinstance(default, tuple) else default)


def test_schema_distributions_are_the_distribution_classes():
    defs = SCHEMA["$defs"]
    kinds = [ref["$ref"].rsplit("/", 1)[1] for ref in defs["distribution"]["oneOf"]]
    assert sorted(kinds) == sorted(distributions._KINDS)
    for kind in kinds:
        cls = distributions._KINDS[kind]
        props = defs[kind]["properties"]
        assert props["type"] == {"const": kind}
        assert list(props)[1:] == [f.name for f in dataclasses.fields(cls)], kind
        assert set(defs[kind]["required"]) == {"type"} | {  # (Normal.std "defaults" to a property)
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING or isinstance(f.default, property)
        }


def test_every_network_field_has_a_meaning_and_units_where_it_has_units():
    node = SCHEMA["$defs"]["node"]["properties"]
    edge = SCHEMA["$defs"]["edge"]["properties"]
    for name in (
        "holding_cost",
        "shortage_cost",
        "fixed_order_cost",
        "order_cost",
        "price",
        "capacity",
        "storage_capacity",
        "initial_on_hand",
        "review_period",
        "demand",
    ):
        assert "x-unit" in node[name], name
    for name in ("lead_time", "unit_cost", "transit_holding_cost", "bom"):
        assert "x-unit" in edge[name], name
    assert all(p.get("description") for p in SCHEMA["properties"].values())


@pytest.mark.parametrize("name", scenarios.names())
def test_every_registered_scenario_matches_the_schema(name):
    data = plain(scenarios.make(name).network.to_dict())
    assert schema_errors(data) == []


@given(networks())
def test_random_networks_match_the_schema(network):
    assert schema_errors(plain(network.to_dict())) == []


def test_the_schema_refuses_what_the_loader_refuses():
    base = {
        "nodes": [{"name": "s", "kind": "supply"}, {"name": "a"}],
        "edges": [{"source": "s", "target": "a"}],
    }
    assert schema_errors(base) == []
    for change in (
        lambda d: d["nodes"][1].update(holding_cost="1.5"),
        lambda d: d["nodes"][1].update(holding_cost=True),
        lambda d: d["nodes"][1].update(review_period=2.5),
        lambda d: d["nodes"][1].update(colour="red"),
        lambda d: d["nodes"][1].update(demand={"type": "poisson", "mean": "4"}),
        lambda d: d["nodes"][0].update(demand=3),
        lambda d: d["edges"][0].update(lead_time="2"),
        lambda d: d["edges"][0].update(lead_time=1.5),
        lambda d: d.update(format_version=2),
    ):
        data = copy.deepcopy(base)
        change(data)
        assert schema_errors(data), data
        with pytest.raises(NetworkError):
            Network.from_dict(data)


# -- format_version --------------------------------------------------------------------------------


def test_to_dict_writes_format_version_1():
    n = scenarios.make("serial").network
    assert FORMAT_VERSION == 1
    assert n.to_dict()["format_version"] == 1
    assert json.loads(n.to_json())["format_version"] == 1


def test_files_without_format_version_are_version_1():
    data = scenarios.make("owmr").network.to_dict()
    del data["format_version"]
    assert Network.from_dict(data) == scenarios.make("owmr").network
    assert Network.from_dict({**data, "format_version": 1.0}) == scenarios.make("owmr").network


@pytest.mark.parametrize("version", [2, 99, 0])
def test_unknown_format_versions_are_refused(version):
    data = {**scenarios.make("serial").network.to_dict(), "format_version": version}
    with pytest.raises(
        NetworkError,
        match=rf"format_version {version} is not supported .*"
        rf"reads format_version 1\)",
    ):
        Network.from_dict(data)


@pytest.mark.parametrize("version", ["1", True, 1.5, None])
def test_format_version_must_be_an_integer(version):
    data = {**scenarios.make("serial").network.to_dict(), "format_version": version}
    with pytest.raises(NetworkError, match=r"network: format_version\(=.*\) must be an integer"):
        Network.from_dict(data)


# -- the example files -----------------------------------------------------------------------------


def test_there_is_an_example_of_each_shape():
    assert {p.name for p in EXAMPLE_FILES} >= {
        "serial.json",
        "distribution.json",
        "assembly.json",
        "general.json",
        "stochastic_lead_times.json",
        "capacities.json",
    }


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_files_validate_load_and_simulate(path):
    data = json.loads(path.read_text())
    assert schema_errors(data) == []
    assert data["format_version"] == 1
    if "$schema" in data:  # for editors: the schema, relative to the file
        assert (path.parent / data["$schema"]).resolve() == SCHEMA_PATH.resolve()
    net = Network.from_json(path)
    assert Network.from_dict(net.to_dict()) == net
    results = simulate(net, BaseStock(level=30), periods=200, seed=0)
    assert math.isfinite(results.mean)


def test_example_files_show_what_their_names_say():
    def load(stem):
        return Network.from_json(EXAMPLES / f"{stem}.json")

    for stem in ("serial", "distribution", "assembly", "general"):
        assert as_problem(load(stem)).kind.shape == stem
    general = load("general")
    assert {general.supply_rule_of(n.name) for n in general.nodes} >= {"split", "priority"}
    assembly = load("assembly")
    assert any(assembly.supply_rule_of(n.name) == "assembly" for n in assembly.nodes)
    assert any(e.bom != 1 for e in assembly.edges)
    stochastic = load("stochastic_lead_times")
    assert all(e.lead_time.constant is None for e in stochastic.edges)
    caps = load("capacities")
    assert any(n.kind == "supply" and n.capacity < math.inf for n in caps.nodes)
    assert any(n.kind == "stock" and n.capacity < math.inf for n in caps.nodes)
    assert any(n.storage_capacity < math.inf for n in caps.nodes)


def test_example_files_are_package_data():
    text = (Path(scenarios.__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"examples/*.json"' in text and '"network.schema.json"' in text


# -- numbers are JSON numbers ----------------------------------------------------------------------

BASE = {
    "nodes": [
        {"name": "plant", "kind": "supply"},
        {"name": "p2", "kind": "supply"},
        {"name": "a", "supply_rule": "split", "demand": {"type": "poisson", "mean": 3}},
    ],
    "edges": [
        {"source": "plant", "target": "a", "share": 0.5},
        {"source": "p2", "target": "a", "share": 0.5},
    ],
}

NODE_NUMBERS = [
    "holding_cost",
    "shortage_cost",
    "fixed_order_cost",
    "order_cost",
    "price",
    "capacity",
    "storage_capacity",
    "initial_on_hand",
    "review_period",
    "review_offset",
]
EDGE_NUMBERS = ["unit_cost", "bom", "transit_holding_cost", "share", "priority", "lead_time"]


def changed(where, key, value):
    data = copy.deepcopy(BASE)
    target = data["nodes"][2] if where == "node" else data["edges"][0]
    target[key] = value
    return data


def test_base_loads():
    Network.from_dict(BASE)


@pytest.mark.parametrize("bad", ["1", "1.5", True, False, [1], None])
@pytest.mark.parametrize("field", NODE_NUMBERS)
def test_node_numbers_must_be_numbers(field, bad):
    with pytest.raises(
        NetworkError,
        match=rf"^node 'a': {field}\(={re.escape(repr(bad))}\) "
        r"must be ",
    ):
        Network.from_dict(changed("node", field, bad))


@pytest.mark.parametrize("bad", ["1", "0.5", True, [1]])
@pytest.mark.parametrize("field", EDGE_NUMBERS)
def test_edge_numbers_must_be_numbers(field, bad):
    with pytest.raises(
        NetworkError,
        match=rf"^edge 'plant'->'a': {field}\(={re.escape(repr(bad))}"
        r"\) must be ",
    ):
        Network.from_dict(changed("edge", field, bad))


def test_string_message_says_so():
    with pytest.raises(
        NetworkError,
        match=r"node 'a': holding_cost\(='1.5'\) must be a number "
        r"\(not a string\)",
    ):
        Network.from_dict(changed("node", "holding_cost", "1.5"))


@pytest.mark.parametrize(
    "demand, match",
    [
        (
            {"type": "poisson", "mean": "4"},
            r"demand: mean\(='4'\) must be a number \(not a string\)",
        ),
        ({"type": "poisson", "mean": True}, r"demand: mean\(=True\) must be a number"),
        (
            {"type": "normal", "mean": 4, "std": 1, "integer": 1},
            r"demand: integer\(=1\) must be true or false",
        ),
        ({"type": "uniform", "low": "1", "high": 3}, r"demand: low\(='1'\) must be a number"),
        (
            {"type": "empirical", "values": [1, "2"]},
            r"demand: values\(=\[1, '2'\]\) must be a list of numbers",
        ),
        (
            {"type": "nonstationary", "means": [1, 2], "cv": "0.1"},
            r"demand: cv\(='0.1'\) must be a number",
        ),
        (
            {"type": "shifted", "base": {"type": "poisson", "mean": "1"}, "shift": 1},
            r"demand: base: mean\(='1'\) must be a number",
        ),
        ({"type": "shifted", "base": 3, "shift": 1}, r"demand: base\(=3\) must be a distribution"),
        (
            {"type": "negative_binomial", "mean": 3},
            r"demand: a 'negative_binomial' distribution needs 'size'",
        ),
        ({"type": "normal", "mean": 3}, r"demand: a 'normal' distribution needs 'std'"),
    ],
)
def test_distribution_parameters_must_be_numbers(demand, match):
    with pytest.raises(NetworkError, match=rf"^node 'a': {match}"):
        Network.from_dict(changed("node", "demand", demand))


@pytest.mark.parametrize(
    "where, field",
    [
        ("node", "review_period"),
        ("node", "review_offset"),
        ("edge", "priority"),
        ("edge", "lead_time"),
    ],
)
def test_whole_number_fields_take_2_and_2_0_but_not_2_5(where, field):
    extra = {"review_offset": {"review_period": 3}}.get(field, {})

    def load(value):
        data = changed(where, field, value)
        data["nodes"][2].update(extra)
        return Network.from_dict(data)

    assert load(2) == load(2.0)
    obj = load(2).nodes[2] if where == "node" else load(2).edges[0]
    value = getattr(obj, field)
    assert value == Deterministic(2) if field == "lead_time" else type(value) is int and value == 2
    with pytest.raises(NetworkError, match=rf"{field}"):
        load(2.5)


def test_python_api_follows_the_same_rule():
    with pytest.raises(NetworkError, match=r"node 'a': holding_cost\(='1.5'\) must be a number"):
        Node("a", holding_cost="1.5")
    with pytest.raises(NetworkError, match=r"node 'a': price\(=True\) must be a number"):
        Node("a", price=True)
    with pytest.raises(NetworkError, match=r"edge 's'->'a': priority\(='1'\) must be an integer"):
        Edge("s", "a", priority="1")
    with pytest.raises(NetworkError, match=r"network name\(=5\) must be a string"):
        Network((Node("s", kind="supply"),), (), name=5)
    with pytest.raises(NetworkError, match=r"continuous\(='yes'\) must be true, false or null"):
        Network((Node("s", kind="supply"),), (), continuous="yes")
    import numpy as np

    node = Node("a", holding_cost=np.float64(1.5), review_period=np.int64(2))
    assert type(node.holding_cost) is float and type(node.review_period) is int


def test_demand_may_be_a_number_in_the_file_as_for_lead_times():
    n = Network.from_dict(changed("node", "demand", 4))
    assert n.node("a").demand == Deterministic(4.0)


# -- unknown fields: the message lists the allowed ones --------------------------------------------


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda d: d.update(colour="red"),
            r"^network: unknown field\(s\) 'colour' \(allowed: \$schema, format_version, name, "
            r"order_timing, continuous, decisions, shipping_timing, time, nodes, edges\)$",
        ),
        (
            lambda d: d["nodes"][2].update(colour="red"),
            r"^node 'a': unknown field\(s\) 'colour' \(allowed: name, kind, holding_cost, shortage, "
            r"shortage_cost, fixed_order_cost, order_cost, price, capacity, storage_capacity, "
            r"shipping_capacity, initial_on_hand, initial_pipeline, review_period, review_offset, demand, supply_rule\)$",
        ),
        (
            lambda d: d["edges"][0].update(colour="red"),
            r"^edge 'plant'->'a': unknown field\(s\) 'colour' \(allowed: source, target, lead_time, "
            r"unit_cost, bom, transit_holding_cost, share, priority, sequential\)$",
        ),
        (
            lambda d: d["nodes"][2].update(
                demand={"type": "trace", "values": [1], "colour": "red"}
            ),
            r"^node 'a': demand \('trace' distribution\): unknown field\(s\) 'colour' "
            r"\(allowed: type, values, after\)$",
        ),
        (
            lambda d: d["edges"][0].update(
                lead_time={"type": "shifted", "shift": 1, "base": {"type": "poisson", "lam": 1}}
            ),
            r"^edge 'plant'->'a': lead_time: base \('poisson' distribution\): unknown field\(s\) 'lam' "
            r"\(allowed: type, mean\)$",
        ),
    ],
)
def test_unknown_fields_list_the_allowed_fields(change, match):
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(NetworkError, match=match):
        Network.from_dict(data)


# -- networkx with plain attributes ----------------------------------------------------------------


def roundtrip_graphml(G: nx.DiGraph, tmp_path: Path) -> nx.DiGraph:
    path = tmp_path / "net.graphml"
    nx.write_graphml(G, path)
    return nx.read_graphml(path)


def roundtrip_node_link(G: nx.DiGraph) -> nx.DiGraph:
    text = json.dumps(nx.node_link_data(G, edges="edges"), allow_nan=False)
    return nx.node_link_graph(json.loads(text), edges="edges")


def some_networks() -> list[Network]:
    return [Network.from_json(p) for p in EXAMPLE_FILES] + [
        scenarios.make(name).network for name in scenarios.names()
    ]


def assert_plain(G: nx.DiGraph) -> None:
    scalars = (str, int, float, bool)
    assert all(isinstance(v, scalars) for v in G.graph.values())
    for _, data in G.nodes(data=True):
        assert all(isinstance(v, scalars) for v in data.values()), data
    for _, _, data in G.edges(data=True):
        assert all(isinstance(v, scalars) for v in data.values()), data


@pytest.mark.parametrize("net", some_networks(), ids=lambda n: n.name)
def test_networkx_round_trips_through_graphml_and_node_link(net, tmp_path):
    G = net.to_networkx()
    assert_plain(G)
    assert G.graph == {
        "name": net.name,
        "order_timing": net.order_timing,
        "continuous": net.continuous,
        "format_version": 1,
        **{k: v for k, v in net.to_dict().items() if k in ("decisions", "shipping_timing", "time")},
    }
    assert Network.from_networkx(G) == net
    assert Network.from_networkx(roundtrip_graphml(G, tmp_path)) == net
    assert Network.from_networkx(roundtrip_node_link(G)) == net


@given(networks())
def test_random_networks_round_trip_through_graphml_and_node_link(net):
    import tempfile

    G = net.to_networkx()
    assert_plain(G)
    with tempfile.TemporaryDirectory() as tmp:
        assert Network.from_networkx(roundtrip_graphml(G, Path(tmp))) == net
    assert Network.from_networkx(roundtrip_node_link(G)) == net


def test_to_networkx_attributes():
    net = Network.from_json(EXAMPLES / "stochastic_lead_times.json")
    G = net.to_networkx()
    assert list(G.nodes) == [n.name for n in net.nodes]
    assert "demand" not in G.nodes["port_dc"] and "capacity" not in G.nodes["port_dc"]
    assert G.nodes["port_dc"]["initial_on_hand"] == 40.0
    assert json.loads(G.nodes["outlet"]["demand"]) == net.node("outlet").demand.to_dict()
    assert json.loads(G.edges["overseas", "port_dc"]["lead_time"])["type"] == "shifted"
    assert G.edges["overseas", "port_dc"]["sequential"] is True
    caps = Network.from_json(EXAMPLES / "capacities.json").to_networkx()
    assert caps.nodes["warehouse"]["initial_pipeline"] == "[0.0, 10.0, 10.0]"
    assert caps.nodes["shop"]["capacity"] == 20.0
    serial = Network.from_json(EXAMPLES / "serial.json").to_networkx()
    assert serial.edges["supplier", "plant"]["lead_time"] == 2
    assert [G.edges[e]["position"] for e in G.edges] == [0, 1, 2]


def test_from_networkx_takes_numbers_dicts_and_json_strings():
    G = nx.DiGraph(name="hand-made")
    G.add_node("s", kind="supply")
    G.add_node("a", demand=4, holding_cost=1)
    G.add_node("b", demand={"type": "poisson", "mean": 2}, initial_pipeline=[1, 2])
    G.add_node("c", demand='{"type": "poisson", "mean": 3}', initial_pipeline="[1]")
    G.add_edge("s", "a", lead_time=2)
    G.add_edge("a", "b")
    G.add_edge("a", "c", lead_time={"type": "uniform", "low": 0, "high": 2})
    net = Network.from_networkx(G)
    assert net.name == "hand-made" and net.order_timing == "order-before-demand"
    assert net.node("a").demand == Deterministic(4.0)
    assert net.node("b").demand == net.node("c").demand.__class__(2) == Poisson(2)
    assert net.node("c").demand == Poisson(3) and net.node("c").initial_pipeline == (1.0,)
    assert net.edges[0].lead_time == Deterministic(2) and net.edges[1].lead_time == Deterministic(1)


def test_from_networkx_edge_order_follows_position():
    net = Network.from_json(EXAMPLES / "general.json")
    G = net.to_networkx()
    H = nx.DiGraph(**G.graph)
    H.add_nodes_from(G.nodes(data=True))
    H.add_edges_from(reversed(list(G.edges(data=True))))  # a different edge order
    assert Network.from_networkx(H) == net
    for e in H.edges:
        del H.edges[e]["position"]
    assert Network.from_networkx(H).edges != net.edges  # without it: the graph's order
    assert set(Network.from_networkx(H).edges) == set(net.edges)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda G: G.nodes["a"].update(holding_cost="1"),
            r"^node 'a': holding_cost\(='1'\) must be a number",
        ),
        (
            lambda G: G.nodes["a"].update(node=Node("a")),
            r"^node 'a': unknown field\(s\) 'node' "
            r"\(allowed: kind, holding_cost, ",
        ),
        (lambda G: G.nodes["a"].update(name="b"), r"^node 'a': unknown field\(s\) 'name'"),
        (
            lambda G: G.nodes["a"].update(demand="lots"),
            r"^node 'a': demand\(='lots'\) is not a number",
        ),
        (
            lambda G: G.nodes["a"].update(demand='{"type": "poisson"}'),
            r"^node 'a': demand: a 'poisson' distribution needs 'mean'",
        ),
        (
            lambda G: G.nodes["a"].update(initial_pipeline="[1,"),
            r"^node 'a': initial_pipeline\(='\[1,'\) is not a JSON list",
        ),
        (
            lambda G: G.edges["s", "a"].update(lead_time="2.5"),
            r"^edge 's'->'a': lead_time must take whole numbers",
        ),
        (
            lambda G: G.edges["s", "a"].update(colour="red"),
            r"^edge 's'->'a': unknown field\(s\) 'colour' \(allowed: lead_time, unit_cost, bom, "
            r"transit_holding_cost, share, priority, sequential, position\)",
        ),
        (lambda G: G.edges["s", "a"].update(position=0.5), r"^edge 's'->'a': position\(=0.5\)"),
        (
            lambda G: G.graph.update(colour="red"),
            r"^graph: unknown field\(s\) 'colour' \(allowed: format_version, name, order_timing, "
            r"continuous, decisions, shipping_timing, time\)",
        ),
        (lambda G: G.graph.update(format_version=2), r"^graph: format_version 2 is not supported"),
        (lambda G: G.add_node("ghost"), r"node 'ghost' is a stocking node with no supplier"),
    ],
)
def test_from_networkx_errors_name_the_node_or_edge(change, match):
    G = Network(
        (Node("s", kind="supply"), Node("a", demand=Poisson(2))), (Edge("s", "a"),)
    ).to_networkx()
    change(G)
    with pytest.raises(NetworkError, match=match):
        Network.from_networkx(G)


def test_from_networkx_needs_a_digraph():
    for G in (nx.Graph(), nx.MultiDiGraph(), {"nodes": []}):
        with pytest.raises(NetworkError, match="from_networkx needs a networkx DiGraph"):
            Network.from_networkx(G)


def test_graphml_reader_defaults_are_ignored(tmp_path):
    net = scenarios.make("owmr").network
    H = roundtrip_graphml(net.to_networkx(), tmp_path)
    assert "node_default" in H.graph  # added by read_graphml, not part of the network
    assert Network.from_networkx(H) == net
