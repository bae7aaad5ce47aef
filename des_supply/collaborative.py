"""Collaborative production, ordering, pricing and recommendation (seed paper, Section VII).

I items are sold to M customer segments.  Every period the seller decides, per item,
how much to make with each production method and to buy from an outside supplier (the
engine's ``supply_rule="choice"``), the price, and the recommendation intensities of
every item to every segment.  Demand responds to both the price and the recommendation:

=====  ===========================================================================  ==========
eq.    rule                                                                         source
=====  ===========================================================================  ==========
(8)    ``R[i, j] = R0[i, j] + (r_max - R0[i, j]) * alpha[i, j] * E``                Section VI
(10)   ``gamma[i, j] = exp(R[i, j]) / sum_k exp(R[k, j])``: the item a purchase     Section VI
       opportunity of segment j goes to
(3)    ``pi_i(p) = logistic(b_i + x(p, o_i, r_i)' beta)``: the probability that a   Section V
       customer who picks item i buys it at price p (Schlosser & Richly's
       regressors x_2..x_6 and coefficients, the competitor's price ``o_i`` and
       the reference price ``r_i`` both fixed at the item's list price; the
       constant ``b_i`` is set so that ``pi_i(list price) = buy_rate``)
(9)    ``d[i, j] ~ Binomial(c[j], gamma[i, j] * pi_i(p_i))``, ``d[i] = sum_j``      combined
=====  ===========================================================================  ==========

``c[j]`` is segment j's purchase opportunities per period.  Recommendation moves demand
between items (the probabilities sum to 1 over items, as in Section VI); the price
decides how many of the customers who look at an item buy it (as in Section V, where
``eta * logistic(.)`` is a number of visitors times a purchase probability).  So a higher
price sells fewer units of that item without sending its customers to the others.

Profit per period (Section VII, with the engine's costs)::

    sum_i p_i * sales_i  -  sum_i sum_j c_prod[j] u_ij  -  sum_i c_order q_i
                         -  holding * on hand  -  penalty * (lost | backlogged)

``u_ij`` is what item i makes with method j, ``q_i`` what it buys from the outside
supplier; each has its own lead time and capacity (see :mod:`scenarios.collaborative`).

**Randomness.**  One (I, M) block of uniforms per period from the market's own stream,
turned into demand by the binomial inverse CDF (common random numbers: two policies on
the same seed see the same uniforms, demand is monotone in each probability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .market import BETA
from .recommendation import RecommendationModel, binomial_inverse_cdf, recommendation_of

if TYPE_CHECKING:
    from .policies import Action
    from .sim import Observation

__all__ = ["CollaborativeMarket", "PriceResponse"]


@dataclass(frozen=True)
class PriceResponse:
    """The Section V purchase probability of each item at a price, ``pi_i(p)``.

    Parameters
    ----------
    list_prices : (I,) array
        Each item's list price: the competitor's and the reference price of the logit,
        and the price at which ``pi_i = buy_rate``.
    buy_rate : float
        Probability in (0, 1) that a customer who picks an item buys it at its list price.
    beta : 6 floats
        Schlosser & Richly's coefficients (constant, rank, p - o, competitors,
        (p + o) / 2, p - r); the constant is replaced by the calibrated ``b_i``.
    """

    list_prices: np.ndarray
    buy_rate: float = 0.5
    beta: tuple[float, ...] = BETA
    constant: np.ndarray = field(init=False, repr=False)  # b_i, calibrated

    def __post_init__(self) -> None:
        prices = np.array(self.list_prices, dtype=np.float64).reshape(-1)
        if prices.size == 0 or not np.all(np.isfinite(prices) & (prices > 0)):
            raise ValueError(f"list_prices must be finite and > 0, got {prices.tolist()}")
        if not 0 < self.buy_rate < 1:
            raise ValueError(f"buy_rate(={self.buy_rate}) must be in (0, 1)")
        if len(self.beta) != 6:
            raise ValueError(f"beta must have 6 coefficients, got {len(self.beta)}")
        prices.flags.writeable = False
        object.__setattr__(self, "list_prices", prices)
        object.__setattr__(self, "beta", tuple(float(b) for b in self.beta))
        at_list = self._score(prices, np.zeros_like(prices))
        constant = math.log(self.buy_rate / (1 - self.buy_rate)) - at_list
        constant.flags.writeable = False
        object.__setattr__(self, "constant", constant)

    def _score(self, prices: np.ndarray, constant: np.ndarray) -> np.ndarray:
        _, b_rank, b_diff, b_comp, b_mean, b_ref = self.beta
        o = r = self.list_prices
        rank = 1.0 + ((o < prices).astype(float) + (o <= prices).astype(float)) / 2.0
        return (
            constant
            + b_rank * rank
            + b_diff * (prices - o)
            + b_comp
            + b_mean * (prices + o) / 2.0
            + b_ref * (prices - r)
        )

    def probability(self, prices: Any) -> np.ndarray:
        """``pi_i(p_i)`` for every item (an (I,) array of prices in, (I,) out)."""
        p = np.asarray(prices, dtype=np.float64).reshape(-1)
        if p.shape != self.list_prices.shape:
            raise ValueError(f"need one price per item ({self.list_prices.size}), got {p.size}")
        return 1.0 / (1.0 + np.exp(-self._score(p, self.constant)))


class CollaborativeMarket:
    """The engine's market of a collaborative problem: answers the demand phase of every
    item node with ``sum_j d[i, j]``, reading the prices in force at the item nodes and
    the recommendation from ``Action.extra["recommendation"]`` (uniform when absent).

    After each period ``last_recommendation``, ``last_prices`` and ``last_demand`` (the
    (I, M) purchases) hold what was used, for inspection and logging.
    """

    kind = "collaborative"  # what des_supply.problem.ProblemKind.market reports

    def __init__(self, model: RecommendationModel, prices: PriceResponse) -> None:
        if prices.list_prices.shape != (model.shape[0],):
            raise ValueError(
                f"the price response has {prices.list_prices.size} items, the recommendation "
                f"model {model.shape[0]}"
            )
        self.model, self.prices = model, prices
        self.nodes: tuple[str, ...] = model.products
        self._rng: np.random.Generator | None = None
        self.last_recommendation = model.uniform()
        self.last_prices = prices.list_prices.copy()
        self.last_demand = np.zeros(model.shape)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.last_recommendation = self.model.uniform()
        self.last_prices = self.prices.list_prices.copy()
        self.last_demand = np.zeros(self.model.shape)

    def probabilities(self, alpha: np.ndarray, prices: Any) -> np.ndarray:
        """The (I, M) per-opportunity purchase probabilities ``gamma[i, j] * pi_i(p_i)``."""
        return self.model.probabilities(alpha) * self.prices.probability(prices)[:, None]

    def expected_demand(self, alpha: np.ndarray, prices: Any) -> np.ndarray:
        """Expected demand per item, ``sum_j c[j] gamma[i, j] pi_i(p_i)`` (I,)."""
        return self.probabilities(alpha, prices) @ self.model.capacity

    def draw(self, t: int, action: Action, obs: Observation) -> dict[str, float]:
        if self._rng is None:
            raise RuntimeError("CollaborativeMarket.reset(rng) must be called before drawing")
        alpha = recommendation_of(action, self.model)
        prices = np.array([float(obs.price(name)) for name in self.nodes])
        uniforms = 1.0 - self._rng.random(self.model.shape)
        d = binomial_inverse_cdf(
            uniforms, self.model.capacity[None, :], self.probabilities(alpha, prices)
        )
        self.last_recommendation, self.last_prices, self.last_demand = alpha, prices, d
        return dict(zip(self.nodes, map(float, d.sum(axis=1))))
