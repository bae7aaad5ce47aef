"""The competitive market (Schlosser & Richly 2019 demand): mean demand, reference-price and
competitor dynamics, common random numbers, and the scenarios that carry it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import scenarios
from des_supply.evaluate import simulate
from des_supply.market import (
    BETA,
    CompetitiveMarket,
    Competitor,
    DemandModel,
    PriceGrid,
    market_of,
    poisson_ppf,
)
from des_supply.pricing_policies import ListPriceBaseStock, MyopicPricing
from des_supply.sim import Simulation


def logit_rate(p, o, r, eta=800.0, delta=1.0, beta=BETA, n=1):
    """Seed paper eq. (3) written out by hand."""
    rank = 1 + ((1 if o < p else 0) + (1 if o <= p else 0)) / 2
    x = [1, rank, p - o, n, (p + o) / 2, p - r]
    z = sum(b * v for b, v in zip(beta, x))
    return eta * delta * math.exp(z) / (1 + math.exp(z))


@pytest.mark.parametrize(
    "p, o, r",
    [(30, 35, 35), (35, 35, 35), (40, 35, 30), (20, 50, 45), (50, 20, 20), (37.5, 37.5, 41.3)],
)
def test_rate_is_the_logit_formula(p, o, r):
    model = DemandModel()
    assert model.rate(float(p), float(o), float(r)) == pytest.approx(logit_rate(p, o, r), rel=1e-12)
    arr = model.rate(np.array([p, p], dtype=float), o, r)  # array path agrees
    np.testing.assert_allclose(arr, logit_rate(p, o, r), rtol=1e-12)
    x = model.features(p, o, r)
    assert x[1] == (1.0 if p < o else 1.5 if p == o else 2.0)  # price rank
    other = DemandModel(eta=80.0, delta=0.5, n_competitors=2)
    assert other.rate(float(p), float(o), float(r)) == pytest.approx(
        logit_rate(p, o, r, eta=80, delta=0.5, n=2), rel=1e-12
    )


def test_rate_falls_with_price_and_jumps_at_the_competitor():
    m = DemandModel()
    prices = np.linspace(20, 50, 31)
    rates = m.rate(prices, 35.0, 35.0)
    assert np.all(np.diff(rates) < 0)
    below, tie, above = (
        m.rate(34.999, 35.0, 35.0),
        m.rate(35.0, 35.0, 35.0),
        m.rate(35.001, 35.0, 35.0),
    )
    assert below / tie == pytest.approx(math.exp(0.28), rel=5e-3)  # half a rank: 0.56 / 2
    assert tie / above == pytest.approx(math.exp(0.28), rel=5e-3)


def test_simulated_demand_mean_matches_the_formula():
    """Fixed competitor, no reference dynamics (memory 1): demand is Poisson(rate(p, o, r))."""
    params = dict(competitor="fixed", memory=1.0, list_price=35.0, comp_initial=40.0)
    net, market = (
        scenarios.make("pricing-b", **params).network,
        scenarios.make_market("pricing-b", **params),
    )
    periods = 20_000
    res = simulate(
        net, ListPriceBaseStock(30.0, 30), periods=periods, seed=3, market=market, keep_ledgers=True
    )
    demand = res.ledgers[0].column("demand", "store")
    lam = logit_rate(30, 40, 35)
    assert abs(demand.mean() - lam) < 4 * math.sqrt(lam / periods)
    assert abs(demand.var() - lam) < 0.1 * lam  # Poisson: var = mean


def test_poisson_inverse_cdf():
    rng = np.random.default_rng(0)
    for lam in (0.0, 0.3, 2.7, 9.0, 45.0, 900.0):
        for u in rng.random(50):
            assert poisson_ppf(u, lam) == (int(stats.poisson.ppf(u, lam)) if lam else 0)


def _run(market, prices, seed=0):
    """Drive *market* by hand with a price path; returns the states it went through."""

    class View:
        def __init__(self):
            self.p = 0.0

        def price(self, node):
            return self.p

    view = View()
    market.reset(np.random.default_rng(seed))
    states = [market.observation()]
    for t, p in enumerate(prices):
        view.p = p
        market.draw(t, None, view)
        states.append(market.observation())
    return states


def test_reference_price_smoothing_continuous():
    market = CompetitiveMarket("store", ref_step=0.0, ref_initial=35.0)
    prices = [40.0, 40.0, 22.5, 50.0, 30.0]
    states = _run(market, prices)
    r = 35.0
    for p, s in zip(prices, states[1:]):
        r = 0.9 * r + 0.1 * p
        assert s["reference_price"] == pytest.approx(r, abs=1e-12)


def test_reference_price_random_rounding_is_unbiased_on_the_grid():
    grid = PriceGrid(20.0, 50.0, 2.5)
    market = CompetitiveMarket("store", price_grid=grid, ref_step=2.5, ref_initial=35.0)
    ups = []
    for seed in range(4000):
        market.reset(np.random.default_rng(seed))
        r1 = market._next_reference(35.0, 47.5, market._period_uniforms(0)[3])
        assert r1 in (35.0, 37.5)
        ups.append(r1 == 37.5)
    # 0.9 * 35 + 0.1 * 47.5 = 36.25: half way between the grid points
    assert abs(np.mean(ups) - 0.5) < 4 * math.sqrt(0.25 / 4000)
    T = market.ref_transitions(grid.values, grid.values)
    np.testing.assert_allclose(T.sum(-1), 1.0)
    mean_next = T @ grid.values  # (P, R)
    expected = 0.9 * grid.values[None, :] + 0.1 * grid.values[:, None]
    np.testing.assert_allclose(mean_next, expected, atol=1e-9)


def test_undercutting_competitor():
    c = Competitor("undercut", low=20.0, high=50.0, step=2.5, react=1.0, initial=35.0)
    assert c.next(35.0, 40.0, 0.0, 0.0) == 37.5  # undercut by a step
    assert c.next(35.0, 60.0, 0.0, 0.0) == 50.0  # never above its bound
    assert c.next(35.0, 22.5, 0.0, 0.0) == 20.0  # down to its floor ...
    assert c.next(20.0, 20.0, 0.0, 0.0) == 50.0  # ... then it restarts high
    lazy = Competitor("undercut", react=0.8)
    assert lazy.next(35.0, 40.0, 0.79, 0.0) == 37.5 and lazy.next(35.0, 40.0, 0.81, 0.0) == 35.0
    states = _run(CompetitiveMarket("store", competitor=lazy), [45.0] * 300, seed=1)
    o = [s["competitor_price"] for s in states]
    k = o.index(42.5)
    assert set(o[:k]) == {35.0} and set(o[k:]) == {42.5}  # then it stays undercutting
    first = [
        [
            s["competitor_price"]
            for s in _run(CompetitiveMarket("store", competitor=lazy), [45.0] * 30, seed=k)
        ].index(42.5)
        for k in range(2000)
    ]
    # the first reaction is geometric with success probability 0.8
    assert abs(np.mean(first) - 1 / 0.8) < 4 * math.sqrt(0.2 / 0.64 / 2000)


def test_random_walk_competitor_stays_in_bounds_and_transitions_sum_to_one():
    c = Competitor("random-walk", low=20.0, high=50.0, step=2.5, react=0.6, initial=35.0)
    market = CompetitiveMarket("store", competitor=c)
    states = _run(market, [35.0] * 2000, seed=2)
    o = np.array([s["competitor_price"] for s in states])
    assert o.min() >= 20 and o.max() <= 50 and len(set(o)) > 3
    grid = 20.0 + 2.5 * np.arange(13)
    for rule in ("undercut", "random-walk", "fixed"):
        T = Competitor(rule).transitions(grid, grid)
        np.testing.assert_allclose(T.sum(-1), 1.0)
    with pytest.raises(ValueError, match="not on the grid"):
        Competitor("undercut", step=2.5).transitions(np.array([41.0]), grid)


def test_observation_and_market_of():
    market = scenarios.make_market("pricing-a")
    assert market.observation() == {"competitor_price": 35.0, "reference_price": 35.0}
    seen = []

    class Spy:
        def act(self, obs):
            seen.append((market_of(obs) is market, dict(market_of(obs).observation())))
            return MyopicPricing(8).act(obs)

    Simulation(scenarios.make("pricing-a").network, 5, seed=0, market=market).run(Spy())
    assert all(same for same, _ in seen) and len(seen) == 5
    assert seen[0][1] == {"competitor_price": 35.0, "reference_price": 35.0}


def test_same_seed_same_run_and_crn_across_policies():
    net = scenarios.make("pricing-a").network
    a = simulate(
        net,
        MyopicPricing(8),
        periods=300,
        seed=5,
        market=scenarios.make_market("pricing-a"),
        keep_ledgers=True,
    ).ledgers[0]
    b = simulate(
        net,
        MyopicPricing(8),
        periods=300,
        seed=5,
        market=scenarios.make_market("pricing-a"),
        keep_ledgers=True,
    ).ledgers[0]
    np.testing.assert_array_equal(a.profit(), b.profit())
    # two policies charging the same price see the same demand, whatever they order
    c = simulate(
        net,
        ListPriceBaseStock(40.0, 5),
        periods=300,
        seed=5,
        market=scenarios.make_market("pricing-b"),
        keep_ledgers=True,
    ).ledgers[0]
    d = simulate(
        net,
        ListPriceBaseStock(40.0, 12),
        periods=300,
        seed=5,
        market=scenarios.make_market("pricing-b"),
        keep_ledgers=True,
    ).ledgers[0]
    np.testing.assert_array_equal(c.column("demand", "store"), d.column("demand", "store"))


def test_backlogged_units_are_paid_at_the_price_of_their_period():
    net, market = (
        scenarios.make("pricing-a", initial_on_hand=0.0).network,
        scenarios.make_market("pricing-a"),
    )

    class Prices:
        def act(self, obs):
            from des_supply.policies import Action

            price = 50.0 if obs.t == 0 else 20.0
            return Action(orders={"store": 40.0 if obs.t == 1 else 0.0}, prices={"store": price})

    ledger = Simulation(net, 4, seed=1, market=market).run(Prices())
    d0 = ledger.column("demand", "store")[0]
    assert ledger.column("sales", "store")[0] == 0  # nothing on hand in period 0
    # the order of period 1 arrives in period 2: period 0's and 1's demand are paid then,
    # period 0's units at 50 and period 1's at 20
    d1 = ledger.column("demand", "store")[1]
    d2 = ledger.column("demand", "store")[2]
    assert ledger.column("revenue", "store")[2] == pytest.approx(50 * d0 + 20 * d1 + 20 * d2)


def test_scenarios_carry_their_market():
    assert scenarios.make_market("single-stage") is None
    m1, m2 = scenarios.make_market("pricing-c"), scenarios.make_market("pricing-c")
    assert isinstance(m1, CompetitiveMarket) and m1 is not m2
    net = scenarios.make("pricing-c").network
    assert net.node("store").fixed_order_cost == 50 and net.node("store").shortage == "backlog"
    assert scenarios.make("pricing-d").network.node("store").shortage == "lost"
    params = scenarios.parse_params(
        "pricing-a",
        ["eta=80", "beta=-3,-0.5,0,0,0,-0.02", "competitor=random-walk", "lead_time_max=3"],
    )
    market = scenarios.make_market("pricing-a", **params)
    assert market.model.eta == 80 and market.model.beta[-1] == -0.02
    assert market.competitor.rule == "random-walk"
    lead = scenarios.make("pricing-a", **params).network.edges[0].lead_time
    assert (lead.low, lead.high) == (1, 3)
    with pytest.raises(scenarios.ScenarioError, match="competitor rule"):
        scenarios.make_market("pricing-a", competitor="sleepy")
    with pytest.raises(scenarios.ScenarioError, match="list_price"):
        scenarios.make("pricing-a", list_price=80.0).network
