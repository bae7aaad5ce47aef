"""Inventory with recommendation: the seed paper's Section VI at three sizes.

N products, each a stocking node replenished from one unlimited supplier with its own
lead time, sold to M customers whose demand depends on the seller's recommendation
intensities (:mod:`des_supply.recommendation`, eqs. 8-10).  Period profit per product
(seed paper eq. 14)::

    F[i] = price * sales - unit_cost * ordered - holding * on hand at period end
           - penalty * (units lost in the period | units backlogged at period end)

==========================  ========  =========  =====================================
scenario                    products  customers  note
==========================  ========  =========  =====================================
``recommendation-small``    3         5          small enough for exact enumeration
``recommendation-medium``   10        30
``recommendation-large``    20        100        the action has 20 + 2000 components
==========================  ========  =========  =====================================

The seed paper gives no parameter values; ours (all parameters): ratings
``R0 ~ U[0, 3]``, ``r_max = 5``, ``E = 1``, capacities ``c ~ U{1..5}``, drawn from
``seed``; price 10, unit cost 5, holding 1, penalty 2, each multiplied per product by a
value factor ``f_i ~ U[0.5, 1.5]`` (``price_spread=0.5``; the seed paper's
``p_out^i, p_in^i, h^i, b^i`` are per product: with equal margins recommendation
could only move demand between identical products, and only stock matching would
be at stake); lead times 1 (``lead_time_max``
> ``lead_time``: each product's lead time drawn once from ``U{lead_time..lead_time_max}``;
``stochastic_lead_time=True``: drawn per shipment instead).  Ratings and capacities
can be loaded instead from ``ratings_csv`` / ``capacity_csv``
(:meth:`RecommendationModel.from_csv`).

**A selling season** (``recommendation-fashion-<size>``; the seed paper's fashion example):
the same products and customers, but every product is bought *once* per season of
``season`` periods, at its first period (the node reviews every ``season`` periods, lead
time 0), and never replenished within it; demand it cannot meet is lost.  A popularity
trend the seller does not observe moves each product's ratings at the start of every
season (``trend_sd``: ``z_i ~ N(0, trend_sd)`` added to product i's base ratings for all
customers, :class:`~des_supply.recommendation.RecommendationMarket`).  Steering demand
towards what is in stock, and away from what is running out, is what recommendation is
for here: ``benchmarks/recommendation_fashion.py`` measures how much it is worth.

==================================  ========  =========  ======  ======================
scenario                            products  customers  season  default horizon
==================================  ========  =========  ======  ======================
``recommendation-fashion-small``    3         5          12      12 (one season)
``recommendation-fashion-medium``   10        30         20      20 (one season)
==================================  ========  =========  ======  ======================

Its parameters (all): price 10, unit cost 5, salvage 1 (what a unit left at the season's
end is worth), holding 0.05 per unit and period, penalty 0 per unit of demand lost, all
five times the value factor ``f_i ~ U[0.5, 1.5]`` (``price_spread=0.5``); ``buy_cap`` None
(else the most units one buy gets, as a fraction of the product's season demand under
uniform intensities); ``trend_sd`` 1.0; ratings, capacities, ``max_rating``,
``efficiency`` and ``axis`` as above (5, 1, "customers").  The engine has no salvage
value, so it is written into the prices: a node sells at ``(price - salvage) f_i`` and
buys at ``(unit_cost - salvage) f_i``, which gives every policy exactly the profit of
selling at price, buying at unit cost and salvaging leftovers (its revenue line is lower
by the salvage of the units bought).  A horizon longer than a season repeats it: the
node buys again every ``season`` periods, leftovers carried over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from des_supply.distributions import Deterministic, DiscreteUniform, Poisson
from des_supply.network import Edge, Network, Node
from des_supply.recommendation import RecommendationMarket, RecommendationModel

from .registry import ScenarioError, register

__all__ = ["SIZES", "recommendation_market", "recommendation_model", "recommendation_network"]

#: size -> (products, customers)
SIZES: dict[str, tuple[int, int]] = {"small": (3, 5), "medium": (10, 30), "large": (20, 100)}

SUPPLIER = "supplier"


def recommendation_model(p: dict[str, Any]) -> RecommendationModel:
    """The ratings/capacity model of a full parameter dict *p* (generated or from CSV)."""
    try:
        kwargs = {"max_rating": p["max_rating"], "efficiency": p["efficiency"], "axis": p["axis"]}
        if (p["ratings_csv"] is None) != (p["capacity_csv"] is None):
            raise ValueError("give both ratings_csv and capacity_csv, or neither")
        if p["ratings_csv"] is not None:
            return RecommendationModel.from_csv(p["ratings_csv"], p["capacity_csv"], **kwargs)
        return RecommendationModel.generate(
            int(p["n_products"]),
            int(p["n_customers"]),
            int(p["seed"]),
            rating_low=p["rating_low"],
            rating_high=p["rating_high"],
            capacity_low=int(p["capacity_low"]),
            capacity_high=int(p["capacity_high"]),
            **kwargs,
        )
    except (ValueError, OSError) as exc:
        raise ScenarioError(f"recommendation: {exc}") from None


def lead_times(p: dict[str, Any], n: int) -> list[int]:
    """Each product's (minimum) lead time: *lead_time*, or drawn from the seed when
    ``lead_time_max`` is larger (and ``stochastic_lead_time`` is off)."""
    low, high = int(p["lead_time"]), p["lead_time_max"]
    high = low if high is None else int(high)
    if low < 0 or high < low:
        raise ScenarioError(
            f"recommendation: need 0 <= lead_time(={low}) <= lead_time_max(={high})"
        )
    if p["stochastic_lead_time"] or high == low:
        return [low] * n
    rng = np.random.default_rng([int(p["seed"]), 1])
    return [int(x) for x in rng.integers(low, high + 1, size=n)]


def value_scales(p: dict[str, Any], n: int) -> np.ndarray:
    """Each product's value factor ``f_i ~ U[1 - price_spread, 1 + price_spread]`` (from the
    seed): its price, unit cost, holding cost and penalty are the parameters times f_i."""
    spread = float(p["price_spread"])
    if not 0 <= spread < 1:
        raise ScenarioError(f"recommendation: price_spread must be in [0, 1), got {spread}")
    rng = np.random.default_rng([int(p["seed"]), 2])
    return rng.uniform(1 - spread, 1 + spread, size=n) if spread else np.ones(n)


def recommendation_network(p: dict[str, Any]) -> Network:
    """The network of a full parameter dict *p*: a supplier and one node per product."""
    if p["shortage"] not in ("lost", "backlog"):
        raise ScenarioError(
            f"recommendation: shortage must be 'lost' or 'backlog', got {p['shortage']!r}"
        )
    for name in ("price", "unit_cost", "holding", "penalty"):
        if not float(p[name]) >= 0:
            raise ScenarioError(f"recommendation: {name} must be >= 0, got {p[name]}")
    model = recommendation_model(p)
    base = model.expected_demand(model.uniform())
    leads = lead_times(p, len(model.products))
    scale = value_scales(p, len(model.products))
    nodes, edges = [Node(SUPPLIER, kind="supply")], []
    high = p["lead_time_max"]
    for name, mean, lead, f in zip(model.products, base, leads, scale):
        start = p["initial_on_hand"]
        if start is None:
            start = float(round(mean * (lead + 1)))
        nodes.append(
            Node(
                name,
                holding_cost=p["holding"] * f,
                shortage=p["shortage"],
                shortage_cost=p["penalty"] * f,
                order_cost=p["unit_cost"] * f,
                price=p["price"] * f,
                initial_on_hand=float(start),
                demand=Poisson(max(float(mean), 1e-9)),
            )
        )
        dist: Any = (
            DiscreteUniform(int(p["lead_time"]), int(high))
            if p["stochastic_lead_time"] and high is not None and high > p["lead_time"]
            else Deterministic(lead)
        )
        edges.append(Edge(SUPPLIER, name, lead_time=dist))
    return Network(
        nodes=tuple(nodes),
        edges=tuple(edges),
        name=f"recommendation-{len(model.products)}x{len(model.customers)}",
    )


def recommendation_market(**p: Any) -> RecommendationMarket:
    """The market (customers and their response to recommendations) of full parameters *p*."""
    return RecommendationMarket(recommendation_model(p))


def _size(size: str) -> Callable[..., Network]:
    n0, m0 = SIZES[size]

    def build(
        n_products: int = n0,
        n_customers: int = m0,
        seed: int = 0,
        shortage: str = "lost",
        price: float = 10.0,
        unit_cost: float = 5.0,
        holding: float = 1.0,
        penalty: float = 2.0,
        price_spread: float = 0.5,
        lead_time: int = 1,
        lead_time_max: int | None = None,
        stochastic_lead_time: bool = False,
        initial_on_hand: float | None = None,
        max_rating: float = 5.0,
        efficiency: float = 1.0,
        axis: str = "customers",
        rating_low: float = 0.0,
        rating_high: float = 3.0,
        capacity_low: int = 1,
        capacity_high: int = 5,
        ratings_csv: str | None = None,
        capacity_csv: str | None = None,
    ) -> Network:
        return recommendation_network(dict(locals()))

    build.__name__ = build.__qualname__ = f"recommendation_{size}"
    build.__doc__ = f"""Inventory with recommendation, {n0} products x {m0} customers (seed Section VI).

    See scenarios/recommendation.py.  Parameters: n_products, n_customers, seed (draws
    ratings, capacities, lead times and value factors), shortage (lost|backlog), price,
    unit_cost, holding, penalty (per unit lost, or backlogged per period; all four
    scaled per product by a factor drawn from U[1 - price_spread, 1 + price_spread]), lead_time,
    lead_time_max, stochastic_lead_time, initial_on_hand (default: uniform-recommendation
    mean demand over L + 1 periods), max_rating, efficiency, axis (customers|products),
    rating_low/rating_high, capacity_low/capacity_high, ratings_csv/capacity_csv.
    """
    return register(
        f"recommendation-{size}", periods=1_000, warmup=50, market=recommendation_market
    )(build)


for _name in SIZES:
    _size(_name)


# -- a selling season: one buy, no replenishment ----------------------------------------------
#: fashion size -> (products, customers, season periods)
FASHION_SIZES: dict[str, tuple[int, int, int]] = {"small": (3, 5, 12), "medium": (10, 30, 20)}


def fashion_network(p: dict[str, Any]) -> Network:
    """The network of a full ``recommendation-fashion`` parameter dict *p* (module docstring)."""
    season = int(p["season"])
    if season < 1:
        raise ScenarioError(f"recommendation-fashion: season must be >= 1, got {p['season']}")
    for name in ("price", "unit_cost", "holding", "penalty", "salvage"):
        if not float(p[name]) >= 0:
            raise ScenarioError(f"recommendation-fashion: {name} must be >= 0, got {p[name]}")
    if not p["salvage"] <= p["unit_cost"] <= p["price"]:
        raise ScenarioError(
            f"recommendation-fashion: need salvage(={p['salvage']}) <= unit_cost"
            f"(={p['unit_cost']}) <= price(={p['price']})"
        )
    cap = p["buy_cap"]
    if cap is not None and not float(cap) > 0:
        raise ScenarioError(f"recommendation-fashion: buy_cap must be > 0 or None, got {cap}")
    model = recommendation_model(p)
    base = model.expected_demand(model.uniform())
    scale = value_scales(p, len(model.products))
    nodes, edges = [Node(SUPPLIER, kind="supply")], []
    for name, mean, f in zip(model.products, base, scale):
        nodes.append(
            Node(
                name,
                holding_cost=p["holding"] * f,
                shortage="lost",
                shortage_cost=p["penalty"] * f,
                order_cost=(p["unit_cost"] - p["salvage"]) * f,
                price=(p["price"] - p["salvage"]) * f,
                capacity=float("inf") if cap is None else float(round(cap * mean * season)),
                review_period=season,
                demand=Poisson(max(float(mean), 1e-9)),
            )
        )
        edges.append(Edge(SUPPLIER, name, lead_time=Deterministic(0)))
    return Network(
        nodes=tuple(nodes),
        edges=tuple(edges),
        name=f"recommendation-fashion-{len(model.products)}x{len(model.customers)}",
    )


def fashion_market(**p: Any) -> RecommendationMarket:
    """The market of full ``recommendation-fashion`` parameters *p*: a popularity trend
    of ``trend_sd`` drawn at the start of every season."""
    if not float(p["trend_sd"]) >= 0:
        raise ScenarioError(f"recommendation-fashion: trend_sd must be >= 0, got {p['trend_sd']}")
    return RecommendationMarket(
        recommendation_model(p), trend_sd=float(p["trend_sd"]), trend_every=int(p["season"])
    )


def _fashion(size: str) -> Callable[..., Network]:
    n0, m0, t0 = FASHION_SIZES[size]

    def build(
        n_products: int = n0,
        n_customers: int = m0,
        seed: int = 0,
        season: int = t0,
        price: float = 10.0,
        unit_cost: float = 5.0,
        salvage: float = 1.0,
        holding: float = 0.05,
        penalty: float = 0.0,
        price_spread: float = 0.5,
        buy_cap: float | None = None,
        max_rating: float = 5.0,
        efficiency: float = 1.0,
        axis: str = "customers",
        rating_low: float = 0.0,
        rating_high: float = 3.0,
        capacity_low: int = 1,
        capacity_high: int = 5,
        ratings_csv: str | None = None,
        capacity_csv: str | None = None,
        trend_sd: float = 1.0,
    ) -> Network:
        return fashion_network(dict(locals()))

    build.__name__ = build.__qualname__ = f"recommendation_fashion_{size}"
    build.__doc__ = f"""A selling season with one buy, {n0} products x {m0} customers, {t0} periods.

    See scenarios/recommendation.py.  Parameters: n_products, n_customers, seed, season
    (periods per season: one buy at its start, lead time 0, no replenishment), price,
    unit_cost, salvage (per unit left at the season's end), holding, penalty (per unit of
    demand lost), all five scaled per product by a factor from U[1 - price_spread,
    1 + price_spread]; buy_cap (most units one buy gets, as a fraction of the product's
    season demand under uniform recommendations; None: no cap), max_rating, efficiency,
    axis, rating_low/rating_high, capacity_low/capacity_high, ratings_csv/capacity_csv.
    Simulate one season: --periods {t0} (the default horizon) or the season you set.
    """
    return register(f"recommendation-fashion-{size}", periods=t0, warmup=0, market=fashion_market)(
        build
    )


for _name in FASHION_SIZES:
    _fashion(_name)
