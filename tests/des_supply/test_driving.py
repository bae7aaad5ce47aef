"""The outside-agent path's per-step reads and the period hand-over, against the slow reads.

``Simulation.period_costs`` and ``Observation.state`` are what the env adapters read every
step (Python floats, no numpy, no flush); they must give the very numbers of the ledger
and of the one-number reads (``on_hand``, ``pipeline``, ...).  ``act_period`` answers a
period's epochs in one call and must give the ledger of ``act``/``advance``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import single
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import networks, policies

from des_supply import Action, BaseStock, Deterministic, Edge, Network, Node, Poisson, Simulation
from des_supply.ledger import COST_FIELDS, FIELDS
from des_supply.sim import FLUSH_PERIODS, DecisionError, cost_sums

COLUMNS = [FIELDS.index(f) for f in COST_FIELDS]


def _bits(rows) -> list[list[str]]:
    return [[float(x).hex() for x in row] for row in rows]


def _drive(sim: Simulation, policy, seed: int, check) -> None:
    """Answer every epoch from *policy* through act/advance, calling check(sim, obs) at each."""
    start = getattr(policy, "start_run", None)
    obs = sim.reset(seed)
    if callable(start):
        from des_supply.rng import stream

        start(stream(sim.root, "policy"))
    while obs is not None:
        check(sim, obs)
        sim.act(policy.act(obs))
        obs = sim.advance()


def _check_state(sim: Simulation, obs) -> None:
    for node in obs.nodes:
        n = 3
        expected = (
            obs.on_hand(node),
            obs.backlog(node),
            obs.on_order(node),
            obs.last_demand(node),
            *obs.pipeline(node, n),
        )
        assert [x.hex() for x in obs.state(node, n)] == [float(x).hex() for x in expected]
        assert obs.state(node) == expected[:4]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_period_costs_and_state_are_the_slow_reads(data):
    net = data.draw(networks(conventions=data.draw(st.booleans()), choice=True))
    policy = data.draw(policies(net))
    sim = Simulation(net, data.draw(st.integers(1, 40)), seed=data.draw(st.integers(0, 99)))
    costs = []

    keep = [data.draw(st.booleans()) for _ in net.nodes]

    def check(sim, obs):
        _check_state(sim, obs)
        for t in range(len(costs), sim.accounted):
            costs.append(sim.period_costs(t))
            for flags in (None, keep):  # the sums read from the buffer = the sums of the rows
                assert _bits(sim.period_cost_sums(t, flags)) == _bits(cost_sums(costs[t], flags))

    _drive(sim, policy, sim.root.entropy, check)
    costs.extend(sim.period_costs(t) for t in range(len(costs), sim.accounted))
    ledger = sim.ledger()
    assert sim.accounted == ledger.periods == len(costs)
    rows = np.stack([ledger[f] for f in FIELDS], axis=2)[:, :, COLUMNS]
    for t, period in enumerate(costs):
        assert _bits(period) == _bits(rows[t].tolist()), t


def test_period_costs_after_a_flush_and_with_fixed_rows():
    """Past FLUSH_PERIODS the rows come from the run's rows; supply nodes without capacity
    have fixed rows (their constants are not buffered)."""
    net = Network(
        (
            Node("plant", kind="supply", holding_cost=0.25),  # a fixed row
            Node("dc", holding_cost=0.5, initial_on_hand=20),
            Node("store", holding_cost=1, shortage_cost=9, demand=Poisson(4), initial_on_hand=8),
            Node("other", kind="supply", capacity=3),  # capacity: no fixed row
            Node("shop", holding_cost=1, shortage_cost=4, demand=Poisson(2), initial_on_hand=3),
            Node("spare", kind="supply"),  # a fixed row again
            Node("kiosk", holding_cost=2, shortage="lost", shortage_cost=5, demand=Poisson(1)),
        ),
        (
            Edge("plant", "dc", lead_time=2),
            Edge("dc", "store"),
            Edge("other", "shop", lead_time=1, unit_cost=0.5),
            Edge("spare", "kiosk", lead_time=3),
        ),
    )
    periods = FLUSH_PERIODS + 40
    sim = Simulation(net, periods, seed=3)
    obs = sim.reset()
    while obs is not None:
        obs = sim.step({n: 3.0 for n in obs.deciding})
    assert sim.accounted == periods
    got = [sim.period_costs(t) for t in range(periods)]
    keep = [n.kind == "stock" for n in net.nodes]  # skips the supply nodes' rows of zeros
    for t in range(periods):  # flushed periods and buffered ones
        for flags in (None, keep):
            assert _bits(sim.period_cost_sums(t, flags)) == _bits(cost_sums(got[t], flags))
    with pytest.raises(IndexError, match="not accounted"):
        sim.period_cost_sums(periods)
    ledger = sim.ledger()
    rows = np.stack([ledger[f] for f in FIELDS], axis=2)[:, :, COLUMNS]
    assert [_bits(p) for p in got] == [_bits(r.tolist()) for r in rows]
    with pytest.raises(IndexError, match="not accounted"):
        sim.period_costs(periods)


def test_period_costs_is_refused_for_running_summaries():
    sim = Simulation(single(initial_on_hand=5), 5)
    sim.run_summary(BaseStock(5))
    with pytest.raises(RuntimeError, match="running summaries"):
        sim.period_costs(0)


def _sequential() -> Network:
    return Network(
        (
            Node("plant", kind="supply"),
            Node("dc", holding_cost=0.5, initial_on_hand=20),
            Node("store", holding_cost=1, shortage_cost=9, demand=Poisson(4), initial_on_hand=8),
        ),
        (Edge("plant", "dc", lead_time=Deterministic(2)), Edge("dc", "store", lead_time=1)),
        decisions="sequential",
    )


def test_act_period_is_act_and_advance():
    net, policy = _sequential(), BaseStock({"dc": 14, "store": 9})
    a = Simulation(net, 60, seed=5)
    obs = a.reset()
    seen = []
    while obs is not None:
        seen.append(obs.deciding)
        a.act(policy.act(obs))
        obs = a.advance()
    assert seen[:2] == [("store",), ("dc",)]
    b = Simulation(net, 60, seed=5)
    obs, calls = b.reset(), []

    def decide(view):
        calls.append(view.deciding)
        return policy.act(view)

    while obs is not None:
        obs = b.act_period(decide)
    assert calls == seen
    for field in FIELDS:
        assert np.array_equal(a.ledger()[field], b.ledger()[field]), field


def test_act_period_refuses_a_bad_first_answer_before_anything_happens():
    sim = Simulation(_sequential(), 5, seed=1)
    obs = sim.reset()
    with pytest.raises(DecisionError, match="'dc' does not decide"):
        sim.act_period(lambda view: {"dc": 1.0})
    assert sim.observe() is obs and obs.deciding == ("store",)
    assert sim.act_period(lambda view: {n: 1.0 for n in view.deciding}).t == 1


@pytest.mark.parametrize("quantity", [True, np.bool_(True), "1", [1.0]])
def test_orders_that_are_no_numbers_are_refused_on_both_paths(quantity):
    """The inline check of dict answers lets through Python floats and ints only; the rest
    goes through the full check, on the policy path as on the outside one."""

    class Fixed:
        def act(self, obs):
            return {"store": quantity}

    net = single(initial_on_hand=5)
    with pytest.raises(DecisionError, match="'store'"):
        Simulation(net, 3).run(Fixed())
    sim = Simulation(net, 3)
    sim.reset()
    with pytest.raises(DecisionError, match="'store'"):
        sim.act({"store": quantity})


def test_numpy_numbers_are_orders():
    net = single(initial_on_hand=5)
    ledger = Simulation(net, 3).run(
        type("P", (), {"act": lambda self, obs: {"store": np.float32(2.0)}})()
    )
    assert ledger.column("ordered", "store").tolist() == [2.0, 2.0, 2.0]
    sim = Simulation(net, 3)
    sim.reset()
    sim.act(Action(orders={"store": np.int64(2)}))
    assert sim.advance().t == 1
