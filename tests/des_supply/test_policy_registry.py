"""The policy registry: every engine policy builds by name and runs; refusals name what is wrong.

Solved policies (``optimization.policies``) are tested in
tests/optimization/test_solved_policies.py.
"""

from __future__ import annotations

import math

import pytest

import scenarios
from des_supply import policy_registry as reg
from des_supply.evaluate import simulate
from des_supply.policies import POLICIES, BaseStock, Policy
from des_supply.policy_registry import (
    Param,
    PolicyError,
    make_policy,
    policy_entry,
    policy_names,
    register_policy,
)
from des_supply.pricing_policies import PRICING_POLICIES, ListPriceBaseStock, MyopicPricing
from des_supply.recommendation_policies import (
    MarginRecommender,
    Popularity,
    RandomRecommender,
    RecommendAndReplenish,
    Uniform,
)

# a value for every parameter name an engine policy takes
VALUES = {
    "level": 12.0,
    "s": 6.0,
    "S": 14.0,
    "r": 6.0,
    "Q": 5.0,
    "reorder_point": 6.0,
    "quantity": 5.0,
    "rate": 4.6,
    "cap": 7.0,
    "price": 40.0,
    "slope": 0.5,
    "expedite_level": 3.0,
    "regular_level": 8.0,
    "base": 2.0,
    "price_factor": 1.1,
    "uniform": 1.0,
    "period": 3.0,
}
# a problem where each group applies
GROUP_PROBLEMS = {
    "family": ("single-stage", {}),
    "sourcing": ("dual-sourcing", {}),
    "pricing": ("pricing-a", {}),
    "recommendation": ("recommendation-small", {}),
    "collaborative": ("collaborative", {}),
}
ENGINE = [n for n in policy_names() if policy_entry(n).group != "solved"]


@pytest.fixture(scope="module")
def problems():
    return {g: scenarios.make(name, **p) for g, (name, p) in GROUP_PROBLEMS.items()}


@pytest.fixture(scope="module")
def serial():
    return scenarios.make("serial")  # plant -> stage1 -> stage2 -> stage3 (deciding: stage1..3)


def test_the_engine_registers_its_families_sourcing_pricing_and_recommendation_rules():
    assert set(ENGINE) == {
        "base-stock",
        "echelon-base-stock",
        "ss",
        "rq",
        "constant",
        "constant-rate",
        "capped-base-stock",
        "bslp",
        "ssp",
        "myopic-pricing",
        "list-price",
        "base-stock-uniform",
        "base-stock-popularity",
        "base-stock-random",
        "base-stock-margin",
        "base-stock-season-static",
        "base-stock-season-learn",
        "base-stock-season-resolve",
        "single-index",
        "dual-index",
        "capped-dual-index",
        "tailored-base-surge",
        "collab-base-stock",
        "periodic-base-stock-margin",
    }
    # pricing's myopic rule no longer collides with Zipkin's lost-sales "myopic"
    assert "myopic" not in ENGINE or policy_entry("myopic").group == "solved"


@pytest.mark.parametrize("name", ENGINE)
def test_every_engine_policy_builds_where_it_applies_and_runs(name, problems):
    entry = policy_entry(name)
    # the season rules need a one-buy-per-season network (they are refused elsewhere)
    season = name.startswith("base-stock-season")
    problem = scenarios.make("recommendation-fashion-small") if season else problems[entry.group]
    assert name in policy_names(problem)
    params = {p: VALUES[p] for p in entry.required}
    policy = make_policy(name, problem, params)
    assert isinstance(policy, Policy)
    if entry.family is not None:
        assert isinstance(policy, entry.family)
    res = simulate(problem, policy, periods=12, replications=1, seed=1)
    assert math.isfinite(res.mean)
    # and with every optional parameter too
    full = make_policy(name, problem, {p.name: VALUES[p.name] for p in entry.params})
    assert isinstance(full, Policy)


def test_per_node_parameters_build_one_value_per_deciding_node(serial):
    levels = {"stage1": 6.0, "stage2": 12.0, "stage3": 23.0}
    assert make_policy("echelon-base-stock", serial, {"level": levels}).level == levels
    res = simulate(serial, make_policy("base-stock", serial, {"level": 20}), periods=10)
    assert math.isfinite(res.mean)


def test_a_network_is_a_problem_too(serial):
    assert make_policy("base-stock", serial.network, {"level": 3}) == BaseStock(3)


def test_the_views_are_the_registrations():
    for name, cls in {**POLICIES, **PRICING_POLICIES}.items():
        assert policy_entry(name).family is cls, name
    assert PRICING_POLICIES["myopic-pricing"] is MyopicPricing


def test_recommendation_rules_pair_base_stock_with_their_recommender(problems):
    problem = problems["recommendation"]
    kinds = {
        "uniform": Uniform,
        "popularity": Popularity,
        "random": RandomRecommender,
        "margin": MarginRecommender,
    }
    for rec, cls in kinds.items():
        policy = make_policy(f"base-stock-{rec}", problem, {"level": 9})
        assert isinstance(policy, RecommendAndReplenish)
        assert policy.replenishment == BaseStock(9) and isinstance(policy.recommender, cls)
    margin = make_policy("base-stock-margin", problem, {"level": 9}).recommender
    assert set(margin.margins) == set(problem.market.model.products)


def test_list_price_defaults_to_the_nodes_price(problems):
    problem = problems["pricing"]
    node = problem.network.node(problem.market.node)
    assert make_policy("list-price", problem, {"level": 6}) == ListPriceBaseStock(node.price, 6)
    assert make_policy("list-price", problem, {"level": 6, "price": 30}) == ListPriceBaseStock(
        30, 6
    )


# -- refusals ----------------------------------------------------------------------------------
def test_unknown_policy_lists_the_known_ones(serial):
    with pytest.raises(PolicyError, match=r"unknown policy 'nope' \(known: base-stock, "):
        make_policy("nope", serial, {})


def test_unknown_parameter_names_it_and_the_allowed_ones(serial):
    with pytest.raises(
        PolicyError,
        match=r"policy 'base-stock' has no parameter 'cap' "
        r"\(parameters: level \(per node\)\)",
    ):
        make_policy("base-stock", serial, {"level": 5, "cap": 3})


def test_missing_parameter_is_named(serial):
    with pytest.raises(PolicyError, match=r"policy 'ss' needs parameter S \(parameters: s"):
        make_policy("ss", serial, {"s": 1})


@pytest.mark.parametrize(
    "params, match",
    [
        ({"level": "x"}, r"policy 'base-stock': level\(='x'\) must be a number"),
        ({"level": True}, r"level\(=True\) must be a number"),
        ({"level": float("nan")}, r"level\(=nan\) must be a number"),
        ({"level": -1}, r"policy 'base-stock': level\(=-1.0\) must be a finite number >= 0"),
        (
            {"level": {"stage1": 1, "stage2": "a", "stage3": 2}},
            r"level at node 'stage2'\(='a'\) must be a number",
        ),
    ],
)
def test_bad_values_name_the_parameter(serial, params, match):
    with pytest.raises(PolicyError, match=match):
        make_policy("base-stock", serial, params)


def test_a_node_the_network_does_not_have_is_refused_even_when_every_node_has_a_value(serial):
    """The CLI used to ignore ``level=...,ghost:5`` once every deciding node had a value."""
    levels = {"stage1": 6, "stage2": 12, "stage3": 23, "ghost": 5}
    with pytest.raises(
        PolicyError,
        match=r"policy 'echelon-base-stock': level names node "
        r"'ghost', which the network 'serial' does not have "
        r"\(deciding nodes: stage3, stage2, stage1\)",
    ):
        make_policy("echelon-base-stock", serial, {"level": levels})


def test_a_node_that_does_not_decide_is_refused(serial):
    supplier = next(n.name for n in serial.network.nodes if n.kind == "supply")
    levels = {"stage1": 6, "stage2": 12, "stage3": 23, supplier: 5}
    with pytest.raises(
        PolicyError,
        match=rf"policy 'ss': S names node '{supplier}', a supply "
        r"node that does not decide",
    ):
        make_policy("ss", serial, {"s": 1, "S": levels})


def test_a_deciding_node_left_out_is_named(serial):
    with pytest.raises(
        PolicyError,
        match=r"policy 'capped-base-stock': cap has no value for "
        r"deciding node 'stage3'",
    ):
        make_policy("capped-base-stock", serial, {"level": 9, "cap": {"stage1": 1, "stage2": 2}})
    with pytest.raises(PolicyError, match=r"no value for deciding nodes 'stage3', 'stage2'"):
        make_policy("base-stock", serial, {"level": {"stage1": 1}})


def test_one_number_parameters_refuse_a_mapping(problems):
    problem = problems["pricing"]
    with pytest.raises(
        PolicyError,
        match=r"policy 'bslp': price takes one number, not one per "
        r"node",
    ):
        make_policy("bslp", problem, {"price": {problem.market.node: 40}, "level": 5})


def test_market_rules_refuse_problems_without_their_market(serial, problems):
    with pytest.raises(
        PolicyError,
        match=r"policy 'myopic-pricing' does not apply to problem "
        r"'serial': it sets prices: it needs a problem with a "
        r"pricing market",
    ):
        make_policy("myopic-pricing", serial, {"level": 5})
    with pytest.raises(
        PolicyError,
        match=r"'base-stock-margin' does not apply to problem "
        r"'pricing-a': it recommends.*a pricing market",
    ):
        make_policy("base-stock-margin", problems["pricing"], {"level": 5})
    names = policy_names(serial)
    assert "base-stock" in names and not {
        "bslp",
        "ssp",
        "myopic-pricing",
        "list-price",
        "base-stock-uniform",
    } & set(names)


# -- registering -------------------------------------------------------------------------------
@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(reg, "_REGISTRY", dict(reg._REGISTRY))


def test_a_name_registers_once(scratch_registry):
    with pytest.raises(PolicyError, match="policy 'base-stock' is already registered"):
        register_policy("base-stock", lambda problem, p: BaseStock(1), summary="again")


def test_a_new_entry_gets_checked_parameters_and_its_reason(scratch_registry, serial):
    seen = {}

    def build(problem, params):
        seen.update(params)
        return BaseStock(params["level"])

    register_policy(
        "test-policy",
        build,
        summary="a test entry\nsecond line",
        params=(Param("level"), Param("gain", per_node=False, required=False)),
        applies=lambda p: None if p.kind.shape == "serial" else "serial only",
    )
    entry = policy_entry("test-policy")
    assert entry.summary == "a test entry" and entry.required == ("level",)
    assert entry.optional == ("gain",)
    assert entry.usage() == "test-policy level=<number or node:number,...> [gain=<number>]"
    levels = {"stage1": 1, "stage2": 2, "stage3": 3}
    make_policy("test-policy", serial, {"level": levels, "gain": 2})
    assert seen == {"level": {"stage1": 1.0, "stage2": 2.0, "stage3": 3.0}, "gain": 2.0}
    with pytest.raises(PolicyError, match="does not apply to problem 'single-stage': serial only"):
        make_policy("test-policy", scenarios.make("single-stage"), {"level": 1})
    assert "test-policy" in policy_names(serial)
    assert "test-policy" not in policy_names(scenarios.make("single-stage"))


def test_builder_value_errors_become_policy_errors(scratch_registry, serial):
    def build(problem, params):
        raise ValueError("level too high")

    register_policy("test-bad", build, summary="x")
    with pytest.raises(PolicyError, match=r"^policy 'test-bad': level too high$"):
        make_policy("test-bad", serial)


def test_one_order_per_node_families_do_not_apply_to_a_node_that_chooses(problems):
    problem = problems["sourcing"]
    assert not set(POLICIES) & set(policy_names(problem))
    with pytest.raises(
        PolicyError,
        match=r"policy 'base-stock' does not apply to problem 'dual-sourcing': node 'store' "
        r"chooses how much to order from each supplier",
    ):
        make_policy("base-stock", problem, {"level": 5})
    with pytest.raises(PolicyError, match="no stocking node chooses between two suppliers"):
        make_policy("dual-index", problems["family"], {"Se": 1, "Sr": 3})
