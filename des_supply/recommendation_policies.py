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
from functools import partial
from typing import Any, Protocol

import numpy as np

from .policies import Action, Policy
from .recommendation import KEY, RecommendationModel

__all__ = [
    "RECOMMENDERS",
    "Fixed",
    "MarginRecommender",
    "PeriodicReview",
    "Popularity",
    "RandomOrders",
    "RandomRecommender",
    "RecommendAndReplenish",
    "Recommender",
    "SeasonEconomics",
    "SeasonResolve",
    "Uniform",
    "expected_margin",
    "margins_of",
    "scores_gradient",
    "season_economics",
    "season_profit",
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


@dataclass(frozen=True)
class Fixed:
    """The given (N, M) intensities in every period."""

    alpha: np.ndarray

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        return model.check(self.alpha)


def scores_gradient(
    model: RecommendationModel, alpha: np.ndarray, grad_gamma: np.ndarray
) -> np.ndarray:
    """The gradient in the softmax scores (flattened) of a function of the purchase
    probabilities, given its (N, M) gradient *grad_gamma* in ``gamma`` at *alpha* (chain rule
    through eq. 10, eq. 8 and the softmax along the normalisation axis)."""
    gamma = model.probabilities(alpha)
    d_ratings = gamma * (grad_gamma - (grad_gamma * gamma).sum(axis=0, keepdims=True))
    g = d_ratings * (model.max_rating - model.base_ratings) * model.efficiency
    return (alpha * (g - (alpha * g).sum(axis=model.sum_axis, keepdims=True))).ravel()


@dataclass(frozen=True)
class SeasonEconomics:
    """Per-product money of a selling season, in the model's product order.

    ``price`` is what a unit sold earns (the node's price; leftovers earn nothing more at
    the season's end), ``penalty`` the cost of a unit of demand lost, ``holding`` the
    cost of a unit on hand at a period's end, ``unit_cost`` the cost of a unit bought,
    ``capacity`` the most units one buy can get and ``season`` the periods between buys
    (the products' review period).
    """

    price: np.ndarray
    penalty: np.ndarray
    holding: np.ndarray
    unit_cost: np.ndarray
    capacity: np.ndarray
    season: int


def season_economics(network: Any, products: Any) -> SeasonEconomics:
    """The :class:`SeasonEconomics` of *network*'s product nodes *products*.

    Raises ValueError naming the product when it is not a one-buy-per-season node (lost
    sales, one supplier with lead time 0, no fixed order cost) or when the products'
    review periods differ.
    """
    rows: dict[str, list[float]] = {
        k: [] for k in ("price", "penalty", "holding", "unit_cost", "capacity")
    }
    seasons = set()
    for p in products:
        node = network.node(p)
        edges = network.suppliers(p)
        if (
            node.shortage != "lost"
            or len(edges) != 1
            or edges[0].lead_time.constant != 0
            or node.fixed_order_cost > 0
        ):
            raise ValueError(
                f"product {p!r}: a selling season needs lost sales, one supplier with "
                "lead time 0 and no fixed order cost"
            )
        seasons.add(node.review_period)
        for k, v in (
            ("price", node.price),
            ("penalty", node.shortage_cost),
            ("holding", node.holding_cost),
            ("unit_cost", node.order_cost + edges[0].unit_cost),
            ("capacity", node.capacity),
        ):
            rows[k].append(float(v))
    if len(seasons) != 1:
        raise ValueError(f"the products' review periods differ ({sorted(seasons)}): no one season")
    return SeasonEconomics(**{k: np.array(v) for k, v in rows.items()}, season=seasons.pop())


def season_profit(
    model: RecommendationModel,
    economics: SeasonEconomics,
    alpha: np.ndarray,
    stock: np.ndarray,
    remaining: int,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Expected profit of the *remaining* periods of a season from *stock* on hand, no
    more buying, with intensities *alpha* kept fixed; with its gradients in the purchase
    probabilities ``gamma`` (N, M) and in the stock (N,).

    Product i's demand over k periods is taken as normal with mean ``k d_i`` and variance
    ``k v_i`` (``d_i = sum_j c_j gamma_ij``, ``v_i = sum_j c_j gamma_ij (1 - gamma_ij)``:
    sums of binomials); with ``S_k`` that demand, ``price E[min(S_R, I)] - penalty
    E[(S_R - I)^+] - holding sum_k E[(I - S_k)^+]`` in closed form.
    """
    from scipy.stats import norm

    gamma = model.probabilities(alpha)
    cap = model.capacity
    d = gamma @ cap
    v = np.maximum((gamma * (1 - gamma)) @ cap, 1e-12)
    stock = np.asarray(stock, dtype=float)
    k = np.arange(1, int(remaining) + 1, dtype=float)[:, None]  # (R, 1)
    mu, sd = k * d, np.sqrt(k * v)
    z = (stock - mu) / sd
    cdf, pdf = norm.cdf(z), norm.pdf(z)
    over = (stock - mu) * cdf + sd * pdf  # E[(I - S_k)^+], (R, N)
    e = economics
    sales = stock - over[-1]
    short = over[-1] - stock + mu[-1]
    value = float(e.price @ sales - e.penalty @ short - e.holding @ over.sum(axis=0))
    g_mu = e.holding * cdf  # d value / d mu_k and / d sd_k
    g_sd = -e.holding * pdf
    g_mu[-1] += e.price * cdf[-1] - e.penalty * (1 - cdf[-1])
    g_sd[-1] -= (e.price + e.penalty) * pdf[-1]
    g_d = (k * g_mu).sum(axis=0)
    g_v = (k * g_sd / (2 * sd)).sum(axis=0)
    grad_gamma = cap[None, :] * (g_d[:, None] + g_v[:, None] * (1 - 2 * gamma))
    grad_stock = (e.price + e.penalty) * (1 - cdf[-1]) - e.holding * cdf.sum(axis=0)
    return value, grad_gamma, grad_stock


@dataclass
class SeasonResolve:
    """Inventory-aware recommendation for a selling season (re-solving).

    At a season's first period the intensities are *start* (the static plan the buy was
    made for) or, if None, the ones maximising :func:`season_profit` of the whole season
    from the stock bought (L-BFGS from the uniform and popularity intensities).  In every
    later period t, with ``R = season - t % season`` periods left, they are the ones
    maximising :func:`season_profit` from the stock on hand over those R periods
    (L-BFGS over the softmax scores, from the previous period's and from a softened
    copy): stock that will not sell is pushed, stock that is running out is held back.
    ``freeze=True`` keeps the first period's intensities all season: a static
    recommendation (chosen once, for the stock bought).

    ``learn=True`` (and a market with ``trend_sd > 0``): the season's popularity trend is
    estimated from the sales so far and planned with (``model.shifted(z)``): ``z`` is the
    posterior mode under the prior ``N(0, trend_sd)`` and a normal likelihood of each
    period's sales of each product whose stock did not run out (sales then equal demand;
    periods that sold out are censored and left out).
    """

    start: np.ndarray | None = None
    learn: bool = True
    freeze: bool = False
    _scores: np.ndarray | None = field(default=None, init=False, repr=False)
    _economics: dict[int, SeasonEconomics] = field(default_factory=dict, init=False, repr=False)
    _history: list[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=list, init=False, repr=False
    )  # (alpha, stock before demand) per period of this season
    _ordered: np.ndarray | None = field(default=None, init=False, repr=False)
    _trend: np.ndarray | None = field(default=None, init=False, repr=False)

    def start_run(self, rng: np.random.Generator) -> None:
        self._scores, self._history, self._ordered, self._trend = None, [], None, None

    def ordered(self, obs: Any, orders: Mapping[str, float]) -> None:
        """Told the orders of the epoch (:class:`RecommendAndReplenish`), before recommending."""
        products = getattr(getattr(obs.market, "model", None), "products", ())
        self._ordered = np.array([float(orders.get(p, 0.0)) for p in products])

    def recommend(self, obs: Any, model: RecommendationModel) -> np.ndarray:
        key = id(obs.network)
        if key not in self._economics:
            self._economics[key] = season_economics(obs.network, model.products)
        econ = self._economics[key]
        first = obs.t % econ.season == 0
        stock = np.array([obs.on_hand(p) for p in model.products])
        remaining = econ.season - obs.t % econ.season
        if first:
            if self._ordered is not None and len(self._ordered) == len(stock):
                stock = stock + np.round(self._ordered)
            self._history, self._trend = [], None
            if self.start is not None:
                alpha = model.check(self.start)
                self._scores = np.log(np.maximum(alpha, 1e-9))
            else:
                starts = (model.uniform(), Popularity().recommend(None, model))
                self._scores = self._solve(model, econ, model, stock, remaining, starts)
                alpha = model.from_logits(self._scores)
            self._history.append((alpha, stock))
            return alpha
        if self._scores is None:  # joined mid-season
            self._scores = np.zeros(model.shape)
        if self.freeze:
            return model.from_logits(self._scores)
        sd = float(getattr(obs.market, "trend_sd", 0.0))
        if self.learn and sd > 0 and self._history:
            self._trend = self._estimate_trend(model, sd, stock)
        planned = model if self._trend is None else model.shifted(self._trend)
        # the previous scores, and a softened start (saturated scores have no gradient)
        alpha = model.from_logits(self._scores)
        self._scores = self._solve(model, econ, planned, stock, remaining, (alpha, alpha + 0.05))
        alpha = model.from_logits(self._scores)
        self._history.append((alpha, stock))
        return alpha

    @staticmethod
    def _solve(
        model: RecommendationModel,
        econ: SeasonEconomics,
        planned: RecommendationModel,
        stock: np.ndarray,
        remaining: int,
        starts: tuple[np.ndarray, ...],
    ) -> np.ndarray:
        """The scores maximising :func:`season_profit` under *planned*, best of *starts*."""
        from scipy.optimize import minimize

        def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
            alpha = model.from_logits(x)
            value, grad_gamma, _ = season_profit(planned, econ, alpha, stock, remaining)
            return -value, -scores_gradient(planned, alpha, grad_gamma)

        res = min(
            (
                minimize(loss, np.log(np.maximum(a, 1e-9)).ravel(), jac=True, method="L-BFGS-B")
                for a in starts
            ),
            key=lambda r: r.fun,
        )
        return res.x.reshape(model.shape)

    def _estimate_trend(
        self, model: RecommendationModel, sd: float, stock: np.ndarray
    ) -> np.ndarray:
        """Posterior mode of the season's trend from the uncensored sales so far."""
        from scipy.optimize import minimize

        before = [h[1] for h in self._history[1:]] + [stock]
        alphas = np.stack([h[0] for h in self._history])  # (t, N, M)
        sales = np.stack([h[1] for h in self._history]) - np.stack(before)  # (t, N)
        seen = np.stack(before) > 1e-9  # stock left: demand observed in full
        if not seen.any():
            return np.zeros(model.shape[0]) if self._trend is None else self._trend
        cap = model.capacity
        var = np.maximum(
            np.stack([(g * (1 - g)) @ cap for g in map(model.probabilities, alphas)]), 0.25
        )

        def loss(z: np.ndarray) -> float:
            shifted = model.shifted(z)
            mean = np.stack([shifted.probabilities(a) @ cap for a in alphas])
            return float(((sales - mean) ** 2 / (2 * var))[seen].sum() + (z @ z) / (2 * sd**2))

        z0 = np.zeros(model.shape[0]) if self._trend is None else self._trend
        return minimize(loss, z0, method="L-BFGS-B").x


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


@dataclass
class PeriodicReview:
    """*replenishment*'s orders in the periods t with ``(t - offset) % period == 0``; no
    order in the others (a review every *period* periods, as the replenishment agent of
    :class:`rl.recommendation_env.RecommendationParallelEnv` with ``replenishment_period``
    = *period* orders).  With :class:`~des_supply.policies.BaseStock` it is the
    periodic-review order-up-to policy (R = period, S covering L + period periods)."""

    replenishment: Policy
    period: int
    offset: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.period, bool) or int(self.period) != self.period or self.period < 1:
            raise ValueError(f"PeriodicReview: period(={self.period!r}) must be an integer >= 1")
        if isinstance(self.offset, bool) or int(self.offset) != self.offset or self.offset < 0:
            raise ValueError(f"PeriodicReview: offset(={self.offset!r}) must be an integer >= 0")
        self.period, self.offset = int(self.period), int(self.offset)

    def start_run(self, rng: np.random.Generator) -> None:
        start = getattr(self.replenishment, "start_run", None)
        if callable(start):
            start(rng)

    def act(self, obs: Any) -> dict[str, Any]:
        if (int(obs.t) - self.offset) % self.period != 0:
            return {}
        orders = self.replenishment.act(obs)
        return dict(orders.orders if isinstance(orders, Action) else orders)


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
        decided = self.replenishment.act(obs)
        orders = decided.orders if isinstance(decided, Action) else decided
        if callable(getattr(self.recommender, "ordered", None)):
            self.recommender.ordered(obs, orders)
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


def _periodic_margin(problem: Any, p: dict[str, Any]) -> RecommendAndReplenish:
    period = p.get("period", 1.0)
    if period != int(period) or period < 1:
        raise ValueError(
            f"policy 'periodic-base-stock-margin': period(={period:g}) must be a whole number >= 1"
        )
    return RecommendAndReplenish(
        PeriodicReview(BaseStock(p["level"]), int(period)), _margin(problem)
    )


register_policy(
    "periodic-base-stock-margin",
    _periodic_margin,
    summary="order up to level S per product every `period` periods (none in between), "
    "the static intensities maximising expected margin",
    params=(
        Param("level", "order-up-to level S (to cover L + period periods of demand)"),
        Param(
            "period",
            "review period k: orders at t = 0, k, 2k, ...",
            required=False,
            per_node=False,
            default=1,
        ),
    ),
    applies=_recommendation_reason,
    group="recommendation",
    family=RecommendAndReplenish,
)


def _season_reason(problem: Any) -> str | None:
    """Why a season rule does not apply to *problem* (None when it does)."""
    why = _recommendation_reason(problem)
    if why is None:
        try:
            season_economics(problem.network, problem.market.model.products)
        except ValueError as exc:
            return f"it plans a selling season (recommendation-fashion-*): {exc}"
    return why


def _season_policy(
    kwargs: dict[str, Any], problem: Any, p: dict[str, Any]
) -> RecommendAndReplenish:
    return RecommendAndReplenish(BaseStock(p["level"]), SeasonResolve(**kwargs))


for _name, _kwargs, _summary in (
    (
        "season-static",
        {"freeze": True},
        "the static intensities best for the stock bought, kept all season",
    ),
    (
        "season-resolve",
        {"learn": False},
        "intensities re-solved every period for the stock on hand (inventory-aware)",
    ),
    (
        "season-learn",
        {"learn": True},
        "intensities re-solved every period for the stock on hand and the popularity "
        "trend estimated from the sales so far",
    ),
):
    register_policy(
        f"base-stock-{_name}",
        partial(_season_policy, _kwargs),
        summary=f"the season's buy up to level S per product, {_summary}",
        params=(Param("level", "the season's buy: order-up-to level S at its first period"),),
        applies=_season_reason,
        group="recommendation",
        family=RecommendAndReplenish,
    )
