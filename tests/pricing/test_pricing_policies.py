"""The pricing heuristics' rules on hand-built states, and in the engine."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import scenarios
from des_supply.policies import Action
from des_supply.pricing_policies import (
    SSP,
    ListPriceBaseStock,
    MyopicPricing,
    PricingContext,
    PricingState,
    one_period_profit,
)
from des_supply.sim import Simulation


def context(case: str = "a", **params) -> PricingContext:
    net, market = (
        scenarios.make(f"pricing-{case}", **params).network,
        scenarios.make_market(f"pricing-{case}", **params),
    )
    return PricingContext.of(net, market, "store")


def state(on_hand=0.0, backlog=0.0, on_order=0.0, o=35.0, r=35.0) -> PricingState:
    return PricingState(on_hand, backlog, on_order, o, r)


def test_context_reads_costs_grid_and_lead_time():
    ctx = context("d")
    assert (ctx.unit_cost, ctx.holding, ctx.penalty, ctx.fixed_cost, ctx.lost) == (
        10,
        0.5,
        5,
        50,
        True,
    )
    np.testing.assert_allclose(ctx.prices, 20 + 2.5 * np.arange(13))
    assert not ctx.lead_zero and context("a", lead_time=0).lead_zero
    assert (
        ctx.snap(41.0) == 40.0
        and ctx.snap(41.3) == 42.5
        and ctx.snap(99) == 50
        and ctx.snap(-1) == 20
    )


def test_bslp_rule():
    ctx = context()
    rule = ListPriceBaseStock(42.5, 9)
    assert rule.decide(state(on_hand=3, on_order=2), ctx) == (42.5, 4.0)
    assert rule.decide(state(backlog=2, on_order=1), ctx) == (42.5, 10.0)  # position -1
    assert rule.decide(state(on_hand=12), ctx) == (42.5, 0.0)
    with pytest.raises(ValueError, match="price"):
        ListPriceBaseStock(-1.0, 5)


def test_ssp_rule():
    ctx = context()
    rule = SSP(s=3, S=15, price=40.0, slope=0.5)
    # above s: no order, price rises with the gap to S: 40 + 0.5 * (15 - 7) = 44 -> 45 on the grid
    assert rule.decide(state(on_hand=7), ctx) == (45.0, 0.0)
    # at s: order up to S, then y = S: the base price
    assert rule.decide(state(on_hand=3), ctx) == (40.0, 12.0)
    assert rule.decide(state(backlog=4), ctx) == (40.0, 19.0)
    # far below: the price is capped by the grid
    assert SSP(-10, 15, 40.0, 2.0).decide(state(on_hand=0), ctx) == (50.0, 0.0)
    with pytest.raises(ValueError, match="S"):
        SSP(5, 4, 40.0)


def _brute_profit(ctx, x, o, r):
    """(p - c) E[sales] - h E(x - D)^+ - b E[short] by summing the Poisson pmf far out."""
    out = []
    for p in ctx.prices:
        lam = ctx.model.rate(float(p), float(o), float(r))
        d = np.arange(400)
        pmf = stats.poisson.pmf(d, lam)
        over = (np.maximum(x - d, 0) * pmf).sum()
        if ctx.lost:
            sold = (np.minimum(d, max(x, 0)) * pmf).sum()
            short = lam - sold
        else:
            sold = lam
            short = (np.maximum(d - x, 0) * pmf).sum()
        out.append((p - ctx.unit_cost) * sold - ctx.holding * over - ctx.penalty * short)
    return np.array(out)


@pytest.mark.parametrize(
    "case, x, o, r",
    [
        ("a", 5, 35, 35),
        ("a", -3, 45, 40),
        ("b", 0, 35, 35),
        ("b", 2, 27.5, 30),
        ("d", 12, 50, 42.5),
    ],
)
def test_myopic_price_maximises_the_one_period_profit(case, x, o, r):
    ctx = context(case)
    np.testing.assert_allclose(
        one_period_profit(ctx, x, o, r), _brute_profit(ctx, x, o, r), rtol=1e-9, atol=1e-9
    )
    price, order = MyopicPricing(10).decide(
        state(on_hand=max(x, 0), backlog=max(-x, 0), o=o, r=r), ctx
    )
    assert price == ctx.prices[np.argmax(_brute_profit(ctx, x, o, r))]
    assert order == max(0, 10 - x)


def test_myopic_undercuts_and_charges_more_when_stock_is_short():
    ctx = context("b")
    prices = [
        MyopicPricing(0).decide(state(on_hand=x, o=45.0, r=45.0), ctx)[0] for x in (1, 3, 6, 10, 30)
    ]
    assert prices == sorted(prices, reverse=True)  # more stock, lower (or equal) price
    assert prices[0] == 50.0  # one unit to sell: take the margin
    assert prices[1] == 42.5  # some stock: undercut the competitor by a step
    # with lead time 0 the order counts: stock after ordering up to 30
    ctx0 = context("b", lead_time=0)
    assert MyopicPricing(30).decide(state(on_hand=1, o=45.0, r=45.0), ctx0)[0] == prices[-1]


def test_policies_answer_with_prices_in_the_engine():
    net, market = scenarios.make("pricing-b").network, scenarios.make_market("pricing-b")
    seen = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def act(self, obs):
            a = self.inner.act(obs)
            seen.append((obs.t, a))
            return a

    Simulation(net, 6, seed=0, market=market).run(Spy(SSP(4, 20, 40.0, 0.25)))
    assert all(isinstance(a, Action) and set(a.prices) == {"store"} for _, a in seen)
    t0 = seen[0][1]
    assert t0.orders == {"store": 0.0}  # 10 on hand > s
    assert t0.prices["store"] == 42.5  # 40 + 0.25 * (20 - 10)


def test_pricing_policy_without_a_market_is_refused():
    net = scenarios.make("pricing-a").network
    with pytest.raises(ValueError, match="pricing market"):
        Simulation(net, 3, seed=0).run(MyopicPricing(5))
