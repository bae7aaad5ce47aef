"""The market hook: decision-dependent demand and prices plug into the engine's decision step."""

from __future__ import annotations

import numpy as np
import pytest

from des_supply import Action, Edge, Network, Node, Simulation
from des_supply.sim import DecisionError


class LinearMarket:
    """Poisson demand with mean ``a - b * price`` at one node; records what it saw."""

    def __init__(self, node: str, a: float, b: float) -> None:
        self.node, self.a, self.b = node, a, b
        self.seen: list[tuple[int, float, object]] = []

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen.clear()

    def draw(self, t, action, obs):
        price = action.prices.get(self.node, 0.0)
        self.seen.append((t, price, action.extra.get("tag")))
        return {self.node: float(self.rng.poisson(max(self.a - self.b * price, 0.0)))}


class PricePolicy:
    def __init__(self, price: float, level: float = 60.0) -> None:
        self.price, self.level = price, level

    def act(self, obs):
        orders = {n: max(0.0, self.level - obs.inventory_position(n)) for n in obs.deciding}
        return Action(orders=orders, prices={"shop": self.price}, extra={"tag": obs.t})


def shop(price: float = 0.0) -> Network:
    return Network(
        (
            Node("factory", kind="supply"),
            Node(
                "shop",
                holding_cost=0.1,
                shortage="lost",
                shortage_cost=1.0,
                price=price,
                initial_on_hand=60,
            ),
        ),
        (Edge("factory", "shop", lead_time=1),),
    )


def test_market_demand_follows_price_and_revenue_uses_it():
    periods = 4000
    low = Simulation(shop(1.0), periods, seed=5, market=LinearMarket("shop", 20, 2)).run(
        PricePolicy(2.0)
    )
    high = Simulation(shop(1.0), periods, seed=5, market=LinearMarket("shop", 20, 2)).run(
        PricePolicy(6.0)
    )
    d_low, d_high = low.column("demand", "shop"), high.column("demand", "shop")
    se = np.sqrt(16 / periods)
    assert abs(d_low.mean() - 16) < 4 * se and abs(d_high.mean() - 8) < 4 * np.sqrt(8 / periods)
    # revenue is price x units sold, at the price decided this period
    np.testing.assert_allclose(high.column("revenue", "shop"), 6.0 * high.column("sales", "shop"))
    assert low.objective == "profit"


def test_market_sees_the_current_action():
    market = LinearMarket("shop", 10, 1)
    Simulation(shop(), 5, seed=0, market=market).run(PricePolicy(3.0))
    assert [(t, p, tag) for t, p, tag in market.seen] == [(t, 3.0, t) for t in range(5)]


def test_negative_price_is_refused():
    with pytest.raises(DecisionError, match="price for node 'shop'"):
        Simulation(shop(), 3, seed=0, market=LinearMarket("shop", 10, 1)).run(PricePolicy(-1.0))
