"""Optimize a recommendation problem: the MIP bounds, the MIP rolling-horizon policy and
base-stock heuristics, all on the same sampled paths.

:func:`optimize_recommendation` is what ``optimization.optimize.optimize`` runs for a
problem with a recommendation market (``optimization.optimize.verify`` checks its
result).  :func:`base_stock_levels` tunes the base-stock levels of a fixed recommender
(also used by the Figure 2 study and the RL presets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from des_supply.evaluate import simulate
from des_supply.network import Network
from des_supply.policies import BaseStock
from des_supply.problem import Problem
from des_supply.recommendation import RecommendationModel
from des_supply.recommendation_policies import (
    MarginRecommender,
    PeriodicReview,
    Popularity,
    RecommendAndReplenish,
    Uniform,
    margins_of,
)

from .recommendation_mip import (
    MIPRecommendationPolicy,
    PatternSet,
    Products,
    make_patterns,
    model_of,
    perfect_information_bound,
    solve_plan,
)
from .recommendation_season import is_season, optimize_season, period_pmfs

__all__ = ["PI_MIP_BINARIES", "base_stock_levels", "optimize_recommendation"]

#: optimize_recommendation solves the perfect-information MIP up to this many binaries
#: (customers x patterns x periods), its LP relaxation above
PI_MIP_BINARIES = 5_000


def base_stock_levels(
    network: Network,
    market: Any,
    recommender: Any,
    *,
    review: int = 1,
    seed: int = 12345,
    periods: int = 600,
    warmup: int = 50,
    replications: int = 4,
    quantiles: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98),
) -> dict[str, float]:
    """Base-stock levels for a fixed (stateless) *recommender*: product i's level is the
    q-quantile of its demand over L_i + *review* periods (what an order must cover until
    the next one arrives) under the recommender's intensities (a sum of binomials, by exact
    convolution), with one q for all products chosen by CRN simulation of the profit (a
    coarse search: one q, not one per product).  ``review > 1``: the policy orders every
    *review* periods (:class:`~des_supply.recommendation_policies.PeriodicReview`)."""
    if isinstance(review, bool) or int(review) != review or review < 1:
        raise ValueError(f"review(={review!r}) must be an integer >= 1")
    model = market.model
    lead = {e.target: round(e.lead_time.mean) for e in network.edges}
    cdfs = []
    for product, pmf in zip(model.products, period_pmfs(model, recommender.recommend(None, model))):
        over = np.array([1.0])
        for _ in range(lead[product] + int(review)):
            over = np.convolve(over, pmf)
        cdfs.append(np.cumsum(over))

    def levels(q: float) -> dict[str, float]:
        return {p: float(np.searchsorted(cdf, q)) for p, cdf in zip(model.products, cdfs)}

    def replenishment(q: float) -> Any:
        stock = BaseStock(levels(q))
        return stock if review == 1 else PeriodicReview(stock, int(review))

    best, best_q = -np.inf, quantiles[0]
    for q in quantiles:
        res = simulate(
            network,
            RecommendAndReplenish(replenishment(q), recommender),
            periods=periods,
            warmup=warmup,
            replications=replications,
            seed=seed,
            market=market,
        )
        if res.mean > best:
            best, best_q = res.mean, q
    return levels(best_q)


def optimize_recommendation(
    problem: Problem,
    *,
    progress: bool = False,
    periods: int = 52,
    replications: int = 3,
    seed: int = 0,
    family: str = "single",
    levels: int = 2,
    horizon: int | None = None,
    relax: bool | None = None,
    time_limit: float = 60.0,
) -> Any:
    """Perfect-information bound and simulated policies of a recommendation problem.

    *problem* is a :class:`~des_supply.problem.Problem` with a recommendation market.

    The bound (pattern family *family*; "all" is exact too but its PI model is slow
    beyond a few periods; anchors uniform, popularity and the static margin optimum
    (:class:`~des_supply.recommendation_policies.MarginRecommender`), so every base-stock
    heuristic is in the set) and every policy are evaluated on the same *replications* sampled
    paths of *periods* periods (replications of *seed*): the MPC
    (:class:`MIPRecommendationPolicy`, same patterns, auto safety stock, horizon
    ``max L + 2``) and base stock with uniform, popularity or margin recommendations, levels
    searched by CRN simulation on other seeds.  The bound is the MIP's when it has at
    most ``PI_MIP_BINARIES`` pattern binaries (recommendation-small), else its LP
    relaxation (``relax``; still a valid bound, and close to what the MIP proves in
    minutes on recommendation-medium).  A selling season (``recommendation-fashion-*``,
    :func:`~optimization.recommendation_season.is_season`) goes to
    :func:`~optimization.recommendation_season.optimize_season`.  Returns an
    :class:`optimization.optimize.OptimizeResult` (objective profit).
    """
    from tqdm.auto import tqdm

    from .optimize import Benchmark, OptimizeResult

    if problem.market is None:
        raise ValueError(
            f"problem {problem.name!r} has no market (a recommendation market is required)"
        )
    if is_season(problem):  # one buy per selling season: recommendation-fashion-*
        return optimize_season(
            problem,
            progress=progress,
            periods=periods,
            replications=replications,
            seed=seed,
            family=family,
            levels=levels,
            time_limit=time_limit,
        )
    net = problem.network
    factory = problem.new_market

    model = model_of(factory())
    margin = MarginRecommender(margins_of(net, model.products))
    anchors = {
        "uniform": model.uniform(),
        "popularity": Popularity().recommend(None, model),
        "margin": margin.recommend(None, model),
    }
    pats = make_patterns(model, family, levels, anchors=anchors)
    pr = Products.of(net, model)
    H = int(pr.lead.max()) + 2 if horizon is None else int(horizon)
    if relax is None:
        relax = model.shape[1] * len(pats) * periods > PI_MIP_BINARIES
    bar = tqdm(total=replications + 3, desc="recommendation", disable=not progress, leave=False)
    bounds = []
    for k in range(replications):
        bounds.append(
            perfect_information_bound(
                net,
                model,
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
    value = float(np.mean([b.per_period_bound for b in bounds]))
    where = f"{replications} sampled paths of {periods} periods (replications of seed {seed})"
    optimal = Benchmark(
        "perfect-information-bound",
        value,
        {"family": family, "levels": levels, "patterns": len(pats), "relaxed": relax},
        f"perfect-information {'LP relaxation' if relax else 'MIP'} (Pyomo + "
        f"HiGHS) on {where}: an upper bound on the profit of any policy whose "
        "recommendations lie in the pattern set",
        None,
        periods,
    )

    def on_paths(policy: Any) -> float:
        return simulate(problem, policy, periods=periods, replications=replications, seed=seed).mean

    mpc = MIPRecommendationPolicy(net, model, H, patterns=pats, safety_stock="auto")
    policies = [
        Benchmark(
            "mip-mpc",
            on_paths(mpc),
            {"horizon": H, "family": family, "levels": levels, "safety_stock": "auto"},
            "rolling-horizon MIP on expected purchases (certainty equivalent)",
            mpc,
            periods,
        )
    ]
    bar.update()
    for name, rec in (("uniform", Uniform()), ("popularity", Popularity()), ("margin", margin)):
        levels_found = base_stock_levels(net, factory(), rec)
        policy = RecommendAndReplenish(BaseStock(levels_found), rec)
        policies.append(
            Benchmark(
                f"base-stock-{name}",
                on_paths(policy),
                {"level": levels_found},
                f"base-stock levels searched by CRN simulation, {name} recommendations",
                policy,
                periods,
            )
        )
        bar.update()
    bar.close()
    details = {
        "periods": periods,
        "replications": replications,
        "seed": seed,
        "bound_terminations": sorted({b.termination for b in bounds}),
        "fluid_bound": _fluid_bound(net, model, pats, periods),
        "bound_seconds": [b.time for b in bounds],
        "mpc_seconds_per_period": mpc.timing()["mean"],
        "covered_by_bound": [
            "mip-mpc",
            "base-stock-uniform",
            "base-stock-popularity",
            "base-stock-margin",
        ],
    }
    return OptimizeResult(problem, "profit", optimal, policies, details)


def _fluid_bound(
    network: Network, model: RecommendationModel, patterns: PatternSet, periods: int
) -> float | None:
    """Per-period LP bound on the expected profit of pattern-set policies (module docstring),
    or None when some lead time is random (then it is not a bound)."""
    if any(e.lead_time.constant is None for e in network.edges):
        return None
    return solve_plan(network, model, periods, patterns=patterns, relax=True).per_period_bound
