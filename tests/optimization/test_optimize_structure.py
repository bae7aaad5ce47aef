"""optimize() reads the method from the problem's structure and data, never from a name.

A network written by hand (in Python or as JSON text) gets exactly the numbers of the
scenario with the same parameters; every assumption of an exact method that fails sends
the problem to the bounded method with the reason in ``details["exact_method_skipped"]``;
per-unit costs the exact models leave out are added as the long-run constants they are,
and the engine agrees.
"""

from __future__ import annotations

import dataclasses

import pytest

import optimization.optimize as opt
import scenarios
from des_supply import (
    DiscreteUniform,
    Edge,
    Geometric,
    NegativeBinomial,
    Network,
    Node,
    Normal,
    Poisson,
)
from des_supply.problem import Problem
from optimization.optimize import Benchmark, OptimizeError, optimize, verify


def single_stage(
    shortage="lost",
    *,
    lead_time=2,
    holding=1.0,
    penalty=9.0,
    fixed_cost=0.0,
    demand=None,
    timing="order-before-demand",
    edge=None,
    **node,
) -> Network:
    """One store fed by one unlimited supplier, names unlike the scenario's."""
    return Network(
        nodes=(
            Node("factory", kind="supply"),
            Node(
                "shop",
                holding_cost=holding,
                shortage=shortage,
                shortage_cost=penalty,
                fixed_order_cost=fixed_cost,
                demand=demand or Poisson(5.0),
                **node,
            ),
        ),
        edges=(Edge("factory", "shop", lead_time=lead_time, **(edge or {})),),
        name="my-shop",
        order_timing=timing,
    )


JSON = """{{"name": "my-shop",
 "nodes": [{{"name": "factory", "kind": "supply"}},
           {{"name": "shop", "holding_cost": 1, "shortage": "{shortage}",
            "shortage_cost": {penalty}, "fixed_order_cost": {fixed_cost},
            "demand": {{"type": "{demand}", "mean": 5}}}}],
 "edges": [{{"source": "factory", "target": "shop", "lead_time": {lead_time}}}]}}"""


def same_numbers(a, b) -> None:
    assert (a.optimal.name, a.optimal.value, a.optimal.params) == (
        b.optimal.name,
        b.optimal.value,
        b.optimal.params,
    )
    assert [(p.name, p.value, p.params) for p in a.policies] == [
        (p.name, p.value, p.params) for p in b.policies
    ]


CASES = [  # scenario parameters, and the same network by hand
    (dict(lead_time=2, penalty=9.0), dict(shortage="lost", penalty=9.0, lead_time=2)),
    (
        dict(lead_time=1, penalty=4.0, demand="geometric"),
        dict(shortage="lost", penalty=4.0, lead_time=1, demand=Geometric(5.0)),
    ),
    (dict(lead_time=2, shortage="backlog"), dict(shortage="backlog", lead_time=2)),
    (
        dict(lead_time=1, shortage="backlog", fixed_cost=20.0),
        dict(shortage="backlog", lead_time=1, fixed_cost=20.0),
    ),
]


@pytest.mark.parametrize("params,by_hand", CASES)
def test_single_stage_by_hand_equals_the_scenario(params, by_hand):
    scenario = optimize(scenarios.make("single-stage", **params))
    net = single_stage(**by_hand)
    text = JSON.format(
        shortage=by_hand["shortage"],
        penalty=by_hand.get("penalty", 9.0),
        fixed_cost=by_hand.get("fixed_cost", 0.0),
        demand=params.get("demand", "poisson"),
        lead_time=by_hand["lead_time"],
    )
    for problem in (net, Network.from_json(text)):
        result = optimize(problem)
        assert "exact_method_skipped" not in result.details
        same_numbers(result, scenario)
        assert result.details["inputs"]["node"] == "shop"
    assert {p.name for p in scenario.policies} <= {
        "myopic",
        "myopic-2",
        "best-base-stock",
        "best-capped-base-stock",
        "best-constant",
        "best-constant-rate",
        "ss",
    }


def example_6_1(**changes) -> Network:
    """Snyder & Shen Example 6.1 written by hand: retailer <- dc <- plant <- mine."""
    transit = changes.pop("transit", (4.0, 2.0, 0.0))
    nodes = [
        Node("mine", kind="supply"),
        Node("plant", holding_cost=2.0),
        Node("dc", holding_cost=4.0),
        Node("retailer", holding_cost=7.0, shortage_cost=37.12, demand=Normal(5.0, 1.0)),
    ]
    edges = [
        Edge("mine", "plant", lead_time=2, transit_holding_cost=transit[2]),
        Edge("plant", "dc", lead_time=1, transit_holding_cost=transit[1]),
        Edge("dc", "retailer", lead_time=1, transit_holding_cost=transit[0]),
    ]
    net = Network(tuple(nodes), tuple(edges), name="ex-6-1", order_timing="order-after-demand")
    for name, fields in changes.items():
        net = net.replace_node(name, **fields)
    return net


def test_serial_by_hand_equals_the_scenario_and_snyder_shen():
    """Snyder & Shen (2nd ed.) Example 6.1: C* = 47.66 (converged; the book prints 47.65)."""
    scenario = optimize(scenarios.make("serial"))
    result = optimize(example_6_1())
    assert result.optimal.value == pytest.approx(47.66, abs=0.005)
    assert result.optimal.value == scenario.optimal.value
    assert result.details["inputs"]["stages"] == ["retailer", "dc", "plant"]
    levels = result.optimal.params["level"]
    assert list(levels.values()) == list(scenario.optimal.params["level"].values())
    assert list(levels) == ["retailer", "dc", "plant"]


# -- per-unit costs: constants in the long run, checked in the engine -----------------------------
@pytest.mark.parametrize(
    "net,shift",
    [
        # backlog: every unit demanded is bought once: (2 + 1 + 0.5 x 2) x 5 = 20
        (
            single_stage(
                "backlog", order_cost=2.0, edge=dict(unit_cost=1.0, transit_holding_cost=0.5)
            ),
            20.0,
        ),
        # lost sales: units bought = units sold; the DP runs with penalty 9 - 4 and adds 4 x 5
        (
            single_stage(
                "lost", order_cost=2.0, edge=dict(unit_cost=1.0, transit_holding_cost=0.5)
            ),
            None,
        ),
        # serial without transit holding: 47.66 - 5 x (4 x 1 + 2 x 1)
        (example_6_1(transit=(0.0, 0.0, 0.0)), -30.0),
    ],
)
def test_per_unit_costs_are_long_run_constants(net, shift):
    result = optimize(net)
    assert "exact_method_skipped" not in result.details
    if shift is not None:
        plain = dataclasses.replace(
            net,
            nodes=tuple(dataclasses.replace(n, order_cost=0.0) for n in net.nodes),
            edges=tuple(
                dataclasses.replace(e, unit_cost=0.0, transit_holding_cost=0.0) for e in net.edges
            ),
        )
        if net.name == "ex-6-1":
            plain = example_6_1()
        assert result.optimal.value == pytest.approx(optimize(plain).optimal.value + shift)
    rows = verify(result, periods=4_000, warmup=200, replications=4, seed=3)
    for row in rows:
        lo, hi = row["ci95"]
        assert abs(row["simulated"] - row["promised"]) <= (hi - lo), row


# -- fallbacks and their reasons -----------------------------------------------------------------
@pytest.fixture
def no_bound(monkeypatch):
    """Replace the (slow) bounded method by a stub: these tests check the routing only."""

    def stub(problem, progress, *, periods, replications, seed):
        return Benchmark("perfect-information-bound", 0.0, {}, "stub", None, periods), [], {}

    monkeypatch.setattr(opt, "_bounded", stub)


FALLBACKS = [
    (single_stage(lead_time=DiscreteUniform(1, 3)), "stochastic lead time"),
    (single_stage(timing="order-after-demand"), "order_timing"),
    (single_stage(capacity=8.0), "orders at most 8"),
    (single_stage(storage_capacity=30.0), "storage_capacity"),
    (single_stage(review_period=2), "reviews every 2 periods"),
    (single_stage(price=12.0), "price"),
    (single_stage(holding=0.0), "holding_cost 0"),
    (single_stage(demand=Normal(20.0, 3.0, integer=True)), "Poisson or geometric"),
    (single_stage("backlog", demand=NegativeBinomial(5.0, 2.0)), "NegativeBinomial"),
    (single_stage("backlog", demand=Normal(5.0, 5.0**0.5)), "below 0"),
    (single_stage("backlog", demand=Normal(20.0, 3.0), fixed_cost=5.0), "discrete demand"),
    (single_stage(lead_time=12), "DP refused"),
    (single_stage(penalty=1.0, order_cost=2.0), "never ordering"),
    (
        Network(
            nodes=(
                Node("factory", kind="supply", capacity=4.0),
                Node("shop", holding_cost=1.0, shortage_cost=9.0, demand=Poisson(5.0)),
            ),
            edges=(Edge("factory", "shop", lead_time=1),),
        ),
        "unlimited supplier",
    ),
    (example_6_1(dc={"shortage": "lost"}), "backlog at every stage"),
    (example_6_1(dc={"shortage_cost": 1.0}), "charges a backlog cost"),
    (example_6_1(plant={"fixed_order_cost": 3.0}), "fixed order cost"),
    (example_6_1(plant={"holding_cost": 5.0}), "must not increase upstream"),
    (example_6_1(retailer={"demand": Geometric(5.0)}), "Poisson or continuous normal"),
    (scenarios.make("owmr", n_retailers=2).network, "no exact method for a distribution network"),
]


@pytest.mark.parametrize("net,why", FALLBACKS, ids=[w for _, w in FALLBACKS])
def test_failed_assumptions_fall_back_to_the_bound_and_say_why(no_bound, net, why):
    result = optimize(net)
    assert result.optimal.name == "perfect-information-bound"
    assert why in result.details["exact_method_skipped"]


def test_rounded_normal_backlog_is_exact():
    """Rounded normal demand has an exact pmf (censoring included): fractile and (s, S)."""
    for fixed in (0.0, 10.0):
        result = optimize(
            single_stage(
                "backlog", demand=Normal(5.0, 2.0, integer=True), lead_time=1, fixed_cost=fixed
            )
        )
        assert "exact_method_skipped" not in result.details
        rows = verify(result, periods=4_000, warmup=200, replications=4, seed=1)
        for row in rows:
            lo, hi = row["ci95"]
            assert abs(row["simulated"] - row["promised"]) <= (hi - lo), row


def test_unknown_market_has_no_method():
    class Custom:
        kind = "auction"

        def reset(self, rng):
            pass

        def draw(self, t, action, obs):
            return {}

    with pytest.raises(OptimizeError, match="'auction' market"):
        optimize(Problem(single_stage(), Custom()))


@pytest.mark.solver
def test_stochastic_lead_time_gets_the_bound_and_verify_replays_its_paths():
    result = optimize(
        single_stage("backlog", lead_time=DiscreteUniform(1, 3)),
        bound_periods=12,
        bound_replications=2,
    )
    assert "lead time" in result.details["exact_method_skipped"]
    assert result.optimal.name == "perfect-information-bound"
    assert [p.name for p in result.policies] == [
        "best-base-stock",
        "best-echelon-base-stock",
        "rolling-horizon",
    ]
    for p in result.policies:
        assert result.optimal.value <= p.value + 1e-9
    for row in verify(result):
        assert row["simulated"] == pytest.approx(row["promised"], rel=1e-12)


def test_serial_orders_before_demand_too():
    """Clark-Scarf with order_timing='order-before-demand' (stage 1 covers L_1 + 1 periods,
    see optimization.serial) against the engine, on Ex 6.1 with Poisson demand."""
    net = dataclasses.replace(
        example_6_1(retailer={"demand": Poisson(5.0)}),
        order_timing="order-before-demand",
        continuous=None,
    )
    result = optimize(net)
    assert result.details["inputs"]["order_timing"] == "order-before-demand"
    for row in verify(result, periods=4_000, warmup=200, replications=4, seed=3):
        lo, hi = row["ci95"]
        assert abs(row["simulated"] - row["promised"]) <= (hi - lo), row


@pytest.mark.solver
def test_revenue_without_a_market_gets_heuristics_and_no_bound():
    """The network MIP prices cost only, so a node selling at a price gets no bound: the
    optimum is the best heuristic on the sampled paths, and details say why."""
    result = optimize(single_stage(price=12.0), bound_periods=12, bound_replications=2)
    assert result.objective == "profit" and "price" in result.details["exact_method_skipped"]
    assert "revenue" in result.details["bound_skipped"]
    assert result.optimal.value == max(p.value for p in result.policies)
    assert result.optimal.policy is not None
