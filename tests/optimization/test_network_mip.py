"""The multi-period network MIP (optimization.network_mip) and the HiGHS adapter.

The central checks are *plan replays*: the MIP prices a plan exactly as the
engine's ledger does.  Either the MIP's own optimal plan is played in the engine
(``PlanPolicy``), or a random plan is played in the engine first and the orders
the engine actually placed are fixed in the MIP (``fix_plan``); both costs must
agree to 1e-6 on every network where the model is exact (see the module
docstring), and the MIP must never price a plan above the engine elsewhere.

Wagner-Whitin reference: Snyder & Shen, *Fundamentals of Supply Chain Theory*
(2nd ed.), Example 3.9: demand [90, 120, 80, 70], K = 500, h = 2 gives cost 1380
with orders [210, 0, 150, 0].
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from des_supply.distributions import Poisson, Shifted, Trace
from des_supply.evaluate import simulate
from des_supply.network import Edge, Network, Node
from des_supply.policies import BaseStock, EchelonBaseStock
from des_supply.sim import Simulation
from optimization.network_mip import (
    NetworkState,
    PlanPolicy,
    RollingHorizonPolicy,
    build_network_model,
    engine_draws,
    fix_plan,
    forecast_mean,
    perfect_information_bound,
    plan_of,
    shared_source_edges,
    state_from_observation,
    update_network_model,
)
from optimization.solve import OPTIMAL, SolverError, solve

pytestmark = pytest.mark.solver
TIMINGS = ("order-before-demand", "order-after-demand")
INF = float("inf")


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


class RandomOrders:
    """Random orders in [0, hi) (zero with probability 0.3) at every epoch."""

    def __init__(self, seed: int, hi: int = 15) -> None:
        self.rng, self.hi = np.random.default_rng(seed), hi

    def act(self, obs):
        return {
            n: 0.0 if self.rng.random() < 0.3 else float(self.rng.integers(0, self.hi))
            for n in obs.deciding
        }


def engine_cost(net: Network, periods: int, seed: int, policy) -> float:
    return float(Simulation(net, periods, seed).run(policy).cost().sum())


def price_engine_plan(net: Network, periods: int, seed: int, policy) -> tuple[float, float]:
    """(engine cost, MIP cost) of the orders the engine placed under *policy*."""
    ledger = Simulation(net, periods, seed).run(policy)
    plan = {n.name: tuple(ledger.column("ordered", n.name)) for n in net.stock_nodes}
    demand, leads = engine_draws(net, periods, seed)
    m = build_network_model(net, demand, leads, periods)
    fix_plan(m, plan)
    return float(ledger.cost().sum()), solve(m).objective


def one_stage(
    lead=1,
    shortage="backlog",
    timing="order-before-demand",
    K=0.0,
    demand=None,
    supply_capacity=INF,
    supply_shortage="backlog",
    **node,
) -> Network:
    demand = Poisson(5) if demand is None else demand
    node = {"holding_cost": 1.0, "shortage_cost": 9.0, "initial_on_hand": 7.0, **node}
    return Network(
        (
            Node(
                "sup",
                kind="supply",
                capacity=supply_capacity,
                shortage=supply_shortage,
                shortage_cost=2.0,
            ),
            Node("s", shortage=shortage, fixed_order_cost=K, demand=demand, **node),
        ),
        (Edge("sup", "s", lead_time=lead, unit_cost=0.3, transit_holding_cost=0.2),),
        name="one-stage",
        order_timing=timing,
    )


def three_stage(
    shortages=("backlog",) * 3,
    leads=(1, 0, 2),
    timing="order-before-demand",
    K=(3.0, 2.0, 1.0),
    demand=None,
    **extra,
) -> Network:
    """sup -> c -> b -> a (a faces demand); leads and shortages listed from a upstream."""
    demand = Poisson(5) if demand is None else demand
    names = ("a", "b", "c")
    nodes, edges = [Node("sup", kind="supply", **extra)], []
    for i in (2, 1, 0):
        nodes.append(
            Node(
                names[i],
                holding_cost=1 + 0.5 * i,
                shortage=shortages[i],
                shortage_cost=9.0 if i == 0 else 0.7 * i,
                fixed_order_cost=K[i],
                initial_on_hand=6.0,
                demand=demand if i == 0 else None,
            )
        )
        edges.append(
            Edge(
                "sup" if i == 2 else names[i + 1],
                names[i],
                lead_time=leads[i],
                transit_holding_cost=0.3,
                unit_cost=0.1,
            )
        )
    return Network(tuple(nodes), tuple(edges), name="three-stage", order_timing=timing)


def assembly(
    timing="order-before-demand",
    plant="backlog",
    retailer="backlog",
    component_lead=0,
    bom_b=2.0,
    demand=None,
) -> Network:
    net = scenarios.make("assembly").network
    nodes = []
    for n in net.nodes:
        if n.name == "plant":
            n = replace(n, shortage=plant)
        if n.name == "retailer":
            n = replace(n, shortage=retailer, demand=demand or n.demand)
        nodes.append(n)
    edges = tuple(
        replace(e, lead_time=component_lead) if e.target == "plant" else e for e in net.edges
    )
    edges = tuple(replace(e, bom=bom_b) if e.source == "component_b" else e for e in edges)
    return Network(tuple(nodes), edges, name="assembly", order_timing=timing)


# -- the HiGHS adapter ----------------------------------------------------------------------
def test_solve_reports_objective_bound_and_termination():
    m = pyo.ConcreteModel(name="tiny")
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.c = pyo.Constraint(expr=2 * m.x >= 3)
    m.o = pyo.Objective(expr=m.x)
    r = solve(m, time_limit=5)
    assert (r.objective, r.bound, r.termination, r.gap) == (2.0, 2.0, OPTIMAL, 0.0)
    assert r.optimal and "objective 2" in r.status and r.time >= 0
    assert pyo.value(m.x) == 2


def test_solve_raises_solver_error_on_infeasible_model():
    m = pyo.ConcreteModel(name="infeasible")
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(SolverError, match="termination=provenInfeasible") as info:
        solve(m)
    assert info.value.termination == "provenInfeasible"
    assert "best bound" in str(info.value)


def test_plan_above_capacity_makes_the_network_model_infeasible():
    """The engine would cut an order of 9 to the capacity of 5: as a fixed plan it is infeasible."""
    net = one_stage(capacity=5.0)
    m = build_network_model(net, {"s": [5, 5, 5]}, None, 3)
    fix_plan(m, {"s": [9, 0, 0]})
    with pytest.raises(SolverError, match="provenInfeasible"):
        solve(m)


# -- reference value -------------------------------------------------------------------------
@pytest.mark.parametrize("timing", TIMINGS)
def test_wagner_whitin_example_3_9(timing):
    """Snyder & Shen Example 3.9: cost 1380 and orders [210, 0, 150, 0] (lead time 0, no backlog).

    With lead time 0 the order arrives before the period's demand is served under
    both timings; a huge backlog penalty forbids shortages.
    """
    demand = (90.0, 120.0, 80.0, 70.0)
    net = Network(
        (
            Node("sup", kind="supply"),
            Node(
                "s",
                holding_cost=2.0,
                shortage_cost=1e6,
                fixed_order_cost=500.0,
                demand=Trace(demand),
            ),
        ),
        (Edge("sup", "s", lead_time=0),),
        order_timing=timing,
    )
    m = build_network_model(net, {"s": demand}, None, 4)
    r = solve(m)
    assert r.objective == pytest.approx(1380.0, abs=1e-6)
    assert r.bound == pytest.approx(1380.0, abs=1e-6)
    assert plan_of(m) == {"s": (210.0, 0.0, 150.0, 0.0)}
    assert engine_cost(net, 4, 0, PlanPolicy(plan_of(m))) == pytest.approx(1380.0, abs=1e-9)
    from optimization.wagner_whitin import wagner_whitin

    assert wagner_whitin(list(demand), fixed_cost=500, holding_cost=2).total_cost == 1380.0


# -- plan replay: the MIP's optimal plan costs the same in the engine -------------------------
REPLAY_NETWORKS = {
    **{
        f"one-stage L={L} {sh} K={K} {tm}": one_stage(
            L, sh, tm, K, demand=Trace((3, 8, 5, 0, 9, 4))
        )
        for L, sh, K, tm in itertools.product((0, 2), ("backlog", "lost"), (0.0, 25.0), TIMINGS)
    },
    **{
        f"three-stage {sh} {tm}": three_stage(sh, timing=tm, demand=Trace((4, 7, 2, 6)))
        for sh, tm in itertools.product([("backlog",) * 3, ("lost", "backlog", "lost")], TIMINGS)
    },
    **{
        f"assembly plant={p} {tm}": assembly(tm, plant=p, demand=Trace((5, 3, 6, 4, 8)))
        for p, tm in itertools.product(("backlog", "lost"), TIMINGS)
    },
    "one-stage storage+capacity+review": one_stage(
        2,
        demand=Trace((6, 2, 7)),
        storage_capacity=16.0,
        capacity=9.0,
        review_period=2,
        initial_pipeline=(0, 3, 4),
    ),
    "one-stage capacitated supplier": one_stage(1, demand=Trace((6, 2, 7)), supply_capacity=4.0),
}


@pytest.mark.parametrize("name", list(REPLAY_NETWORKS))
def test_optimal_plan_replays_to_the_same_engine_cost_deterministic(name):
    """Deterministic demand (Trace) and lead times: MIP objective == engine ledger cost."""
    net = REPLAY_NETWORKS[name]
    b = perfect_information_bound(net, 12, seed=0)
    assert b.termination == OPTIMAL
    assert b.bound <= b.objective + 1e-9
    assert close(engine_cost(net, 12, 0, PlanPolicy(b.orders)), b.objective)


@pytest.mark.parametrize(
    "net",
    [
        one_stage(Shifted(Poisson(1.0), 0), "lost", K=10.0),
        three_stage(("backlog", "lost", "backlog"), leads=(0, 1, 0), timing="order-after-demand"),
        assembly(plant="lost", retailer="lost"),
        scenarios.make("serial").network,
    ],
    ids=["one-stage-stochastic-lead", "three-stage-mixed", "assembly-lost", "serial-scenario"],
)
def test_optimal_plan_replays_to_the_same_engine_cost_on_seeded_draws(net):
    """Stochastic demand and lead times: the perfect-information plan, replayed on the same seed."""
    for seed in (0, 7):
        b = perfect_information_bound(net, 16, seed=seed)
        assert close(engine_cost(net, 16, seed, PlanPolicy(b.orders)), b.objective)


# -- fixed plans: the MIP prices any plan exactly as the engine --------------------------------
FIXED_NETWORKS = [
    *(
        one_stage(L, sh, tm, 5.0, capacity=9.0, storage_capacity=14.0, order_cost=0.5)
        for L, sh, tm in itertools.product((0, 1, 2), ("backlog", "lost"), TIMINGS)
    ),
    *(
        one_stage(L, sh, tm, supply_capacity=4.0, supply_shortage=ss)
        for L, sh, tm, ss in itertools.product(
            (0, 1), ("backlog", "lost"), TIMINGS, ("backlog", "lost")
        )
    ),
    *(
        three_stage(sh, leads, tm)
        for sh, leads, tm in itertools.product(
            itertools.product(("backlog", "lost"), repeat=3), ((1, 0, 2), (0, 0, 1)), TIMINGS
        )
    ),
    *(
        assembly(tm, p, r, bom_b=b)
        for tm, p, r, b in itertools.product(
            TIMINGS, ("backlog", "lost"), ("backlog", "lost"), (1.0, 2.0)
        )
    ),
    assembly(component_lead=1),
    scenarios.make("beer-game").network,
    scenarios.make("serial").network,
]


@settings(max_examples=25)
@given(index=st.integers(0, len(FIXED_NETWORKS) - 1), seed=st.integers(0, 2**32 - 1))
def test_random_plans_are_priced_exactly(index, seed):
    """Random orders played in the engine, then fixed in the MIP: identical cost."""
    net = FIXED_NETWORKS[index]
    eng, mip = price_engine_plan(net, 10, seed, RandomOrders(seed))
    assert close(mip, eng)


@pytest.mark.parametrize(
    "net",
    [
        scenarios.make("owmr", n_retailers=3).network,
        scenarios.make("random-dag", n_nodes=8, n_layers=3, extra_supplier_prob=0.6).network,
        scenarios.make(
            "random-dag", n_nodes=8, n_layers=3, extra_supplier_prob=0.6, shortage="lost"
        ).network,
    ],
    ids=["owmr", "random-dag", "random-dag-lost"],
)
def test_relaxed_networks_never_price_a_plan_above_the_engine(net):
    """Free allocation among customers and free sourcing (split/priority) relax the engine."""
    for seed in range(3):
        eng, mip = price_engine_plan(net, 10, seed, RandomOrders(seed, hi=12))
        assert mip <= eng + 1e-6


# -- bounds ---------------------------------------------------------------------------------
def test_engine_draws_are_the_simulations_draws():
    net = scenarios.make("random-dag", n_nodes=6, n_layers=2).network
    ledger = Simulation(net, 30, 11).run(BaseStock(12))
    demand, _ = engine_draws(net, 30, 11)
    for n, row in demand.items():
        assert np.array_equal(ledger.column("demand", n), row)


@pytest.mark.parametrize(
    "name, kw, policy",
    [
        ("single-stage", {}, BaseStock(14)),
        ("single-stage", {"shortage": "backlog", "fixed_cost": 10.0}, BaseStock(20)),
        ("serial", {}, EchelonBaseStock({"stage1": 6.5, "stage2": 12.0, "stage3": 22.5})),
    ],
    ids=["single-stage-lost", "single-stage-backlog-K", "serial"],
)
def test_bound_is_below_a_good_policy_on_the_same_draws(name, kw, policy):
    net = scenarios.make(name, **kw).network
    periods = 40
    res = simulate(net, policy, periods=periods, replications=3, seed=5)
    for k in range(3):
        b = perfect_information_bound(net, periods, seed=5, replication=k)
        relaxed = perfect_information_bound(
            net, periods, seed=5, replication=k, exact=False, integer=False
        )
        assert relaxed.bound <= b.bound + 1e-6 <= res.per_replication[k] * periods + 2e-6
        assert b.per_period_bound == pytest.approx(b.bound / periods)
        assert len(b.period_costs) == periods
        assert sum(b.period_costs) == pytest.approx(b.objective, rel=1e-9, abs=1e-9)


def test_bound_result_reports_the_plan_and_integrality():
    net = scenarios.make("single-stage").network
    b = perfect_information_bound(net, 10, seed=1)
    assert b.integer_orders and b.exact and set(b.orders) == {"stage"}
    assert all(float(q).is_integer() for q in b.orders["stage"])
    assert b.to_dict()["orders"]["stage"] == list(b.orders["stage"])
    cont = perfect_information_bound(scenarios.make("serial").network, 10, seed=1)
    assert not cont.integer_orders  # the serial scenario has continuous demand


def test_lead_times_are_mutable_within_the_window():
    net = one_stage(1, demand=Trace((5,)))
    m = build_network_model(
        net, {"s": [5] * 6}, {("sup", "s"): 1}, 6, lead_window={("sup", "s"): (0, 3)}
    )
    slow = solve(m).objective
    update_network_model(m, lead_times={("sup", "s"): [3] * 6})
    slower = solve(m).objective
    fresh = build_network_model(net, {"s": [5] * 6}, {("sup", "s"): 3}, 6)
    assert slower == pytest.approx(solve(fresh).objective) and slower > slow
    with pytest.raises(ValueError, match="outside the model's window"):
        update_network_model(m, lead_times={("sup", "s"): [4] * 6})


def test_state_and_demand_validation():
    net = one_stage(1)
    with pytest.raises(ValueError, match="no external demand"):
        build_network_model(net, {"sup": [1, 2]}, None, 2)
    with pytest.raises(ValueError, match="2 demand values"):
        build_network_model(net, {"s": [1, 2]}, None, 3)
    bad = NetworkState(on_hand={"s": 1.0}, pending={("sup", "s"): 3.0})
    with pytest.raises(ValueError, match="cannot backlog"):
        build_network_model(net, {"s": [1, 2]}, None, 2, bad)


def test_forecast_mean():
    assert forecast_mean(Poisson(4), 3, 2).tolist() == [4.0, 4.0]
    assert forecast_mean(Trace((1, 2, 3)), 1, 4).tolist() == [2.0, 3.0, 1.0, 2.0]
    assert forecast_mean(Shifted(Poisson(1), 2), 0, 1).tolist() == [3.0]


# -- rolling horizon ------------------------------------------------------------------------
def test_rolling_horizon_is_close_to_the_best_base_stock():
    """Single stage, backlog, Poisson(5), L=2, h=1, p=9: MPC with newsvendor safety stock."""
    net = scenarios.make("single-stage", shortage="backlog").network
    periods, seed = 300, 3
    best = min(engine_cost(net, periods, seed, BaseStock(S)) for S in range(12, 30))
    mpc = RollingHorizonPolicy(net, 8, safety_stock="auto")
    cost = engine_cost(net, periods, seed, mpc)
    assert cost <= 1.15 * best
    timing = mpc.timing()
    assert timing["epochs"] == periods and timing["mean"] < 0.5
    assert mpc.terminations == {OPTIMAL: periods}


def test_rolling_horizon_reuses_the_model_and_matches_a_fresh_build():
    net = scenarios.make("owmr", n_retailers=3).network
    seen = []

    class Checked(RollingHorizonPolicy):
        def act(self, obs):
            out = super().act(obs)
            state = state_from_observation(self.network, obs, self._S, self.leads, self._look)
            fresh = build_network_model(
                self.network,
                self._demand(obs.t),
                self.leads,
                self.horizon,
                state,
                integer=False,
                exact=False,
                start=obs.t,
                queue_penalty=self.queue_penalty,
            )
            seen.append((self.last_report.objective, solve(fresh).objective))
            return out

    policy = Checked(net, 8, safety_stock="auto")
    model = policy.model
    Simulation(net, 12, 2).run(policy)
    assert policy.model is model and len(seen) == 12
    assert all(a == pytest.approx(b, rel=1e-7, abs=1e-7) for a, b in seen)


def test_rolling_horizon_does_not_queue_at_a_shared_warehouse():
    """owmr: the engine serves the warehouse's retailers first come, first served, the model
    allocates freely.  Without the queue penalty the plans let requests queue at the
    warehouse and the engine gave the units to the oldest request: one retailer starved
    (7x the cost of echelon base stock, 149.6 against 21.8 a period); with it the MPC is
    within 25% of a good echelon base-stock policy on the same draws."""
    net = scenarios.make("owmr").network
    assert shared_source_edges(net) == [("warehouse", f"retailer{i}") for i in (1, 2, 3)]
    assert shared_source_edges(scenarios.make("serial").network) == []
    periods, seed = 200, 0
    # the levels optimize's echelon search finds on owmr (search_base_stock, echelon=True)
    echelon = EchelonBaseStock({"warehouse": 77, "retailer1": 16, "retailer2": 14, "retailer3": 14})
    reference = engine_cost(net, periods, seed, echelon)
    mpc = RollingHorizonPolicy(net, 7, safety_stock="auto")
    assert mpc.queue_penalty == pytest.approx(0.005)  # 1% of the warehouse's holding cost
    assert engine_cost(net, periods, seed, mpc) <= 1.25 * reference
    free = RollingHorizonPolicy(net, 7, safety_stock="auto", queue_penalty=0.0)
    assert engine_cost(net, periods, seed, free) > 2 * reference
    with pytest.raises(ValueError, match="queue_penalty"):
        build_network_model(net, {}, None, 4, queue_penalty=-1.0)


def beer_game(demand) -> Network:
    net = scenarios.make("beer-game").network
    nodes = tuple(replace(n, demand=demand) if n.name == "retailer" else n for n in net.nodes)
    return replace(net, nodes=nodes)


TAIL = Trace((4, 7, 2, 6, 3, 8, 1, 5, 6, 2) + (0,) * 12, after="hold")  # then no demand


@pytest.mark.parametrize(
    "net",
    [
        one_stage(1, demand=TAIL, supply_capacity=4.0, shortage_cost=3.0),
        three_stage(("lost", "backlog", "backlog"), (1, 0, 1), "order-after-demand", demand=TAIL),
        assembly(component_lead=0, bom_b=1.0, demand=TAIL),
        beer_game(TAIL),
    ],
    ids=["capacitated-supplier", "three-stage-mixed", "assembly-buffers", "beer-game"],
)
def test_rolling_horizon_reaches_the_optimum_when_the_forecast_is_exact(net):
    """Deterministic demand and lead times, exact integer re-solves: by the principle of
    optimality the policy's cost is the perfect-information optimum, provided the state it
    reads from the Observation is exact (in-transit, owed, buffers, supplier capacity).
    Ten periods of zero demand at the end keep the window from reaching past the run.

    The beer game is here because over-ordering pays there (its transit is free), which
    once made an over-tight order bound cut off the optimum."""
    periods, window = 20, 10
    b = perfect_information_bound(net, periods, seed=0)
    policy = RollingHorizonPolicy(net, window, integer=True, exact=True, rel_gap=1e-9)
    assert close(engine_cost(net, periods, 0, policy), b.objective)


@pytest.mark.parametrize("name", ["serial", "assembly", "beer-game"])
def test_rolling_horizon_runs_on_other_networks(name):
    net = scenarios.make(name).network
    ledger = Simulation(net, 15, 0).run(RollingHorizonPolicy(net, 10, safety_stock="auto"))
    assert np.isfinite(ledger.cost()).all()


def test_rolling_horizon_warns_when_the_horizon_is_too_short():
    net = scenarios.make("random-dag", n_nodes=10).network
    with pytest.warns(UserWarning, match="longest lead-time path"):
        RollingHorizonPolicy(net, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RollingHorizonPolicy(net, 14)
