"""The inventory-aware recommendation MIP (optimization.recommendation_mip).

* On a 2 x 2 instance the MIP optimum equals brute-force enumeration over the same
  discrete decisions (every pattern choice that satisfies the normalisation, every whole
  order up to the order capacity), for expected and for realised demand, priced by an
  independent reference of the engine's period (receive, order, demand, account).
* Plan replay: the perfect-information plan, played open loop in the engine on the same
  seed and replication, earns exactly the MIP's profit (the accounting is the engine's).
* The bound is above what base stock + uniform and the MPC policy earn on those draws.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace

import numpy as np
import pytest

import scenarios
from des_supply.evaluate import simulate
from des_supply.network import Edge, Network, Node
from des_supply.policies import BaseStock
from des_supply.recommendation import KEY, RecommendationMarket, RecommendationModel
from des_supply.recommendation_policies import Popularity, RecommendAndReplenish, Uniform
from des_supply.rng import replication_seed
from des_supply.sim import Simulation
from optimization.recommendation_mip import (
    MIPRecommendationPolicy,
    make_patterns,
    market_uniforms,
    perfect_information_bound,
    realised_purchases,
    solve_plan,
)
from optimization.solve import SolverError

PRICE, COST, HOLD, PENALTY, CAP = 10.0, 4.0, 1.0, 2.0, 3


def tiny(shortage: str = "lost", lead: int = 1) -> tuple[Network, RecommendationModel]:
    """Two products, two customers; orders capped at CAP whole units per period."""
    model = RecommendationModel(
        np.array([[1.0, 2.5], [2.0, 0.5]]), np.array([2, 3]), efficiency=0.8
    )
    nodes = [Node("supplier", kind="supply")] + [
        Node(
            p,
            holding_cost=HOLD,
            shortage=shortage,
            shortage_cost=PENALTY,
            order_cost=COST,
            price=PRICE,
            capacity=CAP,
            initial_on_hand=s,
        )
        for p, s in zip(model.products, (1.0, 2.0))
    ]
    edges = [Edge("supplier", p, lead_time=lead) for p in model.products]
    return Network(nodes=tuple(nodes), edges=tuple(edges), name="tiny"), model


def reference_profit(
    demand: np.ndarray, orders: np.ndarray, lead: int, lost: bool, start: np.ndarray
) -> np.ndarray:
    """The engine's period, written out: demand (T, N) and orders (T, N, ...) -> profit (...)."""
    T = demand.shape[0]
    inv = np.broadcast_to(start.reshape(-1, *([1] * (orders.ndim - 2))), orders.shape[1:]).copy()
    owed = np.zeros_like(inv)
    total = np.zeros(orders.shape[2:])
    for t in range(T):
        got = orders[t - lead] if t - lead >= 0 else np.zeros_like(inv)
        fill = np.minimum(owed, got)  # receive: backlog first
        owed, inv = owed - fill, inv + got - fill
        d = demand[t].reshape(-1, *([1] * (orders.ndim - 2)))
        served = np.minimum(d, inv)  # demand from stock
        inv = inv - served
        short = d - served
        if not lost:
            owed = owed + short
        sales = fill + served
        total = total + (
            PRICE * sales - COST * orders[t] - HOLD * inv - PENALTY * (short if lost else owed)
        ).sum(axis=0)
    return total


def brute_force(
    model: RecommendationModel, T: int, lead: int, lost: bool, demand_of: callable
) -> float:
    """Best profit over every valid pattern choice per period and every whole order <= CAP."""
    pats = make_patterns(model, "all", 2)
    valid = [
        c
        for c in itertools.product(range(len(pats)), repeat=model.shape[1])
        if np.allclose(pats.recommendation(c).sum(axis=1), 1.0)
    ]
    grid = np.array(list(itertools.product(range(CAP + 1), repeat=2 * T)), dtype=float)
    orders = grid.T.reshape(T, 2, -1)  # (T, N, combinations)
    best = -np.inf
    for plan in itertools.product(valid, repeat=T):
        demand = np.stack([demand_of(t, pats.recommendation(c)) for t, c in enumerate(plan)])
        best = max(
            best, float(reference_profit(demand, orders, lead, lost, np.array([1.0, 2.0])).max())
        )
    return best


@pytest.mark.parametrize(
    "shortage,lead", [("lost", 1), ("lost", 0), ("backlog", 1), ("backlog", 0)]
)
def test_expected_demand_mip_equals_brute_force(shortage, lead):
    net, model = tiny(shortage, lead)
    plan = solve_plan(net, model, 2, family="all", levels=2, integer=True, rel_gap=0.0)
    expect = brute_force(
        model, 2, lead, shortage == "lost", lambda t, alpha: model.expected_demand(alpha)
    )
    assert plan.objective == pytest.approx(expect, abs=1e-6)
    assert plan.bound == pytest.approx(expect, abs=1e-6)


@pytest.mark.parametrize("shortage,lead", [("lost", 1), ("backlog", 0)])
def test_realised_demand_mip_equals_brute_force(shortage, lead):
    net, model = tiny(shortage, lead)
    u = 1.0 - np.random.default_rng(7).random((2, *model.shape))
    plan = solve_plan(net, model, 2, uniforms=u, family="all", levels=2, rel_gap=0.0)
    expect = brute_force(
        model, 2, lead, shortage == "lost", lambda t, alpha: model.demand(alpha, u[t]).sum(axis=1)
    )
    assert plan.objective == pytest.approx(expect, abs=1e-6)


def test_realised_purchases_are_the_engines_demand():
    model = scenarios.make_market("recommendation-small").model
    pats = make_patterns(model, "single", 2)
    u = market_uniforms(model, 3, seed=4)
    d = realised_purchases(model, pats, u)
    rng = np.random.default_rng(0)
    for t in range(3):
        choice = rng.integers(0, len(pats), size=model.shape[1])
        alpha = pats.recommendation(choice)
        mine = d[t, choice, :, np.arange(model.shape[1])].T
        np.testing.assert_array_equal(mine, model.demand(alpha, u[t]))


PARAMS = [
    {},
    {"shortage": "backlog"},
    {"lead_time": 0},
    {"lead_time": 1, "lead_time_max": 3, "stochastic_lead_time": True},
    {"axis": "products"},
]


@pytest.mark.parametrize("params", PARAMS)
def test_perfect_information_plan_replays_in_the_engine(params):
    T, seed, k = 10, 3, 1
    net = scenarios.make("recommendation-small", **params).network
    market = scenarios.make_market("recommendation-small", **params)
    bound = perfect_information_bound(net, market, T, seed, k, rel_gap=0.0)
    assert bound.termination == "convergenceCriteriaSatisfied"
    ledger = Simulation(net, T, replication_seed(seed, k), market).run(bound.policy())
    np.testing.assert_allclose(ledger.profit(), bound.period_profits, atol=1e-6)
    assert ledger.profit().sum() == pytest.approx(bound.objective, abs=1e-6)
    assert bound.bound == pytest.approx(bound.objective, abs=1e-6)


@pytest.mark.parametrize("shortage", ["lost", "backlog"])
def test_plan_replays_with_edge_costs_transit_holding_and_initial_pipeline(shortage):
    T, seed, k = 8, 1, 0
    base = scenarios.make("recommendation-small", shortage=shortage, lead_time=2).network
    nodes = tuple(
        replace(n, initial_pipeline=(1.0, 0.0, 2.0), capacity=9.0) if n.kind == "stock" else n
        for n in base.nodes
    )
    edges = tuple(replace(e, unit_cost=0.5, transit_holding_cost=0.3) for e in base.edges)
    net = Network(nodes=nodes, edges=edges, name="costly")
    market = scenarios.make_market("recommendation-small")
    bound = perfect_information_bound(
        net, market, T, seed, k, family="single", levels=1, rel_gap=0.0
    )
    ledger = Simulation(net, T, replication_seed(seed, k), market).run(bound.policy())
    np.testing.assert_allclose(ledger.profit(), bound.period_profits, atol=1e-6)
    assert max(max(r) for r in bound.orders.values()) <= 9.0


def test_lp_relaxation_is_a_weaker_bound_and_not_a_plan():
    net = scenarios.make("recommendation-small").network
    market = scenarios.make_market("recommendation-small")
    exact = perfect_information_bound(net, market, 8, 0, 0, rel_gap=0.0)
    lp = perfect_information_bound(net, market, 8, 0, 0, relax=True)
    assert lp.relaxed and lp.bound >= exact.bound - 1e-6
    with pytest.raises(ValueError, match="LP relaxation"):
        lp.policy()


def test_problem_gives_the_same_bound():
    a = perfect_information_bound(
        scenarios.make("recommendation-small", shortage="backlog"), periods=6, seed=2, replication=0
    )
    net = scenarios.make("recommendation-small", shortage="backlog").network
    market = scenarios.make_market("recommendation-small", shortage="backlog")
    b = perfect_information_bound(net, market, 6, 2, 0)
    assert a.objective == pytest.approx(b.objective)


def run(net: Network, market: RecommendationMarket, policy, T: int, seed: int, k: int) -> float:
    return float(Simulation(net, T, replication_seed(seed, k), market).run(policy).profit().sum())


@pytest.mark.parametrize("shortage", ["lost", "backlog"])
def test_bound_is_above_the_heuristics_and_the_mpc(shortage):
    T, seed, k = 8, 0, 2
    net = scenarios.make("recommendation-small", shortage=shortage).network
    model = scenarios.make_market("recommendation-small").model
    anchors = {"uniform": model.uniform(), "popularity": Popularity().recommend(None, model)}
    pats = make_patterns(model, "single", 2, anchors=anchors)
    bound = perfect_information_bound(net, model, T, seed, k, patterns=pats, rel_gap=1e-4)

    def market() -> RecommendationMarket:
        return scenarios.make_market("recommendation-small", shortage=shortage)

    levels = {"p0": 7.0, "p1": 16.0, "p2": 9.0}
    for rec in (Uniform(), Popularity()):
        policy = RecommendAndReplenish(BaseStock(levels), rec)
        assert run(net, market(), policy, T, seed, k) <= bound.bound + 1e-6
    mpc = MIPRecommendationPolicy(net, model, 3, patterns=pats, safety_stock="auto")
    assert run(net, market(), mpc, T, seed, k) <= bound.bound + 1e-6


def test_fluid_lp_bounds_the_mean_profit_of_pattern_set_policies():
    T = 10
    net = scenarios.make("recommendation-small").network
    model = scenarios.make_market("recommendation-small").model
    anchors = {"uniform": model.uniform(), "popularity": Popularity().recommend(None, model)}
    pats = make_patterns(model, "single", 2, anchors=anchors)
    fluid = solve_plan(net, model, T, patterns=pats, relax=True)
    levels = {"p0": 7.0, "p1": 16.0, "p2": 9.0}
    for rec in (Uniform(), Popularity()):
        res = simulate(
            net,
            RecommendAndReplenish(BaseStock(levels), rec),
            periods=T,
            replications=40,
            seed=9,
            market=scenarios.make_market("recommendation-small"),
        )
        assert res.ci95[1] <= fluid.per_period_bound


class Recorder:
    """Wraps a policy and keeps every recommendation it gives."""

    def __init__(self, policy):
        self.policy, self.seen = policy, []

    def act(self, obs):
        action = self.policy.act(obs)
        self.seen.append(np.array(action.extra[KEY]))
        return action


@pytest.mark.parametrize(
    "axis,family,relax",
    [
        ("customers", "single", False),
        ("products", "single", True),
        ("customers", "all", True),
        ("products", "all", False),
    ],
)
def test_mpc_recommendations_are_valid(axis, family, relax):
    net = scenarios.make("recommendation-small", axis=axis).network
    market = scenarios.make_market("recommendation-small", axis=axis)
    mpc = MIPRecommendationPolicy(
        net, market, 2, family=family, levels=2, safety_stock=1.0, relax_future=relax
    )
    rec = Recorder(mpc)
    T = 6 if family == "single" else 3
    Simulation(net, T, 5, market).run(rec)
    assert len(rec.seen) == T
    for alpha in rec.seen:
        market.model.check(alpha)
    assert set(mpc.terminations) == {"convergenceCriteriaSatisfied"}


def test_pattern_families():
    model = RecommendationModel(np.zeros((3, 2)), np.array([1, 1]))
    single = make_patterns(model, "single", 2)
    assert len(single) == 1 + 3 * 2 + 1  # none, 3 products x 2 levels, uniform
    every = make_patterns(model, "all", 2)
    assert len(every) == 3**3  # uniform (1/2 each) is on the grid
    three = RecommendationModel(np.zeros((3, 3)), np.array([1, 1, 1]))
    every = make_patterns(three, "all", 2)
    assert len(every) == 3**3 + 1  # 1/3 is not: one more pattern
    assert np.array_equal(every.recommendation([len(every) - 1] * 3), three.uniform())
    products = RecommendationModel(np.zeros((3, 2)), np.array([1, 1]), axis="products")
    assert len(make_patterns(products, "all", 2, anchors={})) == 6  # compositions of 2 in 3
    assert len(make_patterns(products, "single", 4, anchors={})) == 3


def test_bad_inputs_name_the_parameter():
    net, model = tiny()
    with pytest.raises(ValueError, match="horizon"):
        MIPRecommendationPolicy(net, model, 0)
    with pytest.raises(ValueError, match="family"):
        make_patterns(model, "best")
    with pytest.raises(ValueError, match="levels"):
        make_patterns(model, "single", 0)
    with pytest.raises(ValueError, match="periods"):
        solve_plan(net, model, 0)
    with pytest.raises(ValueError, match="safety_stock"):
        MIPRecommendationPolicy(net, model, 2, safety_stock="lots")
    wide = RecommendationModel(np.zeros((11, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="MAX_ALL_PATTERNS"):
        make_patterns(wide, "all", 2)
    few = RecommendationModel(np.zeros((3, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="at least N=3 customers"):
        make_patterns(few, "single", 2, anchors={})


def test_unsupported_network_is_refused():
    net, model = tiny()
    other = Network(
        nodes=net.nodes, edges=net.edges, name="late", order_timing="order-after-demand"
    )
    with pytest.raises(ValueError, match="order-before-demand"):
        solve_plan(other, model, 2)


def test_infeasible_model_raises_with_the_status():
    net, model = tiny(lead=0)  # orders capped at CAP per period
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mpc = MIPRecommendationPolicy(net, model, 2, safety_stock=100.0)
    with pytest.raises(SolverError, match="termination="):
        Simulation(net, 2, 0, RecommendationMarket(model)).run(mpc)


@pytest.mark.slow
def test_optimize_routes_recommendation_scenarios_and_verifies():
    from optimization.optimize import optimize, verify

    res = optimize(scenarios.make("recommendation-small"), bound_periods=20, bound_replications=2)
    assert res.objective == "profit"
    assert res.optimal.name == "perfect-information-bound"
    names = [b.name for b in res.policies]
    assert names == ["mip-mpc", "base-stock-uniform", "base-stock-popularity", "base-stock-margin"]
    for b in res.policies:
        assert b.value <= res.optimal.value + 1e-9
    rows = verify(res)
    assert all(r["simulated"] == pytest.approx(r["promised"]) for r in rows)
