"""Heuristic policies for inventory with recommendation (seed paper, Section VI).

A policy here answers an epoch with ``Action(orders=..., extra={"recommendation": alpha})``:
a replenishment rule for the product nodes combined with a recommender for the (N, M)
intensities.  The recommenders:

====================  ==================================================================
recommender           intensities
====================  ==================================================================
``Uniform``           equal along the normalisation axis (no targeting)
``Popularity``        proportional to customer j's expected purchases of product i with
                      no recommendation, ``c[j] gamma0[i, j]`` (show products to the
                      customers who buy them anyway)
``RandomRecommender`` Dirichlet(1) along the axis, fresh every period (the seed paper's
                      "random choices" for the IM-only agent)
``MarginRecommender`` the fixed intensities maximising expected margin per period,
                      ``sum_i margin[i] E[d_i](alpha)``, ignoring stock (the best a
                      recommender can do without looking at inventory; found once by
                      L-BFGS over the softmax scores, best of a few starts)
====================  ==================================================================

:class:`RandomOrders` is the matching random replenishment (the RS-only agent's
orders): a uniform whole number in ``[0, high]`` per product and period.  Random
rules draw from their own numpy Generator: the engine hands them one derived from the
run's seed at the start of every run (``start_run``), so replication k of two
experiments draws the same random actions; ``seed`` seeds stand-alone use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .policies import Action, Policy
from .recommendation import KEY, RecommendationModel

__all__ = [
    "RECOMMENDERS",
    "MarginRecommender",
    "Popularity",
    "RandomOrders",
    "RandomRecommender",
    "RecommendAndReplenish",
    "Recommender",
    "Uniform",
    "expected_margin",
    "margins_of",
]


class Recommender(Protocol):
    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray: ...


class Uniform:
    """Equal intensities along the normalisation axis."""

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        return model.uniform()


class Popularity:
    """Intensities proportional to the expected purchases without recommendation."""

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        w = model.probabilities(np.zeros(model.shape)) * model.capacity[None, :]
        total = w.sum(axis=model.sum_axis, keepdims=True)
        return np.where(total > 0, w / np.where(total > 0, total, 1.0), model.uniform())


@dataclass
class _Randomised:
    """A rule with its own Generator: seeded by ``seed`` (or ``reset``), replaced by the
    engine's per-run stream through ``start_run``."""

    seed: int = field(default=0, kw_only=True)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset(self.seed)

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(self.seed if seed is None else seed)

    def start_run(self, rng: np.random.Generator) -> None:
        self._rng = rng


@dataclass
class RandomRecommender(_Randomised):
    """Dirichlet(1) intensities along the axis, a fresh draw every period."""

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        n, m = model.shape
        if model.sum_axis == 1:
            return self._rng.dirichlet(np.ones(m), size=n)
        return self._rng.dirichlet(np.ones(n), size=m).T


@dataclass
class MarginRecommender:
    """The static intensities maximising ``sum_i margin[i] * E[d_i](alpha)`` (no inventory).

    *margins* maps each product to its unit margin (price - unit cost; use
    :func:`margins_of` for a network).  The optimisation runs once per model (a local
    optimum of a smooth non-concave objective: best of ``starts`` L-BFGS runs from the
    uniform and random scores).
    """

    margins: Mapping[str, float]
    starts: int = 4
    _cache: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        key = id(model)
        if key not in self._cache:
            self._cache[key] = self.solve(model)
        return self._cache[key]

    def solve(self, model: RecommendationModel) -> np.ndarray:
        from scipy.optimize import minimize

        try:
            w = np.array([float(self.margins[p]) for p in model.products])
        except KeyError as exc:
            raise ValueError(f"MarginRecommender: no margin for product {exc.args[0]!r}") from None

        def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = expected_margin(model, w, x)
            return -value, -grad

        rng = np.random.default_rng(0)
        starts = [np.zeros(model.shape)] + [
            rng.normal(0, 2, model.shape) for _ in range(self.starts - 1)
        ]
        best = min(
            (minimize(loss, x0.ravel(), jac=True, method="L-BFGS-B") for x0 in starts),
            key=lambda r: r.fun,
        )
        return (
            model.from_logits(best.x)
            if best.fun <= loss(np.zeros(model.shape))[0]
            else model.uniform()
        )


def expected_margin(
    model: RecommendationModel, margins: np.ndarray, scores: np.ndarray
) -> tuple[float, np.ndarray]:
    """``sum_i margins[i] E[d_i]`` at the intensities ``model.from_logits(scores)``, and its
    gradient in the scores (chain rule through the softmax over products, eq. 10, the
    ratings, eq. 8, and the softmax along the normalisation axis)."""
    alpha = model.from_logits(scores)
    gamma = model.probabilities(alpha)
    value = float(margins @ gamma @ model.capacity)
    d_ratings = model.capacity[None, :] * gamma * (margins[:, None] - (margins @ gamma)[None, :])
    g = d_ratings * (model.max_rating - model.base_ratings) * model.efficiency
    return value, (alpha * (g - (alpha * g).sum(axis=model.sum_axis, keepdims=True))).ravel()


def margins_of(network: Any, products: Any) -> dict[str, float]:
    """Unit margin (price - unit cost of ordering) of each product node of *network*."""
    nodes = {n.name: n for n in network.nodes}
    unit = {e.target: e.unit_cost for e in network.edges}
    return {p: nodes[p].price - nodes[p].order_cost - unit.get(p, 0.0) for p in products}


@dataclass
class RandomOrders(_Randomised):
    """A uniform whole number in ``[0, high]`` per deciding product node and period."""

    high: float | Mapping[str, float]

    def act(self, obs: Any) -> dict[str, float]:
        out = {}
        for node in obs.deciding:
            high = self.high[node] if isinstance(self.high, Mapping) else self.high
            out[node] = float(self._rng.integers(0, int(high) + 1))
        return out


RECOMMENDERS: dict[str, type] = {
    "uniform": Uniform,
    "popularity": Popularity,
    "random": RandomRecommender,
    "margin": MarginRecommender,
}


@dataclass
class RecommendAndReplenish:
    """A replenishment policy (orders) and a recommender (intensities) acting together.

    The recommender reads the model from the run's market (``obs.market.model``) unless
    *model* is given.
    """

    replenishment: Policy
    recommender: Any
    model: RecommendationModel | None = None

    def start_run(self, rng: np.random.Generator) -> None:
        """Give each random part its own child stream of the run's generator."""
        for part, child in zip((self.replenishment, self.recommender), rng.spawn(2)):
            if callable(getattr(part, "start_run", None)):
                part.start_run(child)

    def act(self, obs: Any) -> Action:
        model = self.model
        if model is None:
            market = getattr(obs, "market", None)
            model = getattr(market, "model", None)
            if model is None:
                raise ValueError(
                    "RecommendAndReplenish needs a recommendation market in the run "
                    "(scenarios.make_market('recommendation-small')) or model=..."
                )
        orders = self.replenishment.act(obs)
        if isinstance(orders, Action):
            orders = orders.orders
        return Action(orders=dict(orders), extra={KEY: self.recommender.recommend(obs, model)})


# -- registration ----------------------------------------------------------------------------
from .policies import BaseStock  # noqa: E402
from .policy_registry import Param, register_policy  # noqa: E402


def _recommendation_reason(problem: Any) -> str | None:
    """Why a recommendation rule does not apply to *problem* (None when it does)."""
    if problem.kind.market != "recommendation" or getattr(problem.market, "model", None) is None:
        has = "no market" if problem.market is None else f"a {problem.kind.market} market"
        return (
            f"it recommends: it needs a problem with a recommendation market (scenarios "
            f"recommendation-*); this one has {has}"
        )
    return None


def _margin(problem: Any) -> MarginRecommender:
    return MarginRecommender(margins_of(problem.network, problem.market.model.products))


def _with_base_stock(name: str, recommender: Any, summary: str) -> None:
    """Register "base-stock-<name>": base stock per product and *recommender(problem)*."""
    register_policy(
        f"base-stock-{name}",
        lambda problem, p: RecommendAndReplenish(BaseStock(p["level"]), recommender(problem)),
        summary=f"base-stock level S per product, {summary}",
        params=(Param("level", "order-up-to level S"),),
        applies=_recommendation_reason,
        group="recommendation",
        family=RecommendAndReplenish,
    )


_with_base_stock("uniform", lambda problem: Uniform(), "equal intensities (no targeting)")
_with_base_stock(
    "popularity",
    lambda problem: Popularity(),
    "intensities proportional to purchases without recommendation",
)
_with_base_stock(
    "random",
    lambda problem: RandomRecommender(),
    "Dirichlet(1) intensities drawn each period (seeded per run by the engine)",
)
_with_base_stock(
    "margin", _margin, "the static intensities maximising expected margin (ignores stock)"
)
