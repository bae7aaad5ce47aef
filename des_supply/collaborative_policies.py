"""Heuristic reference policies for collaborative problems (:mod:`des_supply.collaborative`).

:class:`CollaborativeBaseStock` decides the four things the seed paper's Section VII
decides together, each by a classic rule:

* **ordering and production** (``U``, ``Q``): order up to level ``S_i`` in inventory
  position (stock on hand minus backlog plus everything on order from every supplier),
  the quantity filled from the suppliers in order of unit cost (the edge's ``unit_cost``), each up to its capacity per period, the rest from the last
  (uncapacitated) one: cheap, slow and capacitated methods first, the fast expensive
  ones for what they cannot make;
* **pricing** (``P``): a constant price per item, ``price_factor`` times its list price;
* **recommendation** (``K``): the static intensities that maximise the expected margin
  per period at those prices, ``sum_i (p_i - c_i) pi_i(p_i) E[picks of i](alpha)``, with
  ``c_i`` the cheapest unit cost (:class:`~des_supply.recommendation_policies.MarginRecommender`),
  or uniform intensities (``recommend="uniform"``).

It ignores what is in stock when it prices and recommends: the gap between it and a
policy that coordinates the four decisions is what coordination is worth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .collaborative import CollaborativeMarket
from .policies import Action, PerNode, value_for
from .policy_registry import Param, register_policy
from .recommendation import KEY
from .recommendation_policies import MarginRecommender

if TYPE_CHECKING:
    from .network import Network
    from .problem import Problem
    from .sim import Observation

__all__ = ["CollaborativeBaseStock", "cheapest_unit_cost", "supplier_costs"]


def supplier_costs(network: Network, item: str) -> list[tuple[float, str, float]]:
    """*item*'s suppliers as (unit cost of the edge, supplier name, capacity per period),
    cheapest first (capacity ``inf`` when the supplier has none; ties broken by name)."""
    out = []
    for edge in network.suppliers(item):
        out.append((float(edge.unit_cost), edge.source, float(network.node(edge.source).capacity)))
    return sorted(out)


#: Margin-optimal intensities by (model, margins): a pure function, solved once per process
#: (a search builds many policies on the same problem; every run copies the market).
_MARGIN_OPTIMAL: dict[tuple[Any, ...], np.ndarray] = {}
MARGIN_CACHE_SIZE = 64


def cheapest_unit_cost(network: Network, item: str) -> float:
    """What a unit of *item* costs at least: its cheapest supplier edge plus its
    ``order_cost`` (the paper's ``c_prod + c_order``)."""
    return supplier_costs(network, item)[0][0] + float(network.node(item).order_cost)


@dataclass
class CollaborativeBaseStock:
    """Order up to ``level`` (cheapest supplier first), price at ``price_factor`` x list,
    margin-optimal static recommendation (module docstring)."""

    level: PerNode
    price_factor: PerNode = 1.0
    recommend: str = "margin"
    _plan: dict[int, tuple[Any, ...]] = field(default_factory=dict, init=False, repr=False)
    _solved: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.recommend not in ("margin", "uniform"):
            raise ValueError(f"recommend must be 'margin' or 'uniform', got {self.recommend!r}")

    def prices(self, market: CollaborativeMarket) -> np.ndarray:
        """The items' prices: ``price_factor`` x list price."""
        prices = np.array(
            [
                value_for(self.price_factor, i, "price_factor") * market.prices.list_prices[k]
                for k, i in enumerate(market.nodes)
            ]
        )
        if not np.all(prices > 0):
            raise ValueError(f"price_factor must give prices > 0, got {prices.tolist()}")
        return prices

    def recommendation(self, problem: Problem) -> np.ndarray:
        """The (I, M) intensities this policy plays on *problem* (module docstring)."""
        market = problem.market
        if not isinstance(market, CollaborativeMarket):
            raise ValueError("CollaborativeBaseStock needs a collaborative problem's market")
        return self._intensities(market, problem.network)

    def _intensities(self, market: CollaborativeMarket, network: Network) -> np.ndarray:
        model = market.model
        if self.recommend == "uniform":
            return model.uniform()
        prices = self.prices(market)
        weight = market.prices.probability(prices)
        margins = {
            i: (prices[k] - cheapest_unit_cost(network, i)) * weight[k]
            for k, i in enumerate(market.nodes)
        }
        key = (
            model.base_ratings.tobytes(),
            model.capacity.tobytes(),
            model.max_rating,
            model.efficiency,
            model.axis,
            tuple(margins.values()),
        )
        if key not in _MARGIN_OPTIMAL:  # every run has its own market copy: solve once
            if len(_MARGIN_OPTIMAL) >= MARGIN_CACHE_SIZE:
                _MARGIN_OPTIMAL.pop(next(iter(_MARGIN_OPTIMAL)))
            _MARGIN_OPTIMAL[key] = MarginRecommender(margins).solve(model)
        return _MARGIN_OPTIMAL[key]

    def _setup(self, obs: Observation) -> tuple[Any, ...]:
        market = obs.market
        if not isinstance(market, CollaborativeMarket):
            raise ValueError("CollaborativeBaseStock needs a collaborative problem's market")
        network = obs.network
        items = market.nodes
        prices = self.prices(market)
        suppliers = {i: supplier_costs(network, i) for i in items}
        alpha = self._intensities(market, network)
        levels = {i: value_for(self.level, i, "level") for i in items}
        return items, dict(zip(items, map(float, prices))), suppliers, alpha, levels

    def act(self, obs: Observation) -> Action:
        key = id(obs.market)
        plan = self._plan.get(key)
        if plan is None:
            self._plan.clear()
            plan = self._plan[key] = self._setup(obs)
        items, prices, suppliers, alpha, levels = plan
        orders: dict[str, dict[str, float]] = {}
        for item in items:
            need = max(0.0, levels[item] - obs.inventory_position(item))
            parts: dict[str, float] = {}
            for k, (_, supplier, capacity) in enumerate(suppliers[item]):
                last = k == len(suppliers[item]) - 1
                q = need if last or math.isinf(capacity) else min(need, capacity)
                if q > 0:
                    parts[supplier] = q
                need -= q
                if need <= 0:
                    break
            orders[item] = parts
        return Action(orders=orders, prices=prices, extra={KEY: alpha})


def _collaborative_reason(problem: Problem) -> str | None:
    if problem.kind.market != "collaborative":
        return "for collaborative problems (production, ordering, pricing, recommendation)"
    return None


def _build(problem: Problem, p: Mapping[str, Any]) -> CollaborativeBaseStock:
    return CollaborativeBaseStock(
        p["level"], p.get("price_factor", 1.0), "uniform" if p.get("uniform") else "margin"
    )


register_policy(
    "collab-base-stock",
    _build,
    summary="order up to S per item (cheapest supplier first), price factor x list price, "
    "margin-optimal static recommendation",
    params=(
        Param("level", "order-up-to level S per item (inventory position, all suppliers)"),
        Param("price_factor", "price as a multiple of the list price", False, default=1.0),
        Param("uniform", "1: uniform recommendation instead of margin-optimal", False, False, 0),
    ),
    applies=_collaborative_reason,
    group="collaborative",
    family=CollaborativeBaseStock,
)
