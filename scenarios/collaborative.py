"""The collaborative inventory model of the seed paper's Section VII (``collaborative``).

I items sold to M customer segments; every period, per item, the seller decides how much
to make with each production method and to buy from an outside supplier (the engine's
``supply_rule="choice"``), the price, and the recommendation intensities to every
segment.  Demand: :mod:`des_supply.collaborative` (Section VI's recommendation softmax
picks the item, Section V's logit decides whether the customer buys at the price).

Costs follow the paper's ``Pi = sum_i p_i min(n_i, d_i) - C_U - C_Q``: every unit an item
orders pays the ordering cost ``c_order`` (the node's ``order_cost``: the paper's
``C_Q = sum_i c_order q_i``) plus the unit cost of the way it is made (the supplier
edge's ``unit_cost``: the paper's ``C_U = sum_i sum_j 1(u_i = j) c_prod[j] q_i``), the
outside supplier being one more way with its own unit cost.  Holding and a shortage
penalty are options (0 and 0 in the paper, whose lost sales cost the margin only).

The paper gives no numbers; ours (every parameter; money scaled per item by a value
factor ``f_i ~ U[1 - price_spread, 1 + price_spread]`` drawn from ``seed``):

==========================  =====================================================  ==========
parameter                   meaning                                                default
==========================  =====================================================  ==========
``n_items``, ``n_segments``  I items, M customer segments                           3, 4
``seed``                    draws ratings, purchase opportunities, value factors   0
``price``                   list price (x f_i)                                     40
``buy_rate``                P(buy | item picked) at the list price                 0.5
``rating_low/high``         base ratings ``R0 ~ U[low, high]``                    0, 3
``max_rating``, ``efficiency``  ``r_max``, ``E`` of eq. (8)                         5, 1
``opportunities_low/high``  segment purchase opportunities ``c_j ~ U{low..high}``  4, 10
``order_cost``              ``c_order`` per unit ordered, any way (x f_i)          2
``line_cost``               method "line": unit cost (x f_i)                       12
``line_lead_time``          its lead time (periods)                                1
``line_capacity``           its capacity per period, x the item's mean demand      0.6
``batch_cost``              method "batch": unit cost (x f_i)                      6
``batch_lead_time``         its mean lead time: 1 + Poisson(mean - 1) (stochastic) 3
``batch_capacity``          its capacity per period, x the item's mean demand      0.8
``outside_cost``            the outside supplier's unit cost (x f_i)               20
``outside_lead_time``       its lead time (no capacity)                            1
``holding``                 per unit on hand per period (x f_i)                    0.5
``penalty``                 per unit lost (or backlogged per period) (x f_i)       0
``shortage``                ``lost`` (paper) or ``backlog``                        lost
==========================  =====================================================  ==========

"The item's mean demand" is its expected demand at list prices under uniform
recommendation.  With these values the cheap batch method cannot make all of an item's
demand and is slow and uncertain, the line is fast but dearer, and the outside supplier
is dearest: which way to make each unit is a real decision, as are the price and where
to steer customers.  Supply nodes are named ``<item>-line``, ``<item>-batch`` and
``<item>-outside``; items ``i0``, ``i1``, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from des_supply.collaborative import CollaborativeMarket, PriceResponse
from des_supply.distributions import Deterministic, Poisson, Shifted
from des_supply.network import Edge, Network, Node
from des_supply.recommendation import RecommendationModel

from .registry import ScenarioError, register

__all__ = ["collaborative_market", "collaborative_model", "collaborative_network"]

METHODS = ("line", "batch", "outside")


def _factors(p: dict[str, Any]) -> np.ndarray:
    spread = float(p["price_spread"])
    if not 0 <= spread < 1:
        raise ScenarioError(f"collaborative: price_spread must be in [0, 1), got {spread}")
    rng = np.random.default_rng([int(p["seed"]), 2])
    return rng.uniform(1 - spread, 1 + spread, size=int(p["n_items"]))


def collaborative_model(p: dict[str, Any]) -> RecommendationModel:
    """The ratings and purchase opportunities of a full parameter dict *p*."""
    n, m = int(p["n_items"]), int(p["n_segments"])
    if n < 1 or m < 1:
        raise ScenarioError(f"collaborative: n_items(={n}) and n_segments(={m}) must be >= 1")
    try:
        model = RecommendationModel.generate(
            n,
            m,
            int(p["seed"]),
            rating_low=p["rating_low"],
            rating_high=p["rating_high"],
            capacity_low=int(p["opportunities_low"]),
            capacity_high=int(p["opportunities_high"]),
            max_rating=p["max_rating"],
            efficiency=p["efficiency"],
        )
    except ValueError as exc:
        raise ScenarioError(f"collaborative: {exc}") from None
    return RecommendationModel(
        model.base_ratings,
        model.capacity,
        model.max_rating,
        model.efficiency,
        model.axis,
        tuple(f"i{k}" for k in range(n)),
        tuple(f"s{j}" for j in range(m)),
    )


def collaborative_market(**p: Any) -> CollaborativeMarket:
    """The market of full ``collaborative`` parameters *p*."""
    model = collaborative_model(p)
    try:
        prices = PriceResponse(float(p["price"]) * _factors(p), float(p["buy_rate"]))
    except ValueError as exc:
        raise ScenarioError(f"collaborative: {exc}") from None
    return CollaborativeMarket(model, prices)


def collaborative_network(p: dict[str, Any]) -> Network:
    """The network of a full parameter dict *p* (module docstring)."""
    if p["shortage"] not in ("lost", "backlog"):
        raise ScenarioError(
            f"collaborative: shortage must be 'lost' or 'backlog', got {p['shortage']!r}"
        )
    money = ("price", "order_cost", "line_cost", "batch_cost", "outside_cost", "holding", "penalty")
    for name in money:
        if not float(p[name]) >= 0:
            raise ScenarioError(f"collaborative: {name} must be >= 0, got {p[name]}")
    for name in ("line_capacity", "batch_capacity"):
        if not float(p[name]) > 0:
            raise ScenarioError(f"collaborative: {name} must be > 0, got {p[name]}")
    leads = {k: p[f"{k}_lead_time"] for k in METHODS}
    for k, lead in leads.items():
        low = 1 if k == "batch" else 0
        if not float(lead) >= low or float(lead) != int(lead):
            raise ScenarioError(
                f"collaborative: {k}_lead_time must be a whole number >= {low}, got {lead}"
            )
    market = collaborative_market(**p)
    factors = _factors(p)
    mean = market.expected_demand(market.model.uniform(), market.prices.list_prices)
    batch_lead = int(p["batch_lead_time"])
    ways: dict[str, tuple[Any, float, float]] = {
        "line": (Deterministic(int(leads["line"])), p["line_cost"], p["line_capacity"]),
        "batch": (
            Shifted(Poisson(batch_lead - 1), 1) if batch_lead > 1 else Deterministic(1),
            p["batch_cost"],
            p["batch_capacity"],
        ),
        "outside": (Deterministic(int(leads["outside"])), p["outside_cost"], float("inf")),
    }
    nodes: list[Node] = []
    edges: list[Edge] = []
    for item, f, d in zip(market.nodes, factors, mean):
        for way, (lead, cost, capacity) in ways.items():
            cap = float("inf") if np.isinf(capacity) else float(max(1, round(capacity * d)))
            nodes.append(Node(f"{item}-{way}", kind="supply", capacity=cap))
            edges.append(Edge(f"{item}-{way}", item, lead_time=lead, unit_cost=cost * f))
        nodes.append(
            Node(
                item,
                holding_cost=p["holding"] * f,
                shortage=p["shortage"],
                shortage_cost=p["penalty"] * f,
                order_cost=p["order_cost"] * f,
                price=p["price"] * f,
                initial_on_hand=float(round(2 * d)),
                demand=Poisson(max(float(d), 1e-9)),
                supply_rule="choice",
            )
        )
    return Network(
        nodes=tuple(nodes),
        edges=tuple(edges),
        name=f"collaborative-{len(market.nodes)}x{len(market.model.customers)}",
    )


@register("collaborative", periods=1_000, warmup=50, market=collaborative_market)
def collaborative(
    n_items: int = 3,
    n_segments: int = 4,
    seed: int = 0,
    shortage: str = "lost",
    price: float = 40.0,
    price_spread: float = 0.25,
    buy_rate: float = 0.5,
    rating_low: float = 0.0,
    rating_high: float = 3.0,
    max_rating: float = 5.0,
    efficiency: float = 1.0,
    opportunities_low: int = 4,
    opportunities_high: int = 10,
    order_cost: float = 2.0,
    line_cost: float = 12.0,
    line_lead_time: int = 1,
    line_capacity: float = 0.6,
    batch_cost: float = 6.0,
    batch_lead_time: int = 3,
    batch_capacity: float = 0.8,
    outside_cost: float = 20.0,
    outside_lead_time: int = 1,
    holding: float = 0.5,
    penalty: float = 0.0,
) -> Network:
    """Collaborative production, ordering, pricing and recommendation (seed Section VII).

    See scenarios/collaborative.py for the model and every parameter: n_items,
    n_segments, seed, shortage (lost|backlog), price, price_spread, buy_rate,
    rating_low/rating_high, max_rating, efficiency, opportunities_low/opportunities_high,
    order_cost, line_cost/line_lead_time/line_capacity, batch_cost/batch_lead_time/
    batch_capacity, outside_cost/outside_lead_time, holding, penalty.
    """
    return collaborative_network(dict(locals()))
