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
    "Popularity",
    "RandomOrders",
    "RandomRecommender",
    "RecommendAndReplenish",
    "Recommender",
    "Uniform",
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
        axis = 1 if model.axis == "customers" else 0
        total = w.sum(axis=axis, keepdims=True)
        return np.where(total > 0, w / np.where(total > 0, total, 1.0), model.uniform())


@dataclass
class RandomRecommender:
    """Dirichlet(1) intensities along the axis, a fresh draw every period."""

    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset(self.seed)

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(self.seed if seed is None else seed)

    def start_run(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        n, m = model.shape
        if model.axis == "customers":
            return self._rng.dirichlet(np.ones(m), size=n)
        return self._rng.dirichlet(np.ones(n), size=m).T


@dataclass
class RandomOrders:
    """A uniform whole number in ``[0, high]`` per deciding product node and period."""

    high: float | Mapping[str, float]
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset(self.seed)

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(self.seed if seed is None else seed)

    def start_run(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def act(self, obs: Any) -> dict[str, float]:
        out = {}
        for node in obs.deciding:
            high = self.high[node] if isinstance(self.high, Mapping) else self.high
            out[node] = float(self._rng.integers(0, int(high) + 1))
        return out


RECOMMENDERS: dict[str, type] = {"uniform": Uniform, "popularity": Popularity,
                                 "random": RandomRecommender}


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
                raise ValueError("RecommendAndReplenish needs a recommendation market in the run "
                                 "(scenarios.make_market('recommendation-small')) or model=...")
        orders = self.replenishment.act(obs)
        if isinstance(orders, Action):
            orders = orders.orders
        return Action(orders=dict(orders), extra={KEY: self.recommender.recommend(obs, model)})
