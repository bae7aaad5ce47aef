"""Registered scenarios build, simulate and conserve units; parameters parse with their types."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply import BaseStock, Ledger, Network, Simulation
from des_supply.collaborative_policies import CollaborativeBaseStock
from des_supply.sourcing_policies import DualIndex
from scenarios import ScenarioError, parse_params

#: The scenarios whose nodes choose their suppliers, with a policy that orders per supplier.
CHOICE_POLICIES = {"collaborative": CollaborativeBaseStock(20)}


@pytest.mark.parametrize("name", scenarios.names())
def test_scenario_builds_and_simulates_with_defaults(name):
    net = scenarios.make(name).network
    assert isinstance(net, Network) and net.stock_nodes
    spec = scenarios.get(name)
    assert spec.summary and spec.doc and 0 <= spec.warmup < spec.periods
    problem = scenarios.make(name)
    # a node that chooses its suppliers orders per supplier: the scenario's own reference
    # policy, dual index on dual sourcing
    default = DualIndex(4, 20) if problem.kind.shape == "multi-sourcing" else BaseStock(20)
    policy = CHOICE_POLICIES.get(name, default)
    ledger = problem.simulation(200, seed=0).run(policy)  # 200 time units
    assert isinstance(ledger, Ledger)  # in continuous time too
    assert ledger.periods == 200
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=1e-9)
    assert np.isfinite(ledger.cost()).all() and (ledger.cost() >= 0).all()
    assert Network.from_dict(net.to_dict()) == net


def test_every_registered_name_is_listed():
    assert scenarios.names() == sorted(
        [
            "assembly",
            "beer-game",
            "continuous-owmr",
            "continuous-review",
            "dual-sourcing",
            "orgym-inventory",
            "orgym-inventory-lost",
            "owmr",
            "random-dag",
            "serial",
            "single-stage",
            "pricing-a",
            "pricing-b",
            "pricing-c",
            "pricing-d",
            "recommendation-small",
            "recommendation-medium",
            "recommendation-large",
            "collaborative",
            "recommendation-fashion-small",
            "recommendation-fashion-medium",
        ]
    )


def test_parameters_show_the_defaults():
    params = scenarios.get("single-stage").parameters
    assert params["lead_time"] == 2 and params["shortage"] == "lost"
    assert params["demand_std"] is None


@pytest.mark.parametrize(
    "name, pairs, expected",
    [
        ("single-stage", ["lead_time=3"], {"lead_time": 3}),
        ("single-stage", ["lead_time=3.0"], {"lead_time": 3}),
        ("single-stage", ["penalty=4"], {"penalty": 4.0}),
        (
            "single-stage",
            ["shortage=backlog", "demand=normal"],
            {"shortage": "backlog", "demand": "normal"},
        ),
        ("single-stage", ["demand_std=2.5"], {"demand_std": 2.5}),  # default None: number
        ("single-stage", ["demand-mean=7"], {"demand_mean": 7.0}),  # dashes allowed
        ("single-stage", [" lead_time = 1 "], {"lead_time": 1}),
        ("serial", ["holding=3,2,1"], {"holding": (3.0, 2.0, 1.0)}),
        ("serial", ["lead_times=2, 2"], {"lead_times": (2, 2)}),
        (
            "random-dag",
            ["n_nodes=8", "extra_supplier_prob=0.5"],
            {"n_nodes": 8, "extra_supplier_prob": 0.5},
        ),
    ],
)
def test_parse_params_converts_by_default_type(name, pairs, expected):
    out = parse_params(name, pairs)
    assert out == expected
    assert all(type(out[k]) is type(v) for k, v in expected.items())
    for k, v in expected.items():
        if isinstance(v, tuple):
            assert all(type(a) is type(b) for a, b in zip(out[k], v))


def test_parse_params_bools():
    from scenarios.registry import _convert

    for text, value in [
        ("true", True),
        ("False", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("NO", False),
    ]:
        assert _convert("x", "flag", text, False) is value
    with pytest.raises(ScenarioError, match=r"parameter flag='maybe' is not a valid bool"):
        _convert("x", "flag", "maybe", False)


@pytest.mark.parametrize(
    "name, pairs, match",
    [
        ("single-stage", ["lead_time=2.5"], r"lead_time='2.5' is not a valid int"),
        ("single-stage", ["lead_time=two"], r"lead_time='two' is not a valid int"),
        ("single-stage", ["penalty=high"], r"penalty='high' is not a valid float"),
        (
            "single-stage",
            ["colour=red"],
            r"scenario 'single-stage' has no parameter 'colour' \(parameters: lead_time, ",
        ),
        ("single-stage", ["lead_time"], r"parameter 'lead_time' must look like key=value"),
        ("single-stage", ["=3"], r"must look like key=value"),
        ("serial", ["holding=a,b"], r"holding='a,b' is not a valid comma-separated list of float"),
        ("nowhere", [], r"unknown scenario 'nowhere' \(known: assembly, beer-game"),
    ],
)
def test_parse_params_errors(name, pairs, match):
    with pytest.raises(ScenarioError, match=match):
        parse_params(name, pairs)


def test_make_checks_parameter_names_and_values():
    with pytest.raises(ScenarioError, match=r"has no parameter\(s\) 'lead'"):
        scenarios.make("single-stage", lead=2).network
    with pytest.raises(ScenarioError, match=r"lead_time\(=-1\)"):
        scenarios.make("single-stage", lead_time=-1).network
    with pytest.raises(ScenarioError, match="holding has 2 stages, lead_times has 3"):
        scenarios.make("serial", holding=(1.0, 2.0)).network
    with pytest.raises(ScenarioError, match=r"demand\(='flat'\) must be 'step' or 'poisson'"):
        scenarios.make("beer-game", demand="flat").network
    with pytest.raises(ScenarioError, match=r"n_retailers\(=0\)"):
        scenarios.make("owmr", n_retailers=0).network
    with pytest.raises(ScenarioError, match="need 1 <= n_layers"):
        scenarios.make("random-dag", n_nodes=2, n_layers=3).network
    with pytest.raises(ScenarioError, match="demand='gamma' is not one of"):
        scenarios.make("single-stage", demand="gamma").network


def test_scenario_parameters_reach_the_network():
    net = scenarios.make("single-stage", lead_time=3, shortage="backlog", penalty=4).network
    stage = net.node("stage")
    assert stage.shortage == "backlog" and stage.shortage_cost == 4
    assert net.suppliers("stage")[0].lead_time.mean == 3
    assert stage.initial_on_hand == 20  # mean demand over lead time + 1
    owmr = scenarios.make("owmr", n_retailers=5).network
    assert len(owmr.customers("warehouse")) == 5
    serial = scenarios.make("serial").network
    assert serial.order_timing == "order-after-demand" and serial.continuous
    assert [n.name for n in serial.stock_nodes] == ["stage3", "stage2", "stage1"]


def test_random_dag_structure_depends_only_on_its_seed():
    a, b = (
        scenarios.make("random-dag", seed=5).network,
        scenarios.make("random-dag", seed=5).network,
    )
    assert a == b and a != scenarios.make("random-dag", seed=6).network


def test_beer_game_step_demand():
    ledger = Simulation(scenarios.make("beer-game").network, 8, seed=0).run(BaseStock(20))
    assert ledger.column("demand", "retailer").tolist() == [4, 4, 4, 4, 8, 8, 8, 8]


def test_int_tuple_refuses_fractions():
    with pytest.raises(ScenarioError):
        parse_params("serial", ["lead_times=1.5,1,2"])
