"""Recommendation as a decision: ratings, purchase probabilities and demand (seed paper, Section VI).

N products are sold to M customers.  Every period the seller chooses recommendation
intensities ``alpha[i, j]`` in [0, 1] (product i shown to customer j); they raise the
customers' ratings, the ratings set purchase probabilities, and each customer's
purchases of each product are binomial:

=======  ================================================================  ==========
eq.      rule                                                              symbol
=======  ================================================================  ==========
(8)      ``R[i, j] = R0[i, j] + (r_max - R0[i, j]) * alpha[i, j] * E``      ratings
(10)     ``gamma[i, j] = exp(R[i, j]) / sum_k exp(R[k, j])``                softmax over products
(9)      ``d[i, j] ~ Binomial(c[j], gamma[i, j])``, ``d[i] = sum_j d[i, j]`` demand of product i
=======  ================================================================  ==========

``R0`` are the customers' own ratings, ``r_max`` the highest rating, ``E`` the
efficiency of a recommendation and ``c[j]`` customer j's purchasing capacity (units per
period).  The expected demand of a customer is ``c[j]`` whatever the recommendation
(the probabilities sum to 1 over products): recommendation moves demand between
products, which is what makes it an inventory decision.

**Normalisation axis.**  The paper states ``sum_j alpha[i, j] = 1`` for each product i
(``axis="customers"``, the default: each product has one unit of exposure to spread
over customers; moving it towards customer j raises j's probability of buying the
product and lowers j's probabilities for the others, so whether concentrating or
spreading it sells more depends on the ratings and capacities).  ``axis="products"``
gives each customer one unit of exposure spread over products (a recommendation
slate, ``sum_i alpha[i, j] = 1``).

**Randomness.**  Per period the market draws one (N, M) block of uniforms on (0, 1]
from its own stream and turns it into demand by the binomial inverse CDF, so two
policies run on the same seed see the same uniforms (common random numbers, demand
monotone in the probability), and the perfect-information bound of
:mod:`optimization.recommendation_mip` can evaluate any recommendation on the very
uniforms the engine uses (:meth:`RecommendationModel.demand`).

The products are stocking nodes of the engine's network (one node per product); the
market answers the engine's demand phase for all of them (:class:`RecommendationMarket`),
reading the recommendation from ``Action.extra["recommendation"]`` (an (N, M) array;
uniform intensities when a policy gives none).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from .policies import Action
    from .sim import Observation

__all__ = [
    "KEY",
    "RecommendationMarket",
    "RecommendationModel",
    "binomial_inverse_cdf",
    "recommendation_of",
]

#: the ``Action.extra`` key that carries the (N, M) intensities
KEY = "recommendation"
TOL = 1e-6


def binomial_inverse_cdf(u: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Smallest k with ``P(Binomial(n, p) <= k) >= u``, elementwise (u in (0, 1]).

    Arrays broadcast; *n* are whole numbers.  The CDF is built by the pmf recurrence
    ``f(k + 1) = f(k) (n - k) / (k + 1) p / (1 - p)``; exact up to float rounding.
    """
    u, n, p = np.broadcast_arrays(
        np.asarray(u, float), np.asarray(n, float), np.clip(np.asarray(p, float), 0.0, 1.0 - 1e-12)
    )
    pmf = (1.0 - p) ** n
    cdf = pmf.copy()
    k_out = np.zeros(u.shape)
    odds = p / (1.0 - p)
    for k in range(int(n.max(initial=0))):
        below = (u > cdf * (1 + 1e-12)) & (k < n)  # this k is not enough yet
        k_out += below
        if not below.any():
            break
        pmf = pmf * np.maximum(n - k, 0.0) / (k + 1) * odds
        cdf = cdf + pmf
    return k_out


@dataclass(frozen=True, eq=False)
class RecommendationModel:
    """Customers' ratings and capacities, and how recommendations move them (eqs. 8-10).

    Parameters
    ----------
    base_ratings : (N, M) array
        ``R0[i, j]``, customer j's own rating of product i; at most *max_rating*.
    capacity : (M,) array of whole numbers
        ``c[j]``, customer j's purchases per period (binomial trials).
    max_rating, efficiency :
        ``r_max`` and ``E`` of eq. (8); ``E >= 0``.
    axis :
        ``"customers"`` (paper: intensities of a product sum to 1 over customers) or
        ``"products"`` (intensities shown to a customer sum to 1 over products).
    products, customers :
        Names (products are the engine's node names); defaults ``p0..``, ``c0..``.
    """

    base_ratings: np.ndarray
    capacity: np.ndarray
    max_rating: float = 5.0
    efficiency: float = 1.0
    axis: Literal["customers", "products"] = "customers"
    products: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        r0 = np.array(self.base_ratings, dtype=np.float64)
        cap = np.array(self.capacity, dtype=np.float64).reshape(-1)
        if r0.ndim != 2 or r0.size == 0:
            raise ValueError(
                f"base_ratings must be a non-empty (products x customers) matrix, "
                f"got shape {r0.shape}"
            )
        n, m = r0.shape
        if cap.shape != (m,):
            raise ValueError(f"capacity must have one entry per customer ({m}), got {cap.size}")
        if not np.all(np.isfinite(r0)):
            raise ValueError("base_ratings must be finite")
        bad = np.argwhere(r0 > self.max_rating + TOL)
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"base rating of product {i} by customer {j} ({r0[i, j]:g}) exceeds "
                f"max_rating={self.max_rating:g}"
            )
        if np.any(cap < 0) or np.any(cap != np.round(cap)):
            j = int(np.flatnonzero((cap < 0) | (cap != np.round(cap)))[0])
            raise ValueError(
                f"capacity of customer {j} must be a whole number >= 0, got {cap[j]:g}"
            )
        if not np.isfinite(self.efficiency) or self.efficiency < 0:
            raise ValueError(f"efficiency must be >= 0, got {self.efficiency}")
        if self.axis not in ("customers", "products"):
            raise ValueError(f"axis must be 'customers' or 'products', got {self.axis!r}")
        products = tuple(self.products) or tuple(f"p{i}" for i in range(n))
        customers = tuple(self.customers) or tuple(f"c{j}" for j in range(m))
        if len(products) != n or len(set(products)) != n:
            raise ValueError(f"products must be {n} distinct names, got {products}")
        if len(customers) != m or len(set(customers)) != m:
            raise ValueError(f"customers must be {m} distinct names, got {customers}")
        r0.flags.writeable = False
        cap.flags.writeable = False
        for name, value in (
            ("base_ratings", r0),
            ("capacity", cap),
            ("products", products),
            ("customers", customers),
            ("max_rating", float(self.max_rating)),
            ("efficiency", float(self.efficiency)),
        ):
            object.__setattr__(self, name, value)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        n_products: int,
        n_customers: int,
        seed: int = 0,
        *,
        rating_low: float = 0.0,
        rating_high: float = 3.0,
        capacity_low: int = 1,
        capacity_high: int = 5,
        **kwargs: Any,
    ) -> RecommendationModel:
        """Random customers and products from *seed*: ``R0 ~ U[rating_low, rating_high]``,
        ``c ~ U{capacity_low..capacity_high}`` (numpy Generator, reproducible)."""
        if n_products < 1 or n_customers < 1:
            raise ValueError(
                f"need at least one product and one customer, got {n_products} x {n_customers}"
            )
        if not rating_low <= rating_high:
            raise ValueError(f"rating_low(={rating_low}) must be <= rating_high(={rating_high})")
        if not 0 <= capacity_low <= capacity_high:
            raise ValueError(
                f"need 0 <= capacity_low(={capacity_low}) <= capacity_high(={capacity_high})"
            )
        rng = np.random.default_rng(seed)
        r0 = rng.uniform(rating_low, rating_high, size=(n_products, n_customers))
        cap = rng.integers(capacity_low, capacity_high + 1, size=n_customers)
        return cls(r0, cap, **kwargs)

    @classmethod
    def from_csv(
        cls, ratings: str | Path, capacity: str | Path, **kwargs: Any
    ) -> RecommendationModel:
        """Ratings from a CSV with a header row of customer names and one row per product
        (first column the product name); capacities from a CSV of ``customer,capacity``
        rows (header optional).  Customers are matched by name."""
        with open(ratings, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        if len(rows) < 2:
            raise ValueError(f"{ratings}: need a header row and at least one product row")
        customers = tuple(c.strip() for c in rows[0][1:])
        try:
            products = tuple(r[0].strip() for r in rows[1:])
            r0 = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
        except ValueError as exc:
            raise ValueError(f"{ratings}: {exc}") from None
        if r0.shape != (len(products), len(customers)):
            raise ValueError(f"{ratings}: every row needs {len(customers)} ratings")
        caps: dict[str, float] = {}
        with open(capacity, newline="") as f:
            for r in csv.reader(f):
                if not r:
                    continue
                try:
                    caps[r[0].strip()] = float(r[1])
                except (ValueError, IndexError):
                    if caps:  # only the first row may be a header
                        raise ValueError(f"{capacity}: bad row {r}") from None
        missing = [c for c in customers if c not in caps]
        if missing:
            raise ValueError(f"{capacity}: no capacity for customer(s) {', '.join(missing)}")
        return cls(
            r0,
            np.array([caps[c] for c in customers]),
            products=products,
            customers=customers,
            **kwargs,
        )

    def to_csv(self, ratings: str | Path, capacity: str | Path) -> None:
        """Write the two CSV files :meth:`from_csv` reads."""
        with open(ratings, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["product", *self.customers])
            for name, row in zip(self.products, self.base_ratings):
                w.writerow([name, *(repr(float(x)) for x in row)])
        with open(capacity, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer", "capacity"])
            for name, c in zip(self.customers, self.capacity):
                w.writerow([name, int(c)])

    # -- the model -------------------------------------------------------------------------
    @property
    def sum_axis(self) -> int:
        """The array axis the intensities sum to 1 over (1: customers, 0: products)."""
        return 1 if self.axis == "customers" else 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.base_ratings.shape

    def uniform(self) -> np.ndarray:
        """Equal intensities along the normalisation axis (the default recommendation)."""
        n, m = self.shape
        return np.full((n, m), 1.0 / (m if self.sum_axis == 1 else n))

    def from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Intensities from unconstrained scores: a softmax along the normalisation axis
        (how RL agents output a recommendation that always satisfies the constraints)."""
        x = np.asarray(logits, dtype=np.float64).reshape(self.shape)
        x = x - x.max(axis=self.sum_axis, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=self.sum_axis, keepdims=True)

    def check(self, alpha: Any) -> np.ndarray:
        """*alpha* as an (N, M) float array, or ValueError naming the product/customer at fault."""
        a = np.asarray(alpha, dtype=np.float64)
        if a.shape != self.shape:
            raise ValueError(
                f"recommendation must be a {self.shape[0]} x {self.shape[1]} "
                f"(products x customers) array, got shape {a.shape}"
            )
        bad = np.argwhere(~((a >= -TOL) & (a <= 1 + TOL)))
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"recommendation intensity of product {self.products[i]!r} to customer "
                f"{self.customers[j]!r} is {a[i, j]:g}, must be in [0, 1]"
            )
        sums = a.sum(axis=self.sum_axis)
        off = np.flatnonzero(np.abs(sums - 1.0) > 1e-4)
        if off.size:
            k = int(off[0])
            who = (
                f"product {self.products[k]!r} over customers"
                if self.sum_axis == 1
                else f"customer {self.customers[k]!r} over products"
            )
            raise ValueError(
                f"recommendation intensities of {who} sum to {sums[k]:g}, must sum to 1 "
                f"(axis={self.axis!r})"
            )
        return np.clip(a, 0.0, 1.0)

    def ratings(self, alpha: np.ndarray) -> np.ndarray:
        """Eq. (8): ``R0 + (r_max - R0) * alpha * E``."""
        r0 = self.base_ratings
        return r0 + (self.max_rating - r0) * np.asarray(alpha) * self.efficiency

    def probabilities(self, alpha: np.ndarray) -> np.ndarray:
        """Eq. (10): purchase probabilities, a softmax of the ratings over products."""
        r = self.ratings(alpha)
        e = np.exp(r - r.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def shifted(self, shift: np.ndarray) -> RecommendationModel:
        """The model with product i's base ratings moved by ``shift[i]`` for every customer
        (capped at ``max_rating``): a popularity trend (:class:`RecommendationMarket`)."""
        shift = np.asarray(shift, dtype=np.float64).reshape(-1)
        if shift.shape != (self.shape[0],):
            raise ValueError(f"shift must have one entry per product ({self.shape[0]})")
        r0 = np.minimum(self.base_ratings + shift[:, None], self.max_rating)
        return RecommendationModel(
            r0,
            self.capacity,
            self.max_rating,
            self.efficiency,
            self.axis,
            self.products,
            self.customers,
        )

    def expected_demand(self, alpha: np.ndarray) -> np.ndarray:
        """Expected demand per product, ``sum_j c[j] gamma[i, j]`` (N,)."""
        return self.probabilities(alpha) @ self.capacity

    def demand(self, alpha: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Eq. (9) on given uniforms: the (N, M) purchases ``d[i, j]`` by binomial inverse CDF."""
        return binomial_inverse_cdf(uniforms, self.capacity[None, :], self.probabilities(alpha))


class RecommendationMarket:
    """The engine's market for a recommendation model: answers the demand phase of every
    product node with ``sum_j d[i, j]`` (eqs. 8-10), reading the recommendation from
    ``Action.extra["recommendation"]`` (uniform when absent).

    **Popularity trends** (``trend_sd > 0``; the fashion example of the seed paper): at
    the start of a run, and then every ``trend_every`` periods (None: once per run),
    every product's base ratings move by ``z_i ~ N(0, trend_sd)`` for all customers
    (:meth:`RecommendationModel.shifted`), unseen by the policies: ``model`` stays the
    nominal model they plan with, ``trend`` and ``current`` hold the shift and the model
    in force.  The shifts come from their own generator, the first child spawned from the
    run's market stream (:meth:`trend_path` reproduces them), so the demand uniforms are
    those of a market without trends.

    After each period, ``last_recommendation`` and ``last_demand`` (the (N, M) purchases)
    hold what was used, for inspection and logging.
    """

    kind = "recommendation"  # what des_supply.problem.ProblemKind.market reports

    def __init__(
        self, model: RecommendationModel, trend_sd: float = 0.0, trend_every: int | None = None
    ) -> None:
        if not (np.isfinite(trend_sd) and trend_sd >= 0):
            raise ValueError(f"trend_sd must be >= 0, got {trend_sd}")
        if trend_every is not None and int(trend_every) < 1:
            raise ValueError(f"trend_every must be >= 1 or None, got {trend_every}")
        self.model = model
        self.trend_sd = float(trend_sd)
        self.trend_every = None if trend_every is None else int(trend_every)
        self.nodes: tuple[str, ...] = model.products
        self._rng: np.random.Generator | None = None
        self._trend_rng: np.random.Generator | None = None
        self.trend = np.zeros(model.shape[0])
        self.current = model
        self.last_recommendation = model.uniform()
        self.last_demand = np.zeros(model.shape)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._trend_rng = rng.spawn(1)[0] if self.trend_sd > 0 else None
        self.trend = np.zeros(self.model.shape[0])
        self.current = self.model
        self.last_recommendation = self.model.uniform()
        self.last_demand = np.zeros(self.model.shape)

    def uniforms(self) -> np.ndarray:
        """The next period's (N, M) uniforms on (0, 1] (one block per period)."""
        if self._rng is None:
            raise RuntimeError("RecommendationMarket.reset(rng) must be called before drawing")
        return 1.0 - self._rng.random(self.model.shape)

    def _trend_at(self, t: int) -> None:
        if self._trend_rng is not None and (
            t == 0 or (self.trend_every is not None and t % self.trend_every == 0)
        ):
            self.trend = self._trend_rng.normal(0.0, self.trend_sd, self.model.shape[0])
            self.current = self.model.shifted(self.trend)

    def trend_path(self, rng: np.random.Generator, periods: int) -> np.ndarray:
        """The (T, N) shifts in force in periods 0..T-1 of a run whose market stream is *rng*
        (consumes nothing from *rng*; all zeros without trends)."""
        self.reset(rng)
        out = np.zeros((int(periods), self.model.shape[0]))
        for t in range(int(periods)):
            self._trend_at(t)
            out[t] = self.trend
        return out

    def draw(self, t: int, action: Action, obs: Observation) -> dict[str, float]:
        self._trend_at(t)
        alpha = recommendation_of(action, self.model)
        d = self.current.demand(alpha, self.uniforms())
        self.last_recommendation, self.last_demand = alpha, d
        return dict(zip(self.nodes, map(float, d.sum(axis=1))))


def recommendation_of(action: Action | None, model: RecommendationModel) -> np.ndarray:
    """The intensities an action carries, checked (uniform when it carries none)."""
    alpha = None if action is None else action.extra.get(KEY)
    return model.uniform() if alpha is None else model.check(alpha)
