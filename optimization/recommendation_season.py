"""A selling season with one buy: the best static recommendation, exactly evaluated.

On a season problem (``recommendation-fashion``: every product bought once at the start
of a season of T periods, lead time 0, lost sales; :func:`~des_supply.
recommendation_policies.season_economics`) a *static* policy keeps intensities ``alpha``
for the whole season and buys ``q_i`` of each product.  Given ``alpha``, products are
independent (each purchase ``d[i, j]`` is its own binomial), so the expected season
profit is a sum over products, and for each product it is exact:

    price E[min(S_T, q)] - penalty E[(S_T - q)^+] - holding sum_{k=1..T} E[(q - S_k)^+]
    - unit_cost q

with ``S_k`` the product's demand over k periods, whose distribution is the k-fold
convolution of one period's (itself a convolution of binomials, eq. 9).  With a
popularity trend (``trend_sd > 0``) the products are independent given the season's
shift ``z``; the expectation over ``z`` is the average over 32 scrambled-Sobol normal
points (:func:`trend_samples`): exact given each point, a quasi-Monte Carlo average over
them (on recommendation-fashion-small the static-best policy's exact value 590.5 per
season lies inside its simulated 95% CI, [570.4, 596.4] over 100 seasons).  The best buy
for ``alpha`` is the integer q maximising it (up to the buy capacity):
:func:`static_season_profit`.

:func:`best_static` searches the static class: multi-start L-BFGS over the softmax scores
and the buys jointly on the normal approximation of the same profit
(:func:`~des_supply.recommendation_policies.season_profit`, closed form and gradient),
from the uniform, popularity and margin-optimal intensities and random scores; then each
local optimum, and the three anchors, is evaluated *exactly* with its exact best buys;
the best is returned.  It is a local search over a non-concave objective: the best
found, not a proven optimum (``benchmarks/recommendation_fashion.py`` reports how much
the starts disagree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import minimize

from des_supply.evaluate import simulate
from des_supply.policies import BaseStock
from des_supply.recommendation import RecommendationModel
from des_supply.recommendation_policies import (
    MarginRecommender,
    Popularity,
    RecommendAndReplenish,
    SeasonEconomics,
    SeasonResolve,
    Uniform,
    margins_of,
    scores_gradient,
    season_economics,
    season_profit,
)

__all__ = [
    "StaticSeason",
    "best_static",
    "is_season",
    "optimize_season",
    "period_pmfs",
    "season_policies",
    "season_setting",
    "static_season_profit",
    "trend_samples",
]


def period_pmfs(model: RecommendationModel, alpha: np.ndarray) -> list[np.ndarray]:
    """Each product's pmf of one period's demand ``sum_j Binomial(c_j, gamma_ij)``."""
    gamma = model.probabilities(alpha)
    out = []
    for i in range(model.shape[0]):
        pmf = np.array([1.0])
        for j, c in enumerate(model.capacity):
            pmf = np.convolve(pmf, stats.binom.pmf(np.arange(int(c) + 1), int(c), gamma[i, j]))
        out.append(pmf)
    return out


def _product_profit(pmf: np.ndarray, econ: SeasonEconomics, i: int) -> np.ndarray:
    """Expected season profit of product i for every buy q = 0 .. most demand (exact)."""
    T = econ.season
    top = (len(pmf) - 1) * T
    cum = np.array([1.0])
    held = np.zeros(top + 2)  # sum_k E[(q - S_k)^+] for q = 0 .. top + 1
    for _ in range(T):
        cum = np.convolve(cum, pmf)
        cdf = np.cumsum(np.pad(cum, (0, top + 1 - len(cum))))
        held[1:] += np.cumsum(cdf)  # E[(q - S)^+] = sum_{u < q} P(S <= u)
    cdf_T = np.cumsum(np.pad(cum, (0, top + 1 - len(cum))))
    over = np.concatenate([[0.0], np.cumsum(cdf_T)])  # E[(q - S_T)^+]
    q = np.arange(top + 2, dtype=float)
    mean = float(np.arange(len(cum)) @ cum)
    sales = q - over
    short = mean - q + over
    value = (
        econ.price[i] * sales
        - econ.penalty[i] * short
        - econ.holding[i] * held
        - econ.unit_cost[i] * q
    )
    cap = econ.capacity[i]
    if np.isfinite(cap):
        value = value[: int(cap) + 1]
    return value


def trend_samples(model: RecommendationModel, trend_sd: float, count: int = 32) -> np.ndarray:
    """(K, N) popularity shifts standing for ``N(0, trend_sd)`` per product: scrambled-Sobol
    normal quasi-random points (seed 0), or one row of zeros without a trend."""
    n = model.shape[0]
    if trend_sd <= 0:
        return np.zeros((1, n))
    qmc = stats.qmc.MultivariateNormalQMC(np.zeros(n), np.eye(n) * trend_sd**2, seed=0)
    return qmc.random(count)


def static_season_profit(
    model: RecommendationModel,
    econ: SeasonEconomics,
    alpha: np.ndarray,
    trends: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Exact expected profit of one season with intensities *alpha* kept fixed and the
    best whole-unit buys, and those buys (N,).  With *trends* (K, N) the expectation is
    also over the season's popularity shift, as the average over those shifts (exact
    given each)."""
    alpha = model.check(alpha)
    rows = np.zeros((1, model.shape[0])) if trends is None else np.atleast_2d(trends)
    values: list[np.ndarray] = [0.0] * model.shape[0]  # type: ignore[list-item]
    for z in rows:
        for i, pmf in enumerate(period_pmfs(model.shifted(z), alpha)):
            values[i] = values[i] + _product_profit(pmf, econ, i) / len(rows)
    buys = np.array([float(np.argmax(v)) for v in values])
    return float(sum(float(np.max(v)) for v in values)), buys


@dataclass(frozen=True)
class StaticSeason:
    """The best static recommendation found and its buys.

    ``profit`` is the exact expected season profit; ``candidates`` maps each start's
    label to its exact profit (the search's spread).
    """

    alpha: np.ndarray
    buys: np.ndarray
    profit: float
    label: str
    candidates: dict[str, float] = field(default_factory=dict)

    def levels(self, model: RecommendationModel) -> dict[str, float]:
        """The buys as base-stock levels per product (the node orders up to them once)."""
        return dict(zip(model.products, map(float, self.buys)))


def _joint_search(
    model: RecommendationModel,
    econ: SeasonEconomics,
    alpha0: np.ndarray,
    q0: np.ndarray,
    trends: np.ndarray,
) -> np.ndarray:
    """L-BFGS-B over (scores, buys) on the normal-approximation profit, averaged over the
    *trends* shifts, from *alpha0*, *q0*."""
    n_scores = model.base_ratings.size
    shifted = [model.shifted(z) for z in trends]

    def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
        alpha = model.from_logits(x[:n_scores])
        q = x[n_scores:]
        value, g_q = -float(econ.unit_cost @ q), -econ.unit_cost
        g_scores: float | np.ndarray = 0.0
        for m in shifted:
            v, g_gamma, gq = season_profit(m, econ, alpha, q, econ.season)
            value += v / len(shifted)
            g_scores = g_scores + scores_gradient(m, alpha, g_gamma) / len(shifted)
            g_q = g_q + gq / len(shifted)
        return -value, -np.concatenate([g_scores, g_q])

    caps = [None if not np.isfinite(c) else float(c) for c in econ.capacity]
    x0 = np.concatenate([np.log(np.maximum(alpha0, 1e-9)).ravel(), q0])
    bounds = [(None, None)] * n_scores + [(0.0, c) for c in caps]
    res = minimize(loss, x0, jac=True, method="L-BFGS-B", bounds=bounds)
    return model.from_logits(res.x[:n_scores])


def best_static(
    model: RecommendationModel,
    econ: SeasonEconomics,
    network: Any,
    *,
    trend_sd: float = 0.0,
    starts: int = 6,
    samples: int = 32,
    search_samples: int = 8,
    seed: int = 0,
) -> StaticSeason:
    """The best static (alpha, buys) found (module docstring): the anchors uniform,
    popularity and margin-optimal, and L-BFGS from each of them and from ``starts - 3``
    random score matrices (N(0, 2), from *seed*), all scored exactly, averaged over
    *samples* trend shifts (the search over *search_samples* of them)."""
    anchors = {
        "uniform": model.uniform(),
        "popularity": Popularity().recommend(None, model),
        "margin": MarginRecommender(margins_of(network, model.products)).recommend(None, model),
    }
    rng = np.random.default_rng(seed)
    for k in range(max(0, starts - len(anchors))):
        anchors[f"random-{k}"] = model.from_logits(rng.normal(0.0, 2.0, model.shape))
    trends = trend_samples(model, trend_sd, samples)
    search = trend_samples(model, trend_sd, search_samples)
    candidates: dict[str, tuple[float, np.ndarray, np.ndarray]] = {}
    for label, alpha in anchors.items():
        if not label.startswith("random"):
            candidates[label] = (*static_season_profit(model, econ, alpha, trends), alpha)
        d = model.expected_demand(alpha) * econ.season
        q0 = np.minimum(d, np.where(np.isfinite(econ.capacity), econ.capacity, d))
        found = _joint_search(model, econ, alpha, q0, search)
        candidates[f"lbfgs-{label}"] = (*static_season_profit(model, econ, found, trends), found)
    label = max(candidates, key=lambda k: candidates[k][0])
    profit, buys, alpha = candidates[label]
    return StaticSeason(
        alpha=alpha,
        buys=buys,
        profit=profit,
        label=label,
        candidates={k: v[0] for k, v in candidates.items()},
    )


def is_season(problem: Any) -> bool:
    """Whether *problem* is a selling season (its products buy once per review period > 1,
    lead time 0, lost sales: :func:`~des_supply.recommendation_policies.season_economics`)."""
    model = getattr(problem.market, "model", None)
    if model is None:
        return False
    try:
        return season_economics(problem.network, model.products).season > 1
    except (ValueError, KeyError):
        return False


def season_setting(problem: Any) -> tuple[RecommendationModel, SeasonEconomics, StaticSeason]:
    """A selling-season problem's market model (of a fresh market), its economics and its
    best static recommendation (:func:`best_static`, the market's trend uncertainty
    included): what the studies, benchmarks and :func:`season_policies` start from."""
    market = problem.new_market()
    model, network = market.model, problem.network
    econ = season_economics(network, model.products)
    trend_sd = float(getattr(market, "trend_sd", 0.0))
    return model, econ, best_static(model, econ, network, trend_sd=trend_sd)


def season_policies(problem: Any, static: StaticSeason) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The season's benchmark policies by name, with their registry parameters: base stock
    with the uniform, popularity and margin-optimal recommendations (each with its exact
    best buys), the best static recommendation (``base-stock-season-static``) and the two
    inventory-aware ones, re-solving with and without trend learning, both buying what
    the best static policy buys."""
    net, model = problem.network, problem.market.model
    econ = season_economics(net, model.products)
    trends = trend_samples(model, float(getattr(problem.market, "trend_sd", 0.0)))
    out: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name, rec in (
        ("uniform", Uniform()),
        ("popularity", Popularity()),
        ("margin", MarginRecommender(margins_of(net, model.products))),
    ):
        buys = static_season_profit(model, econ, rec.recommend(None, model), trends)[1]
        levels = dict(zip(model.products, map(float, buys)))
        out[f"base-stock-{name}"] = (
            RecommendAndReplenish(BaseStock(levels), rec),
            {"level": levels},
        )
    levels = static.levels(model)
    for name, kwargs in (
        ("season-static", {"freeze": True}),
        ("season-resolve", {"learn": False}),
        ("season-learn", {"learn": True}),
    ):
        resolve = SeasonResolve(start=static.alpha, **kwargs)
        out[f"base-stock-{name}"] = (
            RecommendAndReplenish(BaseStock(levels), resolve),
            {"level": levels},
        )
    return out


def optimize_season(
    problem: Any,
    *,
    progress: bool = False,
    periods: int = 52,
    replications: int = 3,
    seed: int = 0,
    family: str = "single",
    levels: int = 2,
    time_limit: float = 60.0,
    max_binaries: int = 5_000,
) -> Any:
    """Bound and policies of a selling-season recommendation problem (``optimize`` routes
    ``recommendation-fashion-*`` here).

    *periods* is rounded to whole seasons (at least one).  The bound is the
    perfect-information MIP (its LP relaxation above *max_binaries* pattern binaries) on
    the engine's draws and trends, over the pattern family plus the anchors uniform,
    popularity, margin-optimal and the best static recommendation: it covers the four
    static rows, not the re-solving ones (their intensities are not in the pattern set).
    The policies (:func:`season_policies`) are simulated on the same *replications*
    paths.  Returns an :class:`optimization.optimize.OptimizeResult` (objective profit).
    """
    from tqdm.auto import tqdm

    from .optimize import Benchmark, OptimizeResult
    from .recommendation_mip import make_patterns, perfect_information_bound

    net, model = problem.network, problem.market.model
    econ = season_economics(net, model.products)
    trend_sd = float(getattr(problem.market, "trend_sd", 0.0))
    periods = econ.season * max(1, round(periods / econ.season))
    static = best_static(model, econ, net, trend_sd=trend_sd)
    anchors = {
        "uniform": model.uniform(),
        "popularity": Popularity().recommend(None, model),
        "margin": MarginRecommender(margins_of(net, model.products)).recommend(None, model),
        "best-static": static.alpha,
    }
    pats = make_patterns(model, family, levels, anchors=anchors)
    relax = model.shape[1] * len(pats) * periods > max_binaries
    runs = season_policies(problem, static)
    bar = tqdm(total=replications + len(runs), desc="season", disable=not progress, leave=False)
    bounds = []
    for k in range(replications):
        bounds.append(
            perfect_information_bound(
                net,
                problem.new_market(),
                periods,
                seed,
                k,
                patterns=pats,
                relax=relax,
                time_limit=time_limit,
                rel_gap=1e-4,
            )
        )
        bar.update()
    where = f"{replications} sampled paths of {periods} periods (replications of seed {seed})"
    optimal = Benchmark(
        "perfect-information-bound",
        float(np.mean([b.per_period_bound for b in bounds])),
        {"family": family, "levels": levels, "patterns": len(pats), "relaxed": relax},
        f"perfect-information {'LP relaxation' if relax else 'MIP'} (Pyomo + HiGHS) on "
        f"{where}, trends included: an upper bound on the profit of any policy whose "
        "recommendations lie in the pattern set",
        None,
        periods,
    )
    policies = []
    for name, (policy, params) in runs.items():
        res = simulate(problem, policy, periods=periods, replications=replications, seed=seed)
        policies.append(
            Benchmark(
                name, res.mean, params, _NOTES[name.removeprefix("base-stock-")], policy, periods
            )
        )
        bar.update()
    bar.close()
    details = {
        "periods": periods,
        "replications": replications,
        "seed": seed,
        "season": econ.season,
        "trend_sd": trend_sd,
        "static": {
            "label": static.label,
            "season_profit": static.profit,
            "buys": static.buys.tolist(),
            "candidates": static.candidates,
        },
        "bound_terminations": sorted({b.termination for b in bounds}),
        "covered_by_bound": [
            "base-stock-uniform",
            "base-stock-popularity",
            "base-stock-margin",
            "base-stock-season-static",
        ],
    }
    return OptimizeResult(problem, "profit", optimal, policies, details)


_NOTES = {
    "uniform": "uniform recommendations, exact best season buy",
    "popularity": "popularity recommendations, exact best season buy",
    "margin": "margin-optimal recommendations, exact best season buy",
    "season-static": "best static recommendation and buy found (exact season profit, "
    "multi-start search)",
    "season-resolve": "inventory-aware: re-solved every period for the stock on hand "
    "(the static buy)",
    "season-learn": "inventory-aware, re-solved every period for the stock on hand and the "
    "trend estimated from sales (the static buy)",
}
