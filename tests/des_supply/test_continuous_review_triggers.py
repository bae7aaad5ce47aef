"""Continuous time: what makes a node review (review="demand" | "arrival" | "event" | R),
and the (r, Q) policy's parameter names (reorder_point, quantity; r and Q as aliases)."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply import RQ, BaseStock
from des_supply.continuous import ContinuousSimulation, simulate_continuous
from des_supply.ledger import FIELDS
from des_supply.policy_registry import PolicyError, make_policy, policy_entry

TRIGGERS = ["demand", "arrival", "event", 2.5]


class Logged:
    """A policy that records (time, deciding nodes) at every review it answers."""

    def __init__(self, policy):
        self.policy, self.log = policy, []

    def act(self, obs):
        self.log.append((obs.t, obs.deciding))
        return self.policy.act(obs)


@pytest.fixture(scope="module")
def review():
    return scenarios.make("continuous-review", fixed_cost=20.0).network


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize(
    "name, policy",
    [
        ("continuous-review", RQ(9, 16)),
        ("continuous-owmr", BaseStock({"warehouse": 10, "r1": 2, "r2": 4, "r3": 8})),
    ],
)
def test_driven_from_outside_the_run_is_the_policy_run(name, policy, trigger):
    """Under every trigger, reset/act/advance answered by the policy gives run(policy)'s
    ledger bit for bit (the semi-Markov env's path)."""
    net = scenarios.make(name).network
    sim = ContinuousSimulation(net, 30.5, seed=3, review=trigger)
    obs = sim.reset()
    while obs is not None:
        obs = sim.step(policy.act(obs))
    outside = sim.ledger()
    inside = ContinuousSimulation(net, 30.5, seed=3, review=trigger).run(policy)
    for field in FIELDS:
        np.testing.assert_array_equal(outside[field], inside[field])


def test_receipts_do_not_move_the_position_so_rq_is_the_same_under_event(review):
    """A receipt leaves the inventory position as it was, so (r, Q) orders nothing at one:
    reviewing at demands and receipts ("event") gives the "demand" run exactly, with more
    reviews."""
    a, b = Logged(RQ(9, 16)), Logged(RQ(9, 16))
    demand = ContinuousSimulation(review, 200, seed=1).run(a)
    event = ContinuousSimulation(review, 200, seed=1, review="event").run(b)
    for field in FIELDS:
        np.testing.assert_array_equal(demand[field], event[field])
    receipts = demand.data["received"][:, 1].sum() / 16  # the stage's batches of 16
    assert len(b.log) == len(a.log) + receipts


def test_arrival_reviews_happen_at_receipts_only(review):
    """review="arrival": time 0, then one review per receipt (none after demands)."""
    policy = Logged(BaseStock(14))
    ledger = ContinuousSimulation(review, 50, seed=2, review="arrival").run(policy)
    times = [t for t, _ in policy.log]
    # an order of 14 at time 0 arrives at 2 (lead time 2); each receipt orders the demand
    # since the previous one, which arrives 2 later: reviews at 0, 2, 4, ...
    assert times == [2.0 * k for k in range(25)]
    ordered, demand = ledger.data["ordered"][:, 1], ledger.data["demand"][:, 1]
    assert ordered[0] == 14 and ordered[1:].sum() == demand[:48].sum()


def test_periodic_review_every_r_time_units(review):
    """review=R: every stocking node reviews at 0, R, 2R, ... and at nothing else; (R, S)
    base stock orders what was demanded since the last review."""
    policy = Logged(BaseStock(30))
    ledger = ContinuousSimulation(review, 20, seed=5, review=2.5, bucket=0.5).run(policy)
    assert [t for t, _ in policy.log] == [2.5 * k for k in range(8)]
    ordered = ledger.data["ordered"][:, 1]  # the stage (node 0 is the supplier); rows of 0.5
    demand = ledger.data["demand"][:, 1]
    assert set(np.flatnonzero(ordered)) <= set(range(0, 40, 5))  # at multiples of 2.5 only
    assert ordered[0] == 30 and ordered[1:].sum() == demand[:35].sum()


def test_periodic_review_costs_more_than_continuous_review():
    """Same customers (common random numbers), no fixed cost: reviewing every 2 time units
    with the same level leaves the stage short more often than reviewing at every demand."""
    review = scenarios.make("continuous-review")
    kw = dict(horizon=2000, replications=2, seed=3, warmup=100)
    continuous = simulate_continuous(review, BaseStock(14), **kw)
    periodic = simulate_continuous(review, BaseStock(14), review=2.0, **kw)
    assert periodic.mean > continuous.mean
    assert periodic.nodes["stage"].backlog > continuous.nodes["stage"].backlog


def test_bad_review_values_are_refused(review):
    for bad, match in (
        ("weekly", r"review\(='weekly'\) must be one of demand, arrival, event"),
        (0, r"review\(=0\) must be a number > 0"),
        (float("inf"), r"review\(=inf\)"),
        (True, r"review\(=True\)"),
    ):
        with pytest.raises(ValueError, match=match):
            ContinuousSimulation(review, 10, review=bad)


# -- (r, Q): reorder_point and quantity ------------------------------------------------------
def test_rq_takes_reorder_point_and_quantity_with_r_and_q_as_aliases():
    assert RQ(reorder_point=9, quantity=16) == RQ(9, 16) == RQ(r=9, Q=16)
    policy = RQ(reorder_point={"a": 1, "b": 2}, quantity=4)
    assert (policy.r, policy.Q) == ({"a": 1.0, "b": 2.0}, 4.0)
    assert repr(RQ(9, 16)) == "RQ(reorder_point=9.0, quantity=16.0)"
    with pytest.raises(ValueError, match="give reorder_point or its alias r, not both"):
        RQ(reorder_point=1, r=1, quantity=2)
    with pytest.raises(ValueError, match=r"quantity \(alias Q\) is missing"):
        RQ(reorder_point=1)
    with pytest.raises(ValueError, match=r"quantity Q\(=0.0\) must be > 0"):
        RQ(1, 0)
    with pytest.raises(ValueError, match=r"reorder_point r\(=nan\)"):
        RQ(float("nan"), 2)


def test_the_rq_entry_documents_reorder_point_and_quantity(review):
    entry = policy_entry("rq")
    assert entry.required == ("reorder_point", "quantity")
    assert [p.aliases for p in entry.params] == [("r",), ("Q",)]
    built = make_policy("rq", review, {"reorder_point": 9, "quantity": 16})
    assert built == make_policy("rq", review, {"r": 9, "Q": 16}) == RQ(9, 16)
    with pytest.raises(PolicyError, match="give quantity or its alias Q, not both"):
        make_policy("rq", review, {"r": 9, "quantity": 16, "Q": 16})
    with pytest.raises(PolicyError, match=r"needs parameter quantity .*alias Q"):
        make_policy("rq", review, {"reorder_point": 9})
