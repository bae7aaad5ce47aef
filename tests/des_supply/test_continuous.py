"""Continuous time: arrival processes, real lead times, continuous review, time-weighted costs.

Exact references (Palm's theorem for (S-1, S), g(r, Q) for (r, Q)) are checked against
replications within 4 standard errors; the properties (conservation, non-negative
ledgers, determinism, common random numbers) run on random networks turned continuous.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import networks, policies, seeds

import scenarios
from des_supply import (
    RQ,
    BaseStock,
    ConstantOrder,
    EchelonBaseStock,
    Edge,
    Network,
    NetworkError,
    Node,
    Simulation,
)
from des_supply.arrivals import (
    ArrivalTrace,
    CompoundPoisson,
    PoissonProcess,
    Renewal,
    arrival_from_dict,
)
from des_supply.batch import unsupported
from des_supply.continuous import ContinuousLedger, ContinuousSimulation, simulate_continuous
from des_supply.distributions import (
    ContinuousUniform,
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    Geometric,
    Lognormal,
    Poisson,
    Trace,
)
from des_supply.ledger import FIELDS
from des_supply.network import network_schema
from des_supply.problem import as_problem
from optimization._pmf import poisson_pmf
from optimization.continuous_review import base_stock_cost, loss_terms, rq_cost

TOL = 1e-6
SUPPLY = Node("s", kind="supply")


def single(demand, lead_time, **node) -> Network:
    node = {"holding_cost": 1.0, "shortage_cost": 9.0, **node}
    return Network(
        (SUPPLY, Node("a", demand=demand, **node)),
        (Edge("s", "a", lead_time=lead_time),),
        name="one",
        time="continuous",
    )


# -- random continuous networks ------------------------------------------------------------------
arrivals = st.one_of(
    st.floats(0.2, 4).map(PoissonProcess),
    st.builds(CompoundPoisson, st.floats(0.2, 3), st.sampled_from([Poisson(2), Geometric(1.5)])),
    st.builds(
        Renewal,
        st.sampled_from([Gamma(0.7, 3), ContinuousUniform(0.1, 1), Deterministic(0.5)]),
        st.sampled_from([Deterministic(1), Deterministic(2.5)]),
    ),
)
real_leads = st.sampled_from(
    [
        Deterministic(0),
        Deterministic(0.75),
        Exponential(1.2),
        Gamma(2, 4),
        Lognormal(1, 0.5),
        Empirical((0.5, 1.5, 3.0)),
    ]
)


@st.composite
def continuous_networks(draw, assembly: bool = True) -> Network:
    """A random periodic network turned continuous: arrival processes instead of demand per
    period, real lead times, no per-period capacities or review periods."""
    net = draw(networks(assembly=assembly))
    nodes = []
    for n in net.nodes:
        if n.kind == "supply":
            nodes.append(dataclasses.replace(n, capacity=math.inf))
            continue
        nodes.append(
            dataclasses.replace(
                n,
                capacity=math.inf,
                shipping_capacity=math.inf,
                review_period=1,
                review_offset=0,
                demand=draw(arrivals) if n.demand is not None else None,
            )
        )
    edges = [
        dataclasses.replace(e, lead_time=draw(real_leads), sequential=draw(st.booleans()))
        for e in net.edges
    ]
    return Network(
        tuple(nodes), tuple(edges), name=net.name, continuous=net.continuous, time="continuous"
    )


horizons = st.floats(3, 25).map(lambda x: round(x, 2))


def _run(data, net: Network) -> tuple[ContinuousSimulation, ContinuousLedger]:
    sim = ContinuousSimulation(
        net,
        data.draw(horizons),
        seed=data.draw(seeds),
        bucket=data.draw(st.sampled_from([0.5, 1.0, 2.0])),
    )
    return sim, sim.run(data.draw(policies(net)))


@settings(max_examples=40)
@given(st.data())
def test_unit_conservation_per_row_and_network_wide(data):
    net = data.draw(continuous_networks(assembly=False))
    sim, ledger = _run(data, net)
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=TOL)
    supplied = sum(ledger.column("shipped", n.name).sum() for n in net.nodes if n.kind == "supply")
    initial = sum(n.initial_on_hand + sum(n.initial_pipeline) for n in net.nodes)
    assert supplied + initial == pytest.approx(
        ledger["sales"].sum() + sim.units_in_network(), rel=1e-9, abs=TOL
    )
    assert sim.units_in_network() == pytest.approx(
        ledger["on_hand"][-1].sum() + ledger["in_transit"][-1].sum(), abs=TOL
    )


@settings(max_examples=40)
@given(st.data())
def test_ledgers_are_never_negative_and_costs_are_the_time_integrals(data):
    net = data.draw(continuous_networks())
    sim, ledger = _run(data, net)
    for field in FIELDS:
        assert ledger[field].min() >= -TOL, field
    assert ledger.horizon == pytest.approx(sim.horizon)
    assert ledger.periods == math.ceil(sim.horizon / sim.bucket - 1e-9)
    dur = ledger.durations[:, None]
    h = np.array([n.holding_cost for n in net.nodes])
    np.testing.assert_allclose(
        ledger["holding_cost"], h * ledger.time_average["on_hand"] * dur, rtol=1e-9, atol=TOL
    )
    owed = np.array([n.shortage_cost if n.shortage == "backlog" else 0.0 for n in net.nodes])
    backlog_part = np.where(
        [n.shortage == "backlog" for n in net.nodes], ledger["shortage_cost"], 0.0
    )
    np.testing.assert_allclose(
        backlog_part, owed * ledger.time_average["backlog"] * dur, rtol=1e-9, atol=TOL
    )


@settings(max_examples=25)
@given(st.data())
def test_same_seed_same_ledger_and_policies_see_the_same_customers(data):
    net = data.draw(continuous_networks())
    horizon, seed = data.draw(horizons), data.draw(seeds)
    a, b = data.draw(policies(net)), data.draw(policies(net))
    first = ContinuousSimulation(net, horizon, seed).run(a)
    again = ContinuousSimulation(net, horizon, seed).run(a)
    for field in FIELDS:
        np.testing.assert_array_equal(first[field], again[field])
    other = ContinuousSimulation(net, horizon, seed).run(b)
    np.testing.assert_array_equal(first["demand"], other["demand"])  # common random numbers


# -- the engine on small cases ---------------------------------------------------------------------
def test_a_trace_gives_the_textbook_trajectory():
    """Base stock 2, lead time 1.5, unit demands at 0.5, 1.0, 3.0: each demand orders one unit
    that arrives 1.5 later; the second demand empties the stock until 2.0."""
    net = single(ArrivalTrace((0.5, 1.0, 3.0)), 1.5, initial_on_hand=2)
    ledger = ContinuousSimulation(net, 5, seed=0, path=True).run(BaseStock(2))
    path = ledger.path
    a = 1
    assert path["time"].tolist() == [0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 4.5]
    assert path["on_hand"][:, a].tolist() == [2, 1, 0, 1, 2, 1, 2]
    assert (path["inventory_position"][:, a] == 2).all()
    # on hand over time: 2 on [0,.5), 1 on [.5,1), 0 on [1,2), 1 on [2,2.5), 2 on [2.5,3),
    # 1 on [3,4.5), 2 on [4.5,5]: integral 1 + .5 + 0 + .5 + 1 + 1.5 + 1 = 5.5
    assert ledger["holding_cost"][:, a].sum() == pytest.approx(5.5)
    assert ledger["demand"][:, a].tolist() == [1, 1, 0, 1, 0]  # rows are [k, k + 1)
    assert ledger["served"][:, a].sum() == 3 and ledger["backlog"][:, a].max() == 0


def test_backlog_accrues_per_unit_time_and_fixed_costs_per_order():
    """No stock, lead time 2: a demand at 0.25 is owed until 2.25 (cost 9 x 2)."""
    net = single(ArrivalTrace((0.25,)), 2.0, fixed_order_cost=5.0)
    ledger = ContinuousSimulation(net, 4, seed=0).run(BaseStock(0))
    a = 1
    assert ledger["shortage_cost"][:, a].sum() == pytest.approx(18.0)
    assert ledger["fixed_cost"][:, a].sum() == 5.0 and ledger["ordered"][:, a].sum() == 1
    assert ledger.time_average["backlog"][:, a].tolist() == pytest.approx([0.75, 1, 0.25, 0])
    assert ledger["served"].sum() == 0 and ledger["sales"][:, a].sum() == 1


def test_in_transit_holding_accrues_per_unit_time():
    """Base stock 3 from nothing: 3 units travel for 2.5 time units at 0.4 per unit and unit
    time (cost 3.0); the time-average in transit over [0, 4) is 3 x 2.5 / 4."""
    net = Network(
        (SUPPLY, Node("a", demand=ArrivalTrace((10.0,)))),
        (Edge("s", "a", lead_time=2.5, transit_holding_cost=0.4),),
        time="continuous",
    )
    ledger = ContinuousSimulation(net, 4, seed=0, bucket=4).run(BaseStock(3))
    assert ledger["transit_cost"][:, 1].sum() == pytest.approx(3.0)
    assert ledger.time_average["in_transit"][0, 1] == pytest.approx(3 * 2.5 / 4)
    assert ledger["on_hand"][-1, 1] == 3 and ledger["in_transit"][-1, 1] == 0


def test_lost_sales_cost_per_unit_lost():
    net = single(
        ArrivalTrace((1.0, 1.0, 2.0), (3.0, 1.0, 2.0)), 10.0, shortage="lost", initial_on_hand=2
    )
    ledger = ContinuousSimulation(net, 3, seed=0).run(ConstantOrder(0))
    assert ledger["lost"][:, 1].sum() == 4 and ledger["shortage_cost"][:, 1].sum() == 36
    assert ledger["sales"][:, 1].sum() == 2


class _Recording(ContinuousSimulation):
    """Records each shipment's drawn due time (send time + lead time) and each arrival."""

    def reset_state(self, seed):
        super().reset_state(seed)
        self.dues, self.arrivals = [], []
        sim = self

        class Leads:
            def __init__(self, draws):
                self.draws = draws

            def next(self):
                lead = self.draws.next()
                sim.dues.append(sim.env.now + lead)
                return lead

        self._leads = {e: Leads(d) for e, d in self._leads.items()}

    def _arrive(self, e, q, t):
        self.arrivals.append(t)
        super()._arrive(e, q, t)


@pytest.mark.parametrize("sequential", [False, True])
def test_lead_times_cross_unless_the_edge_is_sequential(sequential):
    """Crossing: shipments arrive at their drawn due times, in any order; sequential: each
    waits for the one sent before it (the running maximum of the due times)."""
    net = Network(
        (SUPPLY, Node("a", demand=PoissonProcess(4.0))),
        (Edge("s", "a", lead_time=Exponential(3.0), sequential=sequential),),
        time="continuous",
    )
    sim = _Recording(net, 60, seed=5)
    sim.run(BaseStock(12))
    dues = np.array(sim.dues)
    expected = np.maximum.accumulate(dues) if sequential else np.sort(dues)
    expected = expected[expected < 60]
    np.testing.assert_allclose(sim.arrivals, expected)
    assert sequential or (np.diff(dues) < 0).any()  # some did cross


def test_reviews_cascade_up_a_serial_chain():
    """(S-1, S) everywhere: every demand at the store is replenished by the dc, and the dc
    by the plant, so the dc's position stays at its level."""
    net = Network(
        (
            SUPPLY,
            Node("dc", holding_cost=0.5, initial_on_hand=6),
            Node(
                "store",
                holding_cost=1,
                shortage_cost=9,
                demand=PoissonProcess(2),
                initial_on_hand=3,
            ),
        ),
        (Edge("s", "dc", lead_time=1.0), Edge("dc", "store", lead_time=0.5)),
        time="continuous",
    )
    sim = ContinuousSimulation(net, 50, seed=2)
    ledger = sim.run(BaseStock({"dc": 6, "store": 3}))
    assert ledger.column("ordered", "dc").sum() == ledger.column("ordered", "store").sum()
    assert ledger.column("ordered", "store").sum() == ledger.column("demand", "store").sum()
    assert sim._obs.inventory_position("dc") == 6 and sim._obs.inventory_position("store") == 3


def test_echelon_base_stock_reviews_upstream_at_every_demand_downstream():
    """Echelon positions change with every external demand below a node: the dc reviews after
    each demand at the store, so its echelon position stays at its echelon level."""
    net = Network(
        (
            SUPPLY,
            Node("dc", holding_cost=0.5),
            Node(
                "store", holding_cost=1, shortage_cost=9, demand=CompoundPoisson(2, Geometric(1.0))
            ),
        ),
        (Edge("s", "dc", lead_time=Exponential(1.0)), Edge("dc", "store", lead_time=0.5)),
        time="continuous",
    )
    sim = ContinuousSimulation(net, 30, seed=4)
    ledger = sim.run(EchelonBaseStock({"dc": 9, "store": 3}))
    assert ledger.column("demand", "store").sum() > 0
    assert sim._obs.echelon_inventory_position("dc") == 9
    assert sim._obs.echelon_inventory_position("store") == 3
    # the dc's orders replace the store's demand one for one (after the initial 9)
    assert ledger.column("ordered", "dc").sum() == 9 + ledger.column("demand", "store").sum()


def test_warmup_and_horizon_in_time_units():
    problem = scenarios.make("continuous-review")
    res = simulate_continuous(
        problem, BaseStock(14), horizon=30.5, warmup=2, seed=1, keep_ledgers=True
    )
    ledger = res.ledgers[0]
    assert ledger.durations.tolist() == [1.0] * 30 + [0.5]
    assert res.horizon == 30.5 and res.warmup == 2
    kept = slice(2, None)
    cost = sum(ledger[f][kept].sum() for f in ("holding_cost", "shortage_cost"))
    assert res.mean == pytest.approx(cost / 28.5)
    with pytest.raises(ValueError, match=r"warmup\(=2.5\) must be a multiple of bucket\(=1.0\)"):
        simulate_continuous(problem, BaseStock(14), horizon=30, warmup=2.5)


# -- exact references ------------------------------------------------------------------------------
def _within(results, exact: float, k: float = 4.0) -> None:
    se = results.per_replication.std(ddof=1) / math.sqrt(results.replications)
    assert abs(results.mean - exact) < k * se + 1e-9, (results.mean, exact, se)


@pytest.mark.parametrize(
    "lead_time",
    [Exponential(2.0), Gamma(2.0, 3.0), Deterministic(2.0)],
    ids=["exponential", "gamma", "deterministic"],
)
def test_palm_outstanding_orders_are_poisson_whatever_the_lead_time(lead_time):
    """(S-1, S), i.i.d. lead times of mean 2, rate 3: orders outstanding ~ Poisson(6), so the
    time-average on hand and backlog are E[(S-D)^+] and E[(D-S)^+] (Palm 1938)."""
    rate, S = 3.0, 7
    net = single(PoissonProcess(rate), lead_time, initial_on_hand=S)
    res = simulate_continuous(net, BaseStock(S), horizon=1500, warmup=20, replications=6, seed=3)
    over, under = loss_terms(poisson_pmf(rate * 2.0), np.array([S]))
    node = res.nodes["a"]
    assert node.in_transit == pytest.approx(rate * 2.0, rel=0.04)
    assert node.on_hand == pytest.approx(over[0], rel=0.05)
    assert node.backlog == pytest.approx(under[0], rel=0.1)
    _within(res, base_stock_cost(S, rate=rate, mean_lead_time=2.0, holding=1, penalty=9))


def test_palm_time_weighted_distribution_of_outstanding_orders():
    """The fraction of time with k orders outstanding is the Poisson(6) pmf (gamma lead times)."""
    rate = 3.0
    net = single(PoissonProcess(rate), Gamma(2.0, 0.5), initial_on_hand=5)
    ledger = ContinuousSimulation(net, 3000, seed=11, path=True).run(BaseStock(5))
    p = ledger.path
    start = np.searchsorted(p["time"], 50.0)
    times, outstanding = (
        p["time"][start:],
        p["inventory_position"][start:, 1] - (p["on_hand"][start:, 1] - p["backlog"][start:, 1]),
    )
    weights = np.diff(np.append(times, 3000.0))
    share = np.bincount(np.rint(outstanding).astype(int), weights=weights, minlength=15)[:15]
    np.testing.assert_allclose(share / weights.sum(), poisson_pmf(6.0)[:15], atol=0.02)


def test_rq_with_poisson_demand_and_constant_lead_time_costs_g_r_q():
    """g(r, Q) = [K lambda + sum G(y)] / Q (Hadley-Whitin; Snyder & Shen ch. 5)."""
    problem = scenarios.make(
        "continuous-review", demand_rate=5, lead_time=2, holding=1, penalty=9, fixed_cost=20
    )
    res = simulate_continuous(problem, RQ(9, 16), horizon=1500, warmup=20, replications=6, seed=4)
    _within(res, rq_cost(9, 16, rate=5, lead_time=2, holding=1, penalty=9, fixed_cost=20))


# -- refusals, files, arrival processes ------------------------------------------------------------
def test_each_engine_refuses_the_other_time_and_the_batch_engine_refuses_continuous():
    net = single(PoissonProcess(2), 1.5)
    with pytest.raises(
        ValueError,
        match=r"time='continuous': simulate it with "
        r"des_supply.continuous.ContinuousSimulation",
    ):
        Simulation(net, 10)
    periodic = Network((SUPPLY, Node("a", demand=Poisson(2))), (Edge("s", "a"),))
    with pytest.raises(ValueError, match=r"time='periodic'"):
        ContinuousSimulation(periodic, 10)
    assert unsupported(net) == "network setting time='continuous'"
    assert as_problem(net).describe()["time"] == "continuous"


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(capacity=5), r"node 'a' \(time='continuous'\): capacity\(=5\) is per period"),
        (dict(review_period=2), r"node 'a' \(time='continuous'\): review_period"),
        (dict(demand=Poisson(2)), r"node 'a' \(time='continuous'\): demand must be an arrival"),
    ],
)
def test_continuous_networks_refuse_periodic_settings(change, match):
    node = Node("a", **{"demand": PoissonProcess(2), **change})
    with pytest.raises(NetworkError, match=match):
        Network((SUPPLY, node), (Edge("s", "a", lead_time=1.5),), time="continuous")


def test_periodic_networks_refuse_arrival_processes_and_real_lead_times():
    with pytest.raises(
        NetworkError,
        match=r"node 'a': demand is an arrival process "
        r"\(poisson_process\); arrival processes need",
    ):
        Network((SUPPLY, Node("a", demand=PoissonProcess(2))), (Edge("s", "a"),))
    with pytest.raises(NetworkError, match=r"real lead times need time='continuous'"):
        Network((SUPPLY, Node("a", demand=Poisson(2))), (Edge("s", "a", lead_time=Gamma(2, 2)),))
    with pytest.raises(NetworkError, match=r"time\(='hourly'\) must be one of periodic, "):
        Network((SUPPLY, Node("a")), (Edge("s", "a"),), time="hourly")


@pytest.mark.parametrize(
    "demand",
    [
        PoissonProcess(2.5),
        CompoundPoisson(1.5, Geometric(2)),
        Renewal(Lognormal(0.4, 0.2), Poisson(3)),
        ArrivalTrace((0.0, 1.5, 2.25), (1, 4, 2)),
    ],
)
def test_continuous_networks_round_trip_json_networkx_and_match_the_schema(demand):
    jsonschema = pytest.importorskip("jsonschema")
    net = single(demand, ContinuousUniform(0.5, 2.5))
    data = json.loads(net.to_json())
    assert data["time"] == "continuous" and data["format_version"] == 1
    assert Network.from_dict(data) == net
    assert Network.from_networkx(net.to_networkx()) == net
    validator = jsonschema.Draft202012Validator(network_schema())
    assert list(validator.iter_errors(data)) == []
    periodic = {**data, "time": "periodic"}  # arrival processes and real lead times refused
    assert list(validator.iter_errors(periodic))
    with pytest.raises(NetworkError):
        Network.from_dict(periodic)


def test_arrival_processes_have_their_rates():
    rng = np.random.default_rng(0)
    for process, rate in (
        (PoissonProcess(4), 4),
        (CompoundPoisson(2, Poisson(3)), 6),
        (Renewal(Gamma(0.5, 2), Deterministic(2)), 4),
    ):
        sampler = process.sampler(rng)
        draws = np.array([sampler.next() for _ in range(20000)])
        assert draws[:, 1].sum() / draws[:, 0].sum() == pytest.approx(rate, rel=0.03)
        assert process.mean == pytest.approx(rate)
        assert arrival_from_dict(process.to_dict()) == process


def test_arrival_trace_from_csv(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("time,units\n0.5,2\n1.25,1\n4,3\n")
    trace = ArrivalTrace.from_csv(path, time="time", size="units")
    assert trace == ArrivalTrace((0.5, 1.25, 4.0), (2, 1, 3))
    sampler = trace.sampler(np.random.default_rng(0))
    assert [sampler.next() for _ in range(4)] == [(0.5, 2), (0.75, 1), (2.75, 3), None]
    with pytest.raises(ValueError, match="non-decreasing"):
        ArrivalTrace((2.0, 1.0))
    with pytest.raises(ValueError, match=r"size must be a stationary distribution, not 'trace'"):
        CompoundPoisson(2.0, Trace((1.0, 2.0)))


def test_continuous_review_scenario_parameters():
    spec = scenarios.get("continuous-review")
    assert spec.time == "continuous"
    assert set(spec.parameters) >= {
        "demand_rate",
        "lead_time",
        "lead_time_dist",
        "holding",
        "penalty",
        "fixed_cost",
        "shortage",
    }
    net = scenarios.make("continuous-review", lead_time_dist="gamma", lead_time=3).network
    assert net.edges[0].lead_time == Gamma(3, 2) and net.time == "continuous"
    with pytest.raises(scenarios.ScenarioError, match="lead_time_dist='weibull'"):
        scenarios.make("continuous-review", lead_time_dist="weibull")


def test_continuous_owmr_scenario_is_graves_system():
    """The scenario's network: plant -> warehouse -> r1..rN, Poisson demand at the retailers,
    constant lead times; (S-1, S) everywhere keeps every position at its level."""
    problem = scenarios.make(
        "continuous-owmr",
        retailer_rates=(2.0, 1.0),
        retailer_lead_times=(0.5, 1.5),
        warehouse_lead_time=1.0,
    )
    net = problem.network
    assert [n.name for n in net.nodes] == ["plant", "warehouse", "r1", "r2"]
    assert net.node("r2").demand == PoissonProcess(1.0) and net.time == "continuous"
    assert [e.lead_time.constant for e in net.edges] == [1.0, 0.5, 1.5]
    sim = ContinuousSimulation(net, 40, seed=1)
    ledger = sim.run(BaseStock({"warehouse": 4, "r1": 3, "r2": 2}))
    np.testing.assert_allclose(ledger.conservation_residual(), 0.0, atol=TOL)
    positions = [sim._obs.inventory_position(n) for n in ("warehouse", "r1", "r2")]
    assert positions == [4, 3, 2]
    with pytest.raises(scenarios.ScenarioError, match="one value per retailer"):
        scenarios.make("continuous-owmr", retailer_rates=(1.0,), retailer_lead_times=(1.0, 2.0))


@pytest.mark.parametrize(
    "name, policy",
    [
        ("continuous-review", RQ(9, 16)),
        ("continuous-owmr", BaseStock({"warehouse": 10, "r1": 2, "r2": 4, "r3": 8})),
    ],
)
def test_driven_from_outside_the_run_is_the_policy_run(name, policy):
    """reset/act/advance (one epoch per review, the semi-Markov env's path) answered by the
    policy gives run(policy)'s ledger bit for bit; accrued_cost never decreases and ends at
    the ledger's total."""
    net = scenarios.make(name).network
    sim = ContinuousSimulation(net, 40.5, seed=3)
    obs, costs, times = sim.reset(), [], []
    with pytest.raises(RuntimeError, match="before advance"):
        sim.advance()
    while obs is not None:
        times.append(obs.t)
        obs = sim.step(policy.act(obs))
        costs.append(sim.accrued_cost())
    assert sim.done and len(times) > 100 and times == sorted(times)
    with pytest.raises(RuntimeError, match="not at a decision epoch"):
        sim.act({})
    outside, inside = sim.ledger(), ContinuousSimulation(net, 40.5, seed=3).run(policy)
    for field in FIELDS:
        np.testing.assert_array_equal(outside[field], inside[field])
    assert (np.diff(costs) >= -1e-9).all()
    assert costs[-1] == pytest.approx(inside.cost().sum(), rel=1e-12)
