"""Figure 2 of the seed paper: is coordinating replenishment and recommendation worth it?

For one problem with a recommendation market, in each shortage setting (lost sales,
backlog; :func:`shortage_variants`), this trains the seed paper's agents and evaluates
them, with heuristic references, on the
same episodes (common random numbers):

=========================  ==================================================================
row                        what decides
=========================  ==================================================================
Joint IM-RS                one PPO agent: orders and intensities (``control="joint"``)
IM-only                    PPO orders; intensities random (Dirichlet(1) each period)
RS-only                    PPO intensities; orders random (``U{0..2 mean demand}``)
Naive IM-RS                IM-only's order head + RS-only's recommendation head, each
                           trained without the other (siloed departments)
MAPPO (two-timescale)      a replenishment and a recommendation agent (PettingZoo env),
                           centralised critic, decentralised execution, each with its own
                           learning rate (second seed paper; :mod:`rl.mappo`)
base-stock + uniform       no targeting; base-stock levels tuned by CRN simulation for
                           each recommender (:func:`base_stock_levels`)
base-stock + popularity    intensities ~ expected purchases without advice
base-stock + margin        the static intensities maximising expected margin (no stock
                           information; :class:`~des_supply.recommendation_policies.MarginRecommender`)
base-stock + random        uniform's levels, the random intensities of IM-only
MIP rolling horizon        :class:`optimization.recommendation_mip.MIPRecommendationPolicy`
                           with the uniform/popularity/margin intensities as extra patterns
                           (small only by default: one MIP per period)
periodic base-stock        with ``replenishment_period`` k > 1 only: orders up to S every k
(k=K) + margin             periods (:class:`~des_supply.recommendation_policies.PeriodicReview`),
                           S covering L + k periods (:func:`periodic_levels`), margin
                           intensities: what the MAPPO pair's slower review costs by itself
=========================  ==================================================================

On a selling season (``recommendation-fashion-*``, :func:`optimization.
recommendation_season.is_season`) the heuristic rows are instead the season policies
(:func:`optimization.recommendation_season.season_policies`: base stock with
uniform/popularity/margin, ``base-stock-season-static`` the best static recommendation,
``-season-resolve``/``-season-learn`` inventory-aware), the agents are anchored on the
best static policy (its buys and intensities), the MAPPO replenishment agent decides
once per season, and the envs run with ``finite_horizon=True`` (episodes of
``settings.periods`` periods, meant to be one season, end in a termination: leftovers
are worth their salvage only, so the critic must not bootstrap a next season's value
from them; the observation shows the time left), with recommendation actions reaching
``SEASON_LOGIT_SCALE`` = 24 logits around the anchor instead of 3 (the static anchor is a
corner that the inventory-aware policy leaves by more than 3 logits; 24 was chosen on
validation seasons, see the constant).

**Action parameterisation** (``anchor=True``, the default): every agent's order-up-to
levels live in a window around the base-stock levels tuned for the margin recommender
and its recommendation scores are offsets from that recommender's log-intensities
(:func:`anchors`; the env's ``min_level``/``max_level``/``base_scores``), so an agent
starts near ``base-stock + margin`` and learns inventory-aware deviations, as the
single-stage preset does around the newsvendor level.  The IM-only agent's random
intensities and the RS-only agent's random orders are the seed paper's, unanchored.
``anchor=False`` gives the plain mapping (levels in ``[0, 3 d (L + 1)]``, scores
``3 u``).

**The two-timescale rule** (the MAPPO row; second seed paper, Jiang, Han, Peng & Zhang
2025, "Closing the Loop", arXiv 2510.04272; mechanics in :mod:`rl.mappo`):

* *Who decides what, how often.*  The replenishment agent sets the N order-up-to levels
  in the periods ``t % k_R == 0`` (``StudySettings.replenishment_period`` k_R, default
  1; on a selling season the season length, its only decision) and orders nothing in
  between; the recommendation agent sets the (N, M) intensities (N*M scores, or 2N + M
  with ``score_mode="structured"``) in the periods ``t % k_Q == 0``
  (``recommendation_period``, default 1), which stay in force in between.  Both get
  the team reward (the period's profit) and see the global observation plus their
  phase (acting flag, ``(t mod k)/k``).
* *Who learns how fast.*  An iteration collects 8 x 128 joint steps.  The centralised
  critic V(s) and both actors update at every iteration (update period 1); the
  recommendation actor, the **fast** one, with ``fast_lr`` = 1e-3, the replenishment
  actor, the **slow** one, with ``slow_lr`` = 3e-4 (above 50 scores: 3e-4 and 1e-4),
  the critic with ``fast_lr``: step-size ratio slow / fast = 0.3 (1/3 on wide
  problems), both annealed linearly to 0 by the same factor, so the ratio stays
  constant.  Agent k's clipped surrogate uses only its acting steps (a replenishment
  agent with k_R = 3 learns from a third of the steps).  ``tests/scenarios/
  test_multi_timescale.py`` checks in the run's ``progress.csv`` that the two actors
  really train at their two rates and that the replenishment agent acts in 1 / k_R of
  the steps.
* *When it converges.*  The stored text of the follow-up paper is its abstract: it says
  the architecture "assigns distinct learning speeds based on task complexity and
  responsiveness", that "multi-timescale updates enhance convergence stability", and
  "We further establish the asymptotic convergence of the proposed algorithm"; its
  assumptions are not in what we have.  The standard conditions of two-timescale
  stochastic approximation (Borkar 1997; Konda & Tsitsiklis 2003), which such a proof
  rests on, are: fast and slow step sizes a_n, b_n with sum a_n = sum b_n = infinity,
  sum (a_n^2 + b_n^2) < infinity and **b_n / a_n -> 0**; for every frozen slow
  parameter the fast iteration has a globally asymptotically stable equilibrium,
  Lipschitz in the slow parameter; the slow ODE driven by that equilibrium has
  asymptotically stable equilibria; bounded iterates; martingale-difference noise of
  bounded variance.  Our run satisfies none of the step-size conditions literally (a
  constant ratio 0.3, Adam, clipped multi-epoch PPO steps, a finite linear schedule):
  the two rates are the paper's design idea, not its convergence regime.

Every row is an engine policy run by :func:`des_supply.evaluate.simulate` with the
problem's market, so episode k of every row uses replication k's uniforms; the value
of an episode is its total profit (the seed paper plots episode rewards).  The table
gives the mean profit per period with a 95 % CI and the paired difference to Joint
IM-RS; the figure shows kernel density estimates of episode profit, one panel per
shortage setting, as the seed paper's Figure 2 does.

Outputs in ``out_dir``: ``study.json``, ``study.md``, ``figure2.png`` and one training
folder per agent and setting (``<shortage>/<agent>``, each with its learning curve).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from des_supply.evaluate import simulate
from des_supply.policies import BaseStock
from des_supply.problem import Problem
from des_supply.recommendation import RecommendationMarket
from des_supply.recommendation_policies import (
    MarginRecommender,
    PeriodicReview,
    Popularity,
    RandomRecommender,
    RecommendAndReplenish,
    Recommender,
    Uniform,
    margins_of,
)
from optimization.recommendation_optimize import base_stock_levels
from optimization.recommendation_season import is_season
from rl.evaluation import Evaluation, paired

__all__ = [
    "JOINT",
    "SEASON_LOGIT_SCALE",
    "VALIDATION_EVAL_SEED",
    "VALIDATION_FIRST_SEED",
    "StudyResult",
    "StudySettings",
    "Trace",
    "anchors",
    "figure2",
    "kde_panel",
    "load_env_kwargs",
    "periodic_levels",
    "ppo_config",
    "run_figure2",
    "run_study",
    "shortage_variants",
    "trace_agents",
]

JOINT = "Joint IM-RS"
# On a selling season the anchor (the best static recommendation) is a corner: each product
# shown to one customer, the others' intensities floored at 1e-3 (log -6.9).  Within +-3
# logits of it the inventory-aware re-solving policy cannot be played (projected onto that
# range it keeps +0.03 of its +2.51 per period over the static policy; at +-8 all of it:
# benchmarks/figure2.py --reach).  Chosen on validation runs (figure2.py --validation: the
# joint agent alone, 100k steps, training seed 101, 200 validation seasons; share of the gap
# static -> base-stock-season-learn, 3.13 per period, captured): 8 logits 24%, 12 36%,
# 16 47%, 24 51% (seed 102: 46%), 32 49%; a smaller exploration std (log std -1.5) kept the
# agent on its anchor (-12%), a larger one (0 at 12 logits) lost it (-2%)
# (benchmarks/results/figure2_fashion_trial_*.json, figure2_fashion_trials.json).  The agent's
# recommendation responds to the state more the wider the reach (spread of its
# log-intensities over seasons 1.8 at 8 logits, 3.6 at 24, the re-solving policy's 5.0:
# figure2.py --diagnose).  On the table's 200 seasons, seeds 1-3, every agent
# (figure2_fashion_v2.json): Joint 51.45 per period, MAPPO 51.49, +0.65 / +0.70 over 8
# logits; 42-67% / 45-66% of the gap 49.68 -> 52.92 captured.
SEASON_LOGIT_SCALE = 24.0
EVAL_SEED_OFFSET = 2_000_003  # evaluation episodes never share a root seed with training
# Settings are chosen on validation runs: other evaluation seasons (this root seed, not
# EVAL_SEED_OFFSET + seed) and other training seeds (from 101), so the table's evaluation
# seasons and seeds 1-3 play no part in the choice (benchmarks/figure2.py --validation)
VALIDATION_EVAL_SEED = 7_000_001
VALIDATION_FIRST_SEED = 101


@dataclass(frozen=True)
class StudySettings:
    """Budgets and learning settings of one study."""

    steps: int = 150_000  # PPO steps per single agent
    mappo_steps: int | None = None  # default: steps
    seed: int = 1
    episodes: int = 30  # evaluation episodes (common to all rows)
    periods: int = 128  # periods per episode, training and evaluation
    replenishment_period: int = 1  # MAPPO: decision period of the replenishment agent
    recommendation_period: int = 1
    fast_lr: float = 1e-3  # MAPPO: recommendation actor and critic (fast); wide: <= 3e-4
    slow_lr: float = 3e-4  # MAPPO: replenishment actor (slow timescale); wide: <= 1e-4
    mpc: bool = True  # include the MIP rolling-horizon policy where affordable
    mpc_max_products: int = 3  # one MIP per period: ~0.05 s on small, ~0.5 s on medium
    search_periods: int = 600  # base-stock level search (CRN simulation) budget
    search_replications: int = 4
    agents: tuple[str, ...] = ("joint", "im", "rs", "mappo")
    anchor: bool = True  # actions relative to base-stock + margin (see module doc)
    log_std_init: float = -0.5  # initial exploration of the agents' Box actions
    # small, lost sales, joint agent, 150k steps, 30 CRN episodes: gamma .99 / lambda .95 /
    # lr 3e-4 -> 54.94 profit per period; .95 / .9 / 1e-3 -> 55.58 (.9 / .8: 55.57);
    # 400k steps did not help (55.45); base-stock + margin makes 55.83
    gamma: float = 0.95
    gae_lambda: float = 0.9
    learning_rate: float = 1e-3  # single agents (MAPPO: fast_lr / slow_lr)
    score_mode: str = "free"  # the recommendation action: "free" N x M scores or "structured"
    # root seed of the evaluation episodes; None: EVAL_SEED_OFFSET + seed.  Several training
    # seeds evaluated on the same episodes (common random numbers, benchmarks/figure2.py) set it
    eval_seed: int | None = None
    # False: the heuristic rows are left out (the anchors are still computed); they do not
    # depend on the training seed, so benchmarks/figure2.py takes them from another seed's run
    references: bool = True
    # the agents also observe each product's demand so far over its expectation (a trend
    # estimate from sales; rl.recommendation_env.RecommendationLayout demand_features)
    demand_features: bool = False
    # the reach of a recommendation action around the anchor: logits = base + logit_scale * u,
    # u in [-1, 1] (rl.recommendation_env.RecommendationLayout); None: SEASON_LOGIT_SCALE on
    # a selling season, else the env's default, 3
    logit_scale: float | None = None


@dataclass
class StudyResult:
    name: str  # the problem's name
    params: dict[str, Any]  # the problem's parameters (provenance)
    shortage: str
    rows: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "shortage": self.shortage,
            "rows": self.rows,
            **self.details,
        }

    def table(self) -> str:
        head = (
            f"| policy ({self.shortage}) | mean profit/period | 95% CI | vs {JOINT} "
            "(paired, 95% CI) | episode profit (mean) |"
        )
        lines = [head, "|---|---|---|---|---|"]
        for r in self.rows:
            d = r["vs_joint"]
            vs = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]" if d is not None else "-"
            lines.append(
                f"| {r['name']} | {r['mean']:.3f} | [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"
                f" | {vs} | {r['episode_mean']:.1f} |"
            )
        return "\n".join(lines)


# -- heuristic references -----------------------------------------------------------------------
# -- agents ---------------------------------------------------------------------------------------
def ppo_config(settings: StudySettings, n_products: int, n_customers: int, seed: int) -> Any:
    from rl.ppo import PPOConfig

    wide = is_wide(n_products, n_customers)
    return PPOConfig(
        total_steps=settings.steps,
        n_envs=8,
        n_steps=128,
        gamma=settings.gamma,
        gae_lambda=settings.gae_lambda,
        n_epochs=10,
        n_minibatches=8,
        clip_vloss=False,
        learning_rate=min(settings.learning_rate, WIDE_LR) if wide else settings.learning_rate,
        target_kl=WIDE_TARGET_KL if wide else None,
        norm_obs=False,
        norm_reward=False,
        hidden_sizes=(256, 256) if wide else (64, 64),
        log_std_init=settings.log_std_init,
        seed=seed,
    )


# Wide actions (medium: 310 components, large: 2020): the log-probability of a many-dimensional
# Gaussian moves a lot per step; at lr 1e-3 and no KL limit the joint agent on medium blew up
# (approx_kl ~ 300, then NaN) after 84k steps.  Hence a lower rate and early-stopped epochs.
WIDE_LR, WIDE_TARGET_KL = 3e-4, 0.03


def is_wide(n_products: int, n_customers: int) -> bool:
    """Settings for wide action spaces (more than 50 recommendation scores)."""
    return n_products * n_customers > 50


def anchors(
    network: Any,
    model: Any,
    levels: Mapping[str, float],
    review: int = 1,
    alpha: np.ndarray | None = None,
) -> dict[str, Any]:
    """Env keyword arguments that centre the agents' actions on a heuristic: order-up-to
    windows ``[lo, 2S - lo]``, ``lo = floor(S/2)``, around base-stock levels *levels*
    (u = 0 plays S) and base scores ``log(max(alpha_margin, 1e-3))`` (u = 0 plays the
    margin recommender, its tiny intensities floored so the agent can still raise them).
    With a *review* period k > 1 the window's width is stretched by ``(L + k) / (L + 1)``
    (the levels cover L + 1 periods; a periodic order must cover L + k).

    Measured at u = 0 (30 CRN episodes, lost sales): 55.78 small / 341.0 medium against
    55.83 / 341.6 for base stock + margin; the first version of this window ([S/2,
    3S/2 + 2], floor 0.01) played 55.0 / 333.5, which the agents started from."""
    if alpha is None:  # the margin recommender's intensities (pass them if already known)
        alpha = MarginRecommender(margins_of(network, model.products)).recommend(None, model)
    s = np.array([levels[p] for p in model.products], dtype=float)
    lead = {e.target: float(e.lead_time.mean) for e in network.edges}
    stretch = np.array([(lead[p] + review) / (lead[p] + 1) for p in model.products])
    lo = np.floor(s / 2)
    hi = lo + np.maximum(2 * (s - lo), 1.0) * stretch
    return {
        "min_level": dict(zip(model.products, lo)),
        "max_level": dict(zip(model.products, np.ceil(hi))),
        "base_scores": np.log(np.maximum(alpha, 1e-3)),
    }


def _train_single(
    problem: Problem,
    control: str,
    settings: StudySettings,
    env_kwargs: dict[str, Any],
    out: Path,
    progress: bool,
) -> Callable[[np.ndarray], Any]:
    from rl.ppo import load_agent, train
    from rl.recommendation_env import make_recommendation_env

    def thunk() -> Any:
        return make_recommendation_env(
            problem, control=control, periods=settings.periods, **env_kwargs
        )

    env = thunk()
    n, m = env.model.shape
    train(thunk, ppo_config(settings, n, m, settings.seed), out, progress=progress)
    return load_agent(out)


def _train_mappo(
    problem: Problem,
    settings: StudySettings,
    env_kwargs: dict[str, Any],
    out: Path,
    progress: bool,
    replenishment_period: int | None = None,
) -> Any:
    from rl.mappo import MAPPOConfig, load_mappo, train_mappo
    from rl.recommendation_env import recommendation_parallel_env

    def thunk() -> Any:
        return recommendation_parallel_env(
            problem,
            periods=settings.periods,
            replenishment_period=replenishment_period or settings.replenishment_period,
            recommendation_period=settings.recommendation_period,
            **env_kwargs,
        )

    env = thunk()
    n, m = env.layout.model.shape
    wide = is_wide(n, m)
    fast, slow = (
        (min(settings.fast_lr, WIDE_LR), min(settings.slow_lr, WIDE_LR / 3))
        if wide
        else (settings.fast_lr, settings.slow_lr)
    )
    config = MAPPOConfig(
        total_steps=settings.mappo_steps or settings.steps,
        n_envs=8,
        n_steps=128,
        gamma=settings.gamma,
        gae_lambda=settings.gae_lambda,
        n_epochs=10,
        n_minibatches=8,
        target_kl=WIDE_TARGET_KL if wide else None,
        clip_vloss=False,
        learning_rate=slow,
        norm_obs=False,
        hidden_sizes=(256, 256) if wide else (64, 64),
        seed=settings.seed,
        log_std_init=settings.log_std_init,
        variant="mappo",
        critic_learning_rate=fast,
        agent_learning_rates={"recommendation": fast, "replenishment": slow},
    )
    train_mappo(thunk, config, out, progress=progress)
    return env, load_mappo(out)


# -- the study ---------------------------------------------------------------------------------
def _evaluation(
    name: str, problem: Problem, policy: Any, settings: StudySettings, eval_seed: int
) -> Evaluation:
    res = simulate(
        problem,
        policy,
        periods=settings.periods,
        warmup=0,
        replications=settings.episodes,
        seed=eval_seed,
    )
    return Evaluation.of(name, res.per_replication)


def run_study(
    problem: Problem,
    settings: StudySettings | None = None,
    out_dir: str | Path = "runs/figure2",
    progress: bool = True,
) -> StudyResult:
    """Train the agents and evaluate every row of the module table on *problem* (a problem
    with a recommendation market; one shortage setting, the problem's own)."""
    from rl.recommendation_env import make_recommendation_env

    settings = settings or StudySettings()
    if problem.kind.market != "recommendation":
        raise ValueError(f"problem {problem.name!r} has no recommendation market ({problem.kind})")
    network = problem.network
    make_market = problem.new_market
    # a recommendation market (problem.kind.market, checked above)
    market = cast(RecommendationMarket, make_market())
    model = market.model
    shortage = next(n.shortage for n in network.stock_nodes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eval_seed = (
        EVAL_SEED_OFFSET + settings.seed if settings.eval_seed is None else settings.eval_seed
    )
    started = time.perf_counter()
    timings: dict[str, float] = {}
    evals: list[Evaluation] = []

    # heuristics
    t0 = time.perf_counter()
    season = is_season(problem)
    if season:  # one buy per season: the season's own references and anchor
        levels, margin_alpha, season_evals = _season_references(problem, settings, eval_seed)
        evals.extend(season_evals)
        anchor_levels = levels["season-static"]
        team_period = max(n.review_period for n in network.stock_nodes)
        timings["heuristics"] = time.perf_counter() - t0
    else:
        levels, margin_alpha, anchor_levels, team_period = _references(
            problem, settings, eval_seed, evals, timings, t0
        )

    # single agents (the seed paper's three) and their naive combination
    env_kwargs = (
        anchors(network, model, anchor_levels, alpha=margin_alpha) if settings.anchor else {}
    )
    if settings.score_mode != "free":
        env_kwargs["score_mode"] = settings.score_mode
    if season:  # the season's end is the end: terminate there, show the time left
        env_kwargs["finite_horizon"] = True
    if settings.demand_features:
        env_kwargs["demand_features"] = True
    if settings.logit_scale is not None or season:
        scale = settings.logit_scale if settings.logit_scale is not None else SEASON_LOGIT_SCALE
        env_kwargs["logit_scale"] = float(scale)
    (out / "env.json").write_text(json.dumps(_jsonable(env_kwargs), indent=2) + "\n")
    agents: dict[str, Any] = {}
    for key, control, name in (
        ("joint", "joint", JOINT),
        ("im", "replenishment", "IM-only"),
        ("rs", "recommendation", "RS-only"),
    ):
        if key not in settings.agents:
            continue
        t0 = time.perf_counter()
        agents[key] = _train_single(problem, control, settings, env_kwargs, out / key, progress)
        timings[key] = time.perf_counter() - t0
        env = make_recommendation_env(
            problem, control=control, periods=settings.periods, **env_kwargs
        )
        evals.append(_evaluation(name, problem, env.policy(agents[key]), settings, eval_seed))
    if "im" in agents and "rs" in agents:
        joint_env = make_recommendation_env(
            problem, control="joint", periods=settings.periods, **env_kwargs
        )
        im, rs = agents["im"], agents["rs"]
        naive = joint_env.policy(lambda obs: joint_env.join(im(obs), rs(obs)))
        evals.append(_evaluation("Naive IM-RS", problem, naive, settings, eval_seed))
    if "mappo" in settings.agents:
        t0 = time.perf_counter()
        team_kwargs = env_kwargs
        if settings.anchor and team_period > 1 and not season:
            team_kwargs = {
                **env_kwargs,
                **anchors(network, model, anchor_levels, team_period, alpha=margin_alpha),
            }
        (out / "team_env.json").write_text(
            json.dumps(_jsonable({**team_kwargs, "replenishment_period": team_period}), indent=2)
            + "\n"
        )
        penv, team = _train_mappo(
            problem, settings, team_kwargs, out / "mappo", progress, team_period
        )
        timings["mappo"] = time.perf_counter() - t0
        policy = penv.policy(
            lambda o: team({"replenishment": o})["replenishment"],
            lambda o: team({"recommendation": o})["recommendation"],
        )
        evals.append(_evaluation("MAPPO (two-timescale)", problem, policy, settings, eval_seed))

    reference = next((e for e in evals if e.name == JOINT), None)
    rows = []
    for e in evals:
        diff = paired(e, reference) if reference is not None and e is not reference else None
        rows.append(
            {
                "name": e.name,
                "mean": e.mean,
                "ci95": list(e.ci95),
                "vs_joint": list(diff) if diff is not None else None,
                "episode_mean": e.mean * settings.periods,
                "per_episode": (e.per_episode * settings.periods).tolist(),
            }
        )
    result = StudyResult(
        problem.name,
        dict(problem.params),
        shortage,
        rows,
        {
            # the logit scale in force (None -> SEASON_LOGIT_SCALE on a season, else the env's 3)
            "settings": {**asdict(settings), "logit_scale": env_kwargs.get("logit_scale", 3.0)},
            "eval_seed": eval_seed,
            "base_stock_levels": levels,
            "seconds": time.perf_counter() - started,
            "timings": timings,
        },
    )
    (out / "study.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    (out / "study.md").write_text(result.table() + "\n")
    return result


def _references(
    problem: Problem,
    settings: StudySettings,
    eval_seed: int,
    evals: list[Evaluation],
    timings: dict[str, float],
    t0: float,
) -> tuple[dict[str, dict[str, float]], np.ndarray, dict[str, float], int]:
    """The heuristic rows of an ordinary (replenished) problem, appended to *evals*;
    returns the base-stock levels per recommender, the margin intensities, the anchor's
    levels and the replenishment agent's decision period."""
    network = problem.network
    make_market = problem.new_market
    model = cast(RecommendationMarket, make_market()).model
    recommenders: dict[str, Recommender] = {
        "uniform": Uniform(),
        "popularity": Popularity(),
        "margin": MarginRecommender(margins_of(network, model.products)),
        "random": RandomRecommender(),
    }
    levels = {
        rec_name: base_stock_levels(
            network,
            make_market(),
            rec,
            periods=settings.search_periods,
            replications=settings.search_replications,
        )
        for rec_name, rec in recommenders.items()
        if rec_name != "random" and (settings.references or rec_name == "margin")
    }
    for rec_name, rec in recommenders.items() if settings.references else ():
        lv = levels.get(rec_name, levels["uniform"])
        evals.append(
            _evaluation(
                f"base-stock + {rec_name}",
                problem,
                RecommendAndReplenish(BaseStock(lv), rec),
                settings,
                eval_seed,
            )
        )
    if settings.references and settings.mpc and model.shape[0] <= settings.mpc_max_products:
        try:
            from optimization.recommendation_mip import MIPRecommendationPolicy
        except ImportError:  # pragma: no cover - optional part
            MIPRecommendationPolicy = None  # type: ignore[assignment,misc]  # no MIP part: skip
        if MIPRecommendationPolicy is not None:
            from optimization.recommendation_mip import make_patterns

            patterns = make_patterns(
                model,
                "single",
                2,
                anchors={
                    name: recommenders[name].recommend(None, model)
                    for name in ("uniform", "popularity", "margin")
                },
            )
            lead = max(round(e.lead_time.mean) for e in network.edges)
            mpc = MIPRecommendationPolicy(
                network, model, lead + 2, patterns=patterns, safety_stock="auto"
            )
            evals.append(_evaluation("MIP rolling horizon", problem, mpc, settings, eval_seed))
    k = settings.replenishment_period
    if settings.references and k > 1:  # the periodic-review reference of an agent deciding every k
        periodic = periodic_levels(
            network,
            make_market(),
            recommenders["margin"],
            k,
            periods=settings.search_periods,
            replications=settings.search_replications,
        )
        levels[f"periodic-{k}"] = periodic
        evals.append(
            _evaluation(
                f"periodic base-stock (k={k}) + margin",
                problem,
                RecommendAndReplenish(
                    PeriodicReview(BaseStock(periodic), k), recommenders["margin"]
                ),
                settings,
                eval_seed,
            )
        )
    timings["heuristics"] = time.perf_counter() - t0

    margin_alpha = recommenders["margin"].recommend(None, model)
    return levels, margin_alpha, levels["margin"], settings.replenishment_period


def periodic_levels(
    network: Any,
    market: Any,
    recommender: Recommender,
    review: int,
    *,
    seed: int = 12345,
    periods: int = 600,
    replications: int = 4,
    quantiles: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98),
) -> dict[str, float]:
    """Order-up-to levels of the periodic-review base-stock policy with review period
    *review* (:class:`~des_supply.recommendation_policies.PeriodicReview`) and a fixed
    (stateless) *recommender*: product i's level is the q-quantile of its demand over
    ``L_i + review`` periods (what an order must cover until the next one arrives) under
    the recommender's intensities (exact convolution of the binomials), one q for all
    products, chosen by the mean profit of CRN simulations (same seed for every q).
    It is :func:`optimization.recommendation_optimize.base_stock_levels` with ``review``
    and a warm-up of at most a quarter of the search's periods."""
    from optimization.recommendation_optimize import base_stock_levels

    return base_stock_levels(
        network,
        market,
        recommender,
        review=review,
        seed=seed,
        periods=periods,
        warmup=min(50, periods // 4),
        replications=replications,
        quantiles=quantiles,
    )


def _season_references(
    problem: Problem, settings: StudySettings, eval_seed: int
) -> tuple[dict[str, dict[str, float]], np.ndarray, list[Evaluation]]:
    """The heuristic rows of a selling-season problem (:func:`optimization.
    recommendation_season.season_policies`: base stock with the uniform, popularity and
    margin recommendations, the best static recommendation, and the inventory-aware
    re-solving policies with and without trend learning); returns their levels, the
    best static intensities (the agents' anchor) and their evaluations."""
    from optimization.recommendation_season import season_policies, season_setting

    static = season_setting(problem)[2]
    levels, evals = {}, []
    for name, (policy, params) in season_policies(problem, static).items():
        levels[name.removeprefix("base-stock-")] = dict(params["level"])
        if settings.references:
            evals.append(_evaluation(name, problem, policy, settings, eval_seed))
    return levels, np.asarray(static.alpha, dtype=float), evals


def _jsonable(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def load_env_kwargs(path: Path) -> dict[str, Any]:
    """The env keyword arguments a study wrote (``env.json``, ``team_env.json``), arrays
    restored."""
    kwargs = json.loads(path.read_text())
    if "base_scores" in kwargs:
        kwargs["base_scores"] = np.asarray(kwargs["base_scores"], dtype=float)
    return cast(dict[str, Any], kwargs)


@dataclass
class Trace:
    """Per-period stock and recommendation of a trained agent over a few episodes.

    ``stock[e, t, i]``: product i's on-hand stock at the start of period t of episode e
    (before that period's delivery and demand); ``push[e, t, i]``: product i's expected
    demand under the intensities in force in period t divided by its expected demand
    under the anchor's static intensities (1: plays the static recommendation, > 1:
    pushes the product); ``alpha[e, t]``: the (N, M) intensities."""

    agent: str
    products: tuple[str, ...]
    stock: np.ndarray
    push: np.ndarray
    alpha: np.ndarray
    profit: np.ndarray  # per episode, per period

    def summary(self) -> dict[str, dict[str, float]]:
        """Per product: the correlation over all periods of push with stock, and with the
        other products' total stock; the mean and spread of the push."""
        out = {}
        total = self.stock.sum(axis=2)
        for i, p in enumerate(self.products):
            x, s = self.push[..., i].ravel(), self.stock[..., i].ravel()
            others = (total - self.stock[..., i]).ravel()
            out[p] = {
                "corr_stock": _corr(x, s),
                "corr_other_stock": _corr(x, others),
                "push_mean": float(x.mean()),
                "push_sd": float(x.std()),
            }
        return out


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


TRACE_ARRAYS = ("stock", "push", "profit")  # the Trace arrays trace_agents keeps (trace.npz)


def trace_agents(
    problem: Problem, run_dir: str | Path, episodes: int = 3, seed: int = 4242
) -> Path:
    """Run the trained Joint IM-RS and MAPPO agents of a :func:`run_study` folder on
    *episodes* episodes (seed *seed*; the same demand draws for both) and plot, per
    product, stock and recommendation push over time (:class:`Trace`), in
    ``run_dir/trace.png``; the traces' summaries in ``run_dir/trace.json``, their arrays
    (:data:`TRACE_ARRAYS`, per agent index) in ``run_dir/trace.npz``."""
    from rl.ppo import load_agent
    from rl.recommendation_env import make_recommendation_env, recommendation_parallel_env

    run = Path(run_dir)
    settings = json.loads((run / "study.json").read_text())["settings"]
    periods = int(settings["periods"])
    traces: list[Trace] = []
    if (run / "joint" / "checkpoint.pt").exists():
        env = make_recommendation_env(
            problem, control="joint", periods=periods, **load_env_kwargs(run / "env.json")
        )
        agent = load_agent(run / "joint")
        traces.append(
            _trace(
                "Joint IM-RS",
                env.layout,
                episodes,
                lambda e: env.reset(seed=seed, options={"episode": e})[0],
                lambda obs: env.step(agent(obs)),
                lambda: env.market.last_recommendation,
                lambda: env.runner.view,
            )
        )
    if (run / "mappo" / "checkpoint.pt").exists():
        from rl.mappo import load_mappo

        kwargs = load_env_kwargs(run / "team_env.json")
        penv = recommendation_parallel_env(problem, periods=periods, **kwargs)
        team = load_mappo(run / "mappo")
        traces.append(
            _trace(
                "MAPPO",
                penv.layout,
                episodes,
                lambda e: penv.reset(seed=seed, options={"episode": e})[0],
                lambda obs: _team_step(penv, team, obs),
                lambda: penv.alpha,
                lambda: penv.runner.view,
            )
        )
    if not traces:
        raise FileNotFoundError(f"{run}: no trained joint/ or mappo/ agent to trace")
    path = _plot_traces(traces, problem.name, run / "trace.png")
    # the traces themselves (agent i: stock_i, push_i, profit_i) for analyses of their own
    np.savez_compressed(
        run / "trace.npz",
        agents=np.array([t.agent for t in traces]),
        products=np.array(traces[0].products),
        **{f"{k}_{i}": getattr(t, k) for i, t in enumerate(traces) for k in TRACE_ARRAYS},
    )
    (run / "trace.json").write_text(
        json.dumps(
            {
                "episodes": episodes,
                "seed": seed,
                "summary": {t.agent: t.summary() for t in traces},
                "profit_per_period": {t.agent: t.profit.tolist() for t in traces},
            },
            indent=2,
        )
        + "\n"
    )
    return path


def _team_step(penv: Any, team: Any, obs: Mapping[str, np.ndarray]) -> tuple[Any, ...]:
    obs2, rewards, _, _, infos = penv.step(team(obs))
    return obs2, next(iter(rewards.values())), False, not penv.agents, infos


def _trace(
    name: str,
    layout: Any,
    episodes: int,
    reset: Callable[[int], Any],
    step: Callable[[Any], tuple[Any, ...]],
    alpha_now: Callable[[], np.ndarray],
    view_now: Callable[[], Any],
) -> Trace:
    model = layout.model
    anchor = model.expected_demand(model.from_logits(layout.base_scores))
    stock, push, alphas, profits = [], [], [], []
    for e in range(episodes):
        obs = reset(e)
        s_ep, p_ep, a_ep, total, done, t = [], [], [], 0.0, False, 0
        while not done:
            view = view_now()
            s_ep.append([view.on_hand(p) for p in layout.products])
            obs, _, terminated, truncated, info = step(obs)
            done = terminated or truncated
            alpha = np.asarray(alpha_now(), dtype=float)
            a_ep.append(alpha)
            p_ep.append(model.expected_demand(alpha) / np.maximum(anchor, 1e-12))
            info = next(iter(info.values())) if "profit" not in info else info
            total += float(info["profit"])
            t += 1
        stock.append(s_ep)
        push.append(p_ep)
        alphas.append(a_ep)
        profits.append(total / t)
    return Trace(
        name,
        tuple(layout.products),
        np.asarray(stock, dtype=float),
        np.asarray(push, dtype=float),
        np.asarray(alphas, dtype=float),
        np.asarray(profits, dtype=float),
    )


def _plot_traces(traces: list[Trace], problem_name: str, path: Path, shown: int = 40) -> Path:
    """Per agent (row) and product (column): stock and push over the first *shown*
    periods of each episode (the correlations in the titles are over all periods)."""
    from matplotlib.figure import Figure

    n = len(traces[0].products)
    fig = Figure(figsize=(4.2 * n, 3.0 * len(traces)))
    axes = np.atleast_2d(fig.subplots(len(traces), n, squeeze=False))
    for row, tr in zip(axes, traces):
        t = np.arange(min(shown, tr.stock.shape[1]))
        for i, (ax, product) in enumerate(zip(row, tr.products)):
            twin = ax.twinx()
            for e in range(tr.stock.shape[0]):
                style = {"lw": 1.0, "alpha": 0.8, "ls": ("-", "--", ":")[e % 3]}
                ax.plot(t, tr.stock[e, : t.size, i], color="tab:blue", **style)
                twin.plot(t, tr.push[e, : t.size, i], color="tab:red", **style)
            twin.axhline(1.0, color="tab:red", ls=":", lw=0.8)
            ax.set(
                xlabel="period",
                ylabel="on hand (units)",
                title=f"{tr.agent}: {product} (corr {_corr(tr.push[..., i].ravel(), tr.stock[..., i].ravel()):+.2f})",
            )
            ax.yaxis.label.set_color("tab:blue")
            twin.set_ylabel("push: E[demand] / static", color="tab:red")
    fig.suptitle(
        f"{problem_name}: stock (blue, left) and recommendation push (red, right) per "
        f"product, first {min(shown, traces[0].stock.shape[1])} periods of "
        f"{traces[0].stock.shape[0]} episodes (line style = episode)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def kde_panel(
    ax: Any,
    data: Mapping[str, np.ndarray],
    agents: Collection[str],
    labels: Mapping[str, str] | None = None,
) -> None:
    """Kernel density estimates of *data* (row name -> episode profits) on *ax*: agents
    (rows in *agents*) solid, heuristics dashed, Joint IM-RS bold.  The x range comes from
    the rows with ordinary spread; a far wider row (e.g. RS-only's random orders) is drawn
    clipped and flagged, so it does not flatten everyone else.  *labels*: legend text per
    row (default: the row's name)."""
    from scipy.stats import gaussian_kde

    spread = float(np.median([x.std() for x in data.values()]))
    usual = [x for x in data.values() if x.std() <= 5 * spread + 1e-9]
    lo = min(np.percentile(x, 1) for x in usual) - 2 * spread
    hi = max(np.percentile(x, 99) for x in usual) + 2 * spread
    grid = np.linspace(lo, hi, 400)
    for name, x in data.items():
        label = (labels or {}).get(name, name)
        if x.std() > 5 * spread + 1e-9:
            label = (
                f"{label} (off scale)" if labels else f"{label} (mean {x.mean():.0f}, off scale)"
            )
        style = {"lw": 2.4 if name == JOINT else 1.3, "ls": "-" if name in agents else "--"}
        if x.std() > 0:
            ax.plot(grid, gaussian_kde(x)(grid), label=label, **style)
        else:
            ax.axvline(x[0], label=label, **style)
    ax.set_xlim(lo, hi)


def figure2(results: list[StudyResult], out_dir: str | Path) -> Path:
    """KDEs of episode profit per row, one panel per result (the seed paper's Figure 2),
    in ``out_dir/figure2.png``; the tables in ``out_dir/figure2.md``."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7.0 * len(results), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(results)))
    agents = {JOINT, "IM-only", "RS-only", "Naive IM-RS", "MAPPO (two-timescale)"}
    for ax, res in zip(axes, results):
        data = {r["name"]: np.asarray(r["per_episode"], dtype=float) for r in res.rows}
        kde_panel(ax, data, agents)
        ax.set(
            xlabel="episode profit",
            ylabel="density",
            title=f"{res.name}, {res.shortage} ({len(res.rows[0]['per_episode'])} CRN episodes)",
        )
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    path = out / "figure2.png"
    fig.savefig(path, dpi=110)
    (out / "figure2.md").write_text(
        "\n\n".join(f"## {r.name}, {r.shortage}\n\n{r.table()}" for r in results) + "\n"
    )
    return path


def shortage_variants(problem: Problem) -> list[Problem]:
    """The problems of the Figure 2 study: a scenario with a ``shortage`` parameter that the
    caller did not set, in both settings (lost sales, then backlog); otherwise *problem*."""
    import scenarios

    if (
        problem.source not in scenarios.names()
        or "shortage" in problem.params
        or "shortage" not in scenarios.get(problem.source).parameters
    ):
        return [problem]
    return [
        scenarios.make(problem.source, **{**problem.params, "shortage": s})
        for s in ("lost", "backlog")
    ]


def run_figure2(
    problem: Problem,
    settings: StudySettings | None = None,
    out_dir: str | Path = "runs/figure2",
    progress: bool = True,
) -> list[StudyResult]:
    """The study (:func:`run_study`) on each of :func:`shortage_variants` of *problem*, in
    ``out_dir/<shortage>``, and the figure of all of them (:func:`figure2`)."""
    settings = settings or StudySettings()
    results = []
    for variant in shortage_variants(problem):
        shortage = next(n.shortage for n in variant.network.stock_nodes)
        results.append(run_study(variant, settings, Path(out_dir) / shortage, progress))
    figure2(results, out_dir)
    return results
