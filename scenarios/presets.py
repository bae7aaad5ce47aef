"""PPO settings and env specs per kind of problem, and the run records that rebuild a problem.

``preset(problem)`` returns ``(PPOConfig, spec)``.  It reads :attr:`Problem.kind
<des_supply.problem.Problem.kind>` and the network's own data, never a name:

=======================================  ===============================================
continuous time (``time="continuous"``)   the semi-Markov env (a step per demand arrival),
                                          order-up-to windows around the exact or searched
                                          base-stock levels of ``optimize``, PPO
                                          discounting by gamma ** dt (:func:`_continuous`)
single stage, no market                   order-up-to window around the best searched
                                          base-stock level (tuned on Zipkin's lost-sales
                                          cases against the DP optimum); lost sales with
                                          L = 3, 4: a level and a cap around the exact
                                          best capped base-stock policy
pricing market                            a price on the market's grid and an order-up-to
                                          level in [0, storage capacity]
recommendation market                     the Joint IM-RS agent of the Figure 2 study
                                          (:mod:`scenarios.recommendation_study`)
anything else                             the generic preset: order-up-to windows around
                                          the best searched base-stock policy, rewards
                                          measured against that policy's cost
=======================================  ===============================================

*spec* is plain JSON-safe data::

    {"env": {...},                    # keyword arguments of rl.make_env (or of
                                      #   rl.recommendation_env.make_recommendation_env)
     "scale_observation": bool,       # rl.wrappers.scale_observation (fixed divisors)
     "scale_reward": bool,            # divide the reward by a fixed scale
     "reward_scale": float,           # optional: that scale (default NetworkLayout.cost_scale())
     "reward_shift": float,           # optional: added per period (x info["dt"]) before scaling
     "action_window": {...},          # optional: ActionWindow(low, high, center, echelon)
     "select_env": {...}}             # optional: "env" overrides of the selection episodes
                                      #   (PPOConfig.select_every; selection_thunk)

All transformations are fixed (no running statistics), so a trained agent is evaluated on
exactly the function of the raw env it was trained on: ``reward = (raw + shift * dt) /
scale``.  A shift by a constant per period changes no policy's ranking (the horizon is a
bootstrapped truncation, never a terminal state).

``make_thunk(problem, spec)`` builds the wrapped env for training and for evaluation (a
fresh copy of the problem's market per env); ``selection_thunk(problem, spec)`` the env of
the episodes on which PPO judges its policy when the preset keeps the best one.
:func:`problem_record` and :func:`problem_from_record` write and read how to rebuild a
problem in a run's ``run.json``.

The generic preset
------------------
For a network no other preset knows (serial, distribution, assembly, general; any
shortage rule; stochastic lead times):

1. **Anchor.**  Installation and echelon base-stock levels searched by simulation
   (:func:`optimization.search.search_base_stock`, common random numbers); the cheaper of
   the two on the search's own seeds is the anchor (:func:`search_anchor`).
2. **Actions** are order-up-to levels, one per stocking node (``action_mode="base-stock"``),
   in a window ``[max(0, S - w), S + w]`` around the anchor's level ``S``, mapped
   piecewise linearly so that ``u = 0`` is exactly ``S`` (:class:`ActionWindow`; ``w`` is
   ``window`` standard deviations of the demand over the node's cover time).  With an
   echelon anchor the agent sets echelon levels and the wrapper turns them into the
   installation level that places the same order, so ``u = 0`` plays the anchor policy
   itself.
3. **Rewards** are ``(c_ref - cost) / c_ref`` per period, ``c_ref`` the anchor's mean cost
   per period on training-length episodes: an agent starts at the best base-stock policy
   with a return near 0 and has to beat it (a return of -0.01 per period is 1 % worse).
4. **PPO**: 128-period episodes, 8 x 256 steps per rollout, gamma 0.97, lambda 0.8, lr 3e-4
   annealed over 600k steps, initial exploration std ``e^-1`` in action units (a quarter of
   the window's half-width); measured in ``benchmarks/ppo_networks.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from des_supply.network import Network
from des_supply.problem import Problem, as_problem
from rl.env import make_env
from rl.ppo import PPOConfig
from rl.wrappers import scale_observation, scale_reward

__all__ = [
    "ActionWindow",
    "Anchor",
    "GenericSettings",
    "NoPreset",
    "PeriodShift",
    "capped_window",
    "check_steps",
    "make_thunk",
    "preset",
    "problem_from_record",
    "problem_record",
    "search_anchor",
    "selection_thunk",
    "with_steps",
]

# -- defaults shared by all presets -------------------------------------------------------------
# Fixed scaling wrappers instead of PPO's running normaliser: no state, so evaluation and
# checkpoints need nothing extra (norm_obs=False below).  clip_vloss=False: CleanRL's value
# clipping (+-clip_coef per update around the old values) kept the critic far behind the
# returns on single-stage (explained variance ~0; 20 % vs 8.9 % gap after 3 min at L=2).
_BASE = PPOConfig(
    total_steps=500_000,
    n_envs=8,
    n_steps=256,
    gamma=0.99,
    gae_lambda=0.95,
    n_epochs=10,
    n_minibatches=8,
    clip_vloss=False,
    ent_coef=0.0,
    learning_rate=3e-4,
    norm_obs=False,
    norm_reward=False,
    hidden_sizes=(64, 64),
)

#: Episode length of the generic preset's training episodes [periods] (at most the problem's).
GENERIC_PERIODS = 128


def with_steps(config: PPOConfig, steps: int | None) -> PPOConfig:
    """*config* with ``total_steps=steps`` (None: unchanged).  A budget below one rollout
    shortens the rollouts (``n_steps``, down to 32 per env) instead of failing, so tiny
    smoke runs keep the preset's other settings; below ``32 * n_envs`` PPOConfig's own
    ValueError says what is needed."""
    if steps is None:
        return config
    if steps < config.batch_size:
        n_steps = max(32, steps // config.n_envs)
        n_steps -= n_steps % config.n_minibatches
        config = dataclasses.replace(config, n_steps=max(n_steps, config.n_minibatches))
    return dataclasses.replace(config, total_steps=int(steps))


# -- run records ----------------------------------------------------------------------------------
def problem_record(problem: Problem | Network) -> dict[str, Any]:
    """How to rebuild *problem*, as JSON-safe data for a run's ``run.json``.

    A registered scenario: ``{"scenario": name, "params": {...}}``.  A network file or a
    network built in Python: the network inline (``"network"``: ``Network.to_dict()``)
    with the problem's name, horizon and warm-up, and the file's path as ``"source"``
    when it came from one, so a run stays readable if the file moves.  A problem with a
    market that is not a scenario's cannot be written down: ValueError.
    """
    import scenarios

    problem = as_problem(problem)
    if problem.source in scenarios.names() and problem.source == problem.name:
        return {"scenario": problem.name, "params": _json_safe(problem.params)}
    if problem.market is not None:
        raise ValueError(
            f"problem {problem.name!r} has a market that no scenario builds; a run "
            "record can only rebuild a scenario's market"
        )
    return {
        "network": problem.network.to_dict(),
        "name": problem.name,
        "source": problem.source,
        "periods": problem.periods,
        "warmup": problem.warmup,
    }


def problem_from_record(record: Mapping[str, Any]) -> Problem:
    """The problem :func:`problem_record` wrote (the inline network, not the file, for a
    network: the run was trained on it).  Raises ValueError on a record of neither form."""
    import scenarios

    if "scenario" in record:
        name = str(record["scenario"])
        defaults = scenarios.get(name).parameters
        params = {
            k: tuple(v) if isinstance(defaults.get(k), tuple) and isinstance(v, list) else v
            for k, v in dict(record.get("params") or {}).items()
        }
        return scenarios.make(name, **params)
    if "network" in record:
        network = Network.from_dict(record["network"])
        return Problem(
            network,
            name=str(record.get("name") or network.name),
            periods=int(record.get("periods", 10_000)),
            warmup=int(record.get("warmup", 100)),
            source=str(record.get("source", "python")),
        )
    raise ValueError(f"a problem record has 'scenario' or 'network', got keys {sorted(record)}")


def _json_safe(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


# -- the generic preset's anchor ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Anchor:
    """The base-stock policy an agent starts from.

    ``family`` is ``"base-stock"`` or ``"echelon-base-stock"``; ``levels`` per stocking
    node; ``search_value`` its mean cost (or profit) per period on the search's seeds;
    ``values`` both families' values there (the choice).
    """

    family: str
    levels: dict[str, float]
    search_value: float
    values: dict[str, float]
    candidates: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    @property
    def echelon(self) -> bool:
        return self.family == "echelon-base-stock"

    def policy(self) -> Any:
        from des_supply.policies import BaseStock, EchelonBaseStock

        return (EchelonBaseStock if self.echelon else BaseStock)(dict(self.levels))


#: search_base_stock's simulation settings (kept in step with its defaults)
_SEARCH = {"periods": 2_000, "warmup": 200, "replications": 4, "seed": 12345}


def search_anchor(
    problem: Problem | Network,
    *,
    levels: Mapping[str, Mapping[str, float]] | None = None,
    search: Mapping[str, Any] | None = None,
) -> Anchor:
    """The cheaper of the searched installation and echelon base-stock policies.

    *levels* may give levels already searched (``{"base-stock": {...},
    "echelon-base-stock": {...}}``, e.g. from ``optimize``): those are only evaluated on
    the search's seeds, not searched again.  *search* are keyword arguments of
    :func:`optimization.search.search_base_stock` (``periods``, ``replications``,
    ``factors``, ``refine_nodes``, ...), for both the search and the evaluation.
    """
    from des_supply.evaluate import simulate
    from des_supply.policies import BaseStock, EchelonBaseStock
    from optimization.search import search_base_stock

    problem = as_problem(problem)
    search = dict(search or {})
    sim = {k: search.get(k, v) for k, v in _SEARCH.items()}
    sign = 1.0 if problem.objective == "cost" else -1.0
    found: dict[str, tuple[dict[str, float], float]] = {}
    # under sequential decisions ActionWindow's echelon-to-installation conversion (made at
    # the period's first epoch) does not match upstream nodes' later turns; installation
    # levels are the textbook policy there (echelon-equivalent on serial chains)
    families = ["base-stock"] + (
        ["echelon-base-stock"]
        if problem.kind.shape not in ("single-stage", "parallel")
        and problem.network.decisions == "simultaneous"
        else []
    )
    for family in families:
        given = (levels or {}).get(family)
        if given is not None:
            cls = EchelonBaseStock if family == "echelon-base-stock" else BaseStock
            res = simulate(problem, cls(dict(given)), **sim)
            found[family] = ({k: float(v) for k, v in given.items()}, float(res.mean))
        else:
            searched = search_base_stock(problem, echelon=family == "echelon-base-stock", **search)
            found[family] = (dict(searched.levels), float(searched.value))
    best = min(found, key=lambda f: sign * found[f][1])
    return Anchor(
        best,
        found[best][0],
        found[best][1],
        {f: v for f, (_, v) in found.items()},
        {f: lv for f, (lv, _) in found.items()},
    )


def _cover_std(problem: Problem, echelon: bool) -> dict[str, float]:
    """Standard deviation of the demand a stocking node serves over its cover time (lead
    time + review period; echelon: + the longest lead time downstream), with demand and
    lead-time variances propagated up the network (priority suppliers carry the whole flow)."""
    import networkx as nx

    net = problem.network
    G = net.graph()
    mean: dict[str, float] = {}
    var: dict[str, float] = {}
    for name in reversed(list(nx.topological_sort(G))):
        node = net.node(name)
        m = float(node.demand.mean) if node.demand is not None else 0.0
        v = float(node.demand.variance) if node.demand is not None else 0.0
        for e in net.customers(name):
            split = net.node(e.target).supply_rule == "split"
            share = e.share if split and e.share is not None else 1.0
            m += mean[e.target] * share * e.bom
            v += var[e.target] * (share * e.bom) ** 2
        mean[name], var[name] = m, v

    def downstream(name: str) -> float:
        return max(
            (e.lead_time.mean + downstream(e.target) for e in net.customers(name)), default=0.0
        )

    out = {}
    for node in net.stock_nodes:
        edges = net.suppliers(node.name)
        lead_mean = max((e.lead_time.mean for e in edges), default=0.0)
        lead_var = max((e.lead_time.variance for e in edges), default=0.0)
        cover = lead_mean + node.review_period + (downstream(node.name) if echelon else 0.0)
        # Var(sum of D over a random time T) = E[T] Var(D) + E[D]^2 Var(T)
        total = cover * var[node.name] + mean[node.name] ** 2 * lead_var
        out[node.name] = math.sqrt(max(total, 0.0))
    return out


def reference_cost(
    problem: Problem, policy: Any, periods: int, *, replications: int = 32, seed: int = 0
) -> float:
    """Mean cost (profit for a profit objective) per period of *policy* on *replications*
    episodes of *periods* periods from the problem's start (what a training episode is)."""
    from des_supply.evaluate import simulate

    return float(
        simulate(problem, policy, periods=periods, replications=replications, seed=seed).mean
    )


@dataclasses.dataclass(frozen=True)
class GenericSettings:
    """Knobs of the generic preset (the defaults are the tuned ones; benchmarks/ppo_networks.py)."""

    window: float = 2.0  # half-width of the level window [std of cover-time demand]
    min_half_width: float = 2.0  # ... and at least this many units
    periods: int = GENERIC_PERIODS
    reward_scale: str = "reference"  # "reference": |c_ref|; "layout": NetworkLayout.cost_scale()


#: PPO settings of the generic preset (the tuning is in :func:`_generic`).
_GENERIC_CONFIG = dataclasses.replace(
    _BASE, total_steps=600_000, learning_rate=3e-4, gamma=0.97, gae_lambda=0.8, log_std_init=-1.0
)


def _generic(
    problem: Problem,
    anchor: Anchor | None,
    search: Mapping[str, Any] | None,
    settings: GenericSettings | None = None,
) -> tuple[PPOConfig, dict[str, Any]]:
    """Order-up-to windows around the best searched base-stock policy (module docstring)."""
    settings = settings or GenericSettings()
    anchor = anchor or search_anchor(problem, search=search)
    periods = min(settings.periods, problem.periods)
    std = _cover_std(problem, anchor.echelon)
    names = [n.name for n in problem.network.stock_nodes]
    center = np.array([anchor.levels[n] for n in names], dtype=float)
    half = np.array(
        [max(settings.min_half_width, math.ceil(settings.window * std[n])) for n in names]
    )
    low, high = np.maximum(0.0, center - half), center + half
    # the env's own level range: wide enough for the installation level an echelon level
    # means (echelon IP - IP is usually >= 0, so the installation level is usually lower)
    max_level = {
        n: float(math.ceil(2.0 * h + 10.0 if anchor.echelon else h)) for n, h in zip(names, high)
    }
    c_ref = reference_cost(problem, anchor.policy(), periods)
    sign = 1.0 if problem.objective == "cost" else -1.0
    # Tuned on the two-echelon network with stochastic lead times (scenarios/examples/
    # two_echelon_stochastic.json), 600k steps, seed 1, gap of the deterministic policy to the
    # best searched heuristic on 30 x 1000-period CRN episodes (paired 95 % CI about +-0.5 %):
    # gamma .99 / lambda .95 / lr 3e-4 / log_std -1 / window 2 sd: -0.32 %; lr 1e-3: -0.31 %;
    # window 3 sd: +0.93 %; log_std -0.5: +4.28 % (exploring the whole window costs more than it
    # teaches); 1.2M steps: -1.96 %; gamma .97 / lambda .8: -2.24 % (kept).  log_std -1 is an
    # exploration std of a quarter of the window's half-width (about half a demand std).
    cfg = _GENERIC_CONFIG
    env = {
        "action_mode": "base-stock",
        "discrete": False,
        "periods": periods,
        "max_level": max_level,
    }
    spec: dict[str, Any] = {
        "env": env,
        "scale_observation": True,
        "scale_reward": True,
        "reward_shift": sign * c_ref,
    }
    if settings.reward_scale == "reference" and abs(c_ref) > 0:
        spec["reward_scale"] = abs(c_ref)
    spec["action_window"] = {
        "low": low.tolist(),
        "high": high.tolist(),
        "center": center.tolist(),
        "echelon": anchor.echelon,
    }
    spec["anchor"] = {
        "family": anchor.family,
        "levels": anchor.levels,
        "search_value": anchor.search_value,
        "values": anchor.values,
        "reference_cost": c_ref,
        "settings": dataclasses.asdict(settings),
    }
    return cfg, spec


#: Half-widths of the single-stage preset's order-up-to window below and above the best
#: searched base-stock level [std of the demand over L + 1 periods] (see _single_stage).
SINGLE_STAGE_WINDOW = (2.0, 2.0)
#: Lost-sales single stages with a lead time in this range (periods, both ends included) get
#: level-and-cap actions around the best capped base-stock policy (capped_window; see
#: _single_stage): the range where it was validated.  Its exact search grows fast with L
#: (0.4-4 s CPU at L = 4, 361 s wall at (6, 39)): longer lead times keep the window.
SINGLE_STAGE_CAPPED_LEADS = (3, 4)
#: The cap's window below and above the best capped base-stock policy's cap [units].
CAP_WINDOW = (3, 4)
#: Lost-sales single stages with these lead times keep the best policy judged during training
#: (PPOConfig.select_every; see _single_stage): the lead times where it was measured (L = 1
#: was 12 of 12 within 1 % without it and was not tried).
SINGLE_STAGE_SELECT_LEADS = (2, 3, 4)
#: Their selection: every 10 iterations, 128 episodes of 2000 periods (first 100 dropped).
SINGLE_STAGE_SELECT: dict[str, Any] = {
    "select_every": 10,
    "select_episodes": 128,
    "select_warmup": 100,
}
SINGLE_STAGE_SELECT_PERIODS = 2000


def capped_window(spec: Mapping[str, Any], level: float, cap: float, cost: float) -> dict[str, Any]:
    """*spec* (the single-stage preset's order-up-to window) turned into level-and-cap
    actions ``min(cap, (S - IP)^+)`` (``action_mode="capped-base-stock"``) around the capped
    base-stock policy (*level*, *cap*) of long-run *cost*: the level's half-widths are
    *spec*'s, the cap's :data:`CAP_WINDOW`; u = 0 plays that policy and rewards are measured
    against its cost."""
    window = spec["action_window"]
    below = window["center"][0] - window["low"][0]
    above = window["high"][0] - window["center"][0]
    low = [max(0.0, level - below), max(1.0, cap - CAP_WINDOW[0])]
    high = [level + above, cap + CAP_WINDOW[1]]
    return {
        **spec,
        "env": {
            **spec["env"],
            "action_mode": "capped-base-stock",
            "max_level": high[0],
            "max_order": high[1],
        },
        "reward_shift": cost,
        "action_window": {"low": low, "high": high, "center": [level, cap]},
    }


# -- the presets that know their kind -------------------------------------------------------------
def _single_stage_config(problem: Problem) -> PPOConfig:
    """The single-stage preset's PPO settings: a function of the lead time only."""
    edge = problem.network.suppliers(problem.network.stock_nodes[0].name)[0]
    L = int(round(edge.lead_time.mean))
    # gamma 0.97 / lambda 0.8 / lr 1e-3: at L=4, 400k steps, gamma .99 lambda .95 lr 3e-4 gave
    # 6.8 %, lr 1e-3 2.1 %, + lambda .8 1.4 %, + gamma .97 1.35 % (seed 2: 2.8 %); gamma .95
    # 1.9 %.  n_epochs 10 (4: 4.4 %); 64x64 tanh (128x128: 2.0 % and 60 % slower); n_envs 8 x
    # 256 (16 x 128: 1.9 %); max_grad_norm 0.5 (5.0: 1.5 %) -- all within one seed's noise
    # (measured with the old newsvendor-centred window).
    # total_steps: L=2 reaches ~0.5 % at 400k steps (~2.5 min); L=4 ~1.4-2.8 % at 400k and
    # ~1.2 % at 1.2M (7.5 min); the learning rate anneals to 0 over total_steps, which is
    # what brings the final policy in, so the budget is set, not open-ended.
    total = 600_000 if L <= 2 else 1_500_000
    return dataclasses.replace(
        _BASE, total_steps=total, learning_rate=1e-3, gamma=0.97, gae_lambda=0.8
    )


def _single_stage(problem: Problem) -> tuple[PPOConfig, dict[str, Any]]:
    """One stocking node fed by one supplier, no market (Zipkin's single stage).  Tuned on
    lost sales, Poisson(5), h = 1, (L, p) = (2, 9) and (4, 39) against the exact DP optimum
    (benchmarks/rl.py); the window re-centred on Zipkin's 16 cells (benchmarks/zipkin_ppo.py,
    validation episodes).  Gaps below are mean cost per period of the deterministic policy vs
    the DP policy on the same 20 x 2000-period episodes (paired; +-0.4-0.8 % 95 % CI for one
    seed), 2 busy cores.
    """
    from optimization.search import search_base_stock

    node = problem.network.stock_nodes[0]
    if node.demand is None:
        return _generic(problem, None, None)
    # Centre: the best base-stock level S, searched by simulation on the batch engine with
    # common random numbers (search_base_stock: 4 x 2000 periods, seed 12345, never the
    # benchmarks' evaluation episodes; 0.5-0.8 s on a busy core).  On Zipkin's 16 cells it is
    # the exact best level (optimization.lost_sales_heuristics.best_base_stock) or one above
    # it (6 cells).  The window used to be centred on the newsvendor level over L + 1 periods
    # (Morton's upper bound on the optimal order-up-to levels), which overshoots at small p:
    # at (L, p) = (4, 4) the DP's implied order-up-to levels (IP + optimal order, where it
    # orders, stationary law) run 21..27 (1 %..99 %; 18..27 over states of probability
    # > 1e-6) and S = 25, but the newsvendor level is 29: u = 0 started the agent above every
    # level the DP uses, and every L = 4 run missed the 1 % target (1.6-4.8 %).  Across the 16
    # cells the DP's levels lie in [S - 5, S + 2] (1 %..99 %; [S - 9, S + 2] over states of
    # probability > 1e-6): the optimal policy orders less than up to S when the position is
    # low (as a capped base-stock policy does), never much more (`python
    # benchmarks/zipkin_ppo.py --levels` prints them per cell).
    searched = search_base_stock(problem)
    level = float(searched.levels[node.name])
    # Half-widths: SINGLE_STAGE_WINDOW standard deviations of the demand over L + 1 periods
    # (ceil: 7, 8, 9, 10 units at L = 1..4 for Poisson(5)): the DP's 1 %..99 % levels are at
    # least 4 units inside on every cell, its rarest levels (probability > 1e-6) reach the
    # lower edge at (1, 9) and (2, 39).  Earlier measurements (newsvendor centre, same half-width 2 sd):
    # default max_level [0, 60] -> 10.8 % gap at L=2 after 3 min, the window -> 1.0 %; the
    # optimum must sit well inside the window: [25, 35] (upper edge at the optimum's most
    # common levels) gave 4.2-4.6 % at L=4 vs 1.4-2.8 % for [25, 45] (clipped Gaussian piles up
    # on the bound); [23, 42] was no better (1.6-2.3 %).  Continuous beats a discrete window
    # Discrete(21) (2.9 % vs 1.4 % at L=4, 400k steps).
    # Measured with this window (benchmarks/zipkin_ppo.py, batch engine, 3 seeds, 40 x 2000
    # evaluation periods): at L = 4 the gaps are 0.7-4.5 % (mean 2.1 %; the newsvendor centre:
    # 1.6-4.8 %, mean 3.0 %, seeds 1-2), so the centre was not the whole story.  PPO ends up
    # ordering 0.4-1.0 units a period more than the DP at the same states (most at low
    # inventory positions, where the DP orders less than up to its level) and its level stays
    # near u = 0: centred on the exact best level (28, not the search's 29) the (4, 9) gap of
    # seed 1 fell from 4.1 % to 2.8 % (validation episodes).  Discounting is not the cause
    # (gamma = 0.97's optimal policy costs +0.03 % at (4, 4)).  Level *and* cap actions
    # (action_mode="capped-base-stock") around the best capped base-stock policy gave 0.83,
    # 0.88, 1.20, 1.62 % at p = 4, 9, 19, 39 (seed 1, validation; this window: 2.0, 4.1, 1.5,
    # 0.9 %).  On 3 seeds x 4 cells per L (validation episodes,
    # benchmarks/results/zipkin_ppo_capped_validation_*.json) level and cap gave a mean gap
    # of 1.12 % (6 of 12 runs within 1 %) against 1.78 % (3 of 12) with this window at L = 4,
    # and 0.90 % (8 of 12) against 0.92 % (7 of 12) at L = 3 (a tie within noise, adopted by
    # the rule fixed beforehand), so the preset acts so for L in SINGLE_STAGE_CAPPED_LEADS
    # where the exact best capped base-stock policy is known
    # (optimization.optimize.best_capped_base_stock: lost sales, Poisson or geometric demand;
    # 0.4 s CPU at (4, 4), 4 s at (4, 39), against 2-3 CPU minutes of training; L <= 2 is
    # untouched, (2, 9) starts as fast as before).
    sd = _cover_std(problem, False)[node.name]
    below, above = SINGLE_STAGE_WINDOW
    lo = max(0.0, level - math.ceil(below * sd))
    hi = level + math.ceil(above * sd)
    cfg = _single_stage_config(problem)
    # 128-period episodes from the problem's start state (truncation is bootstrapped)
    periods = min(128, problem.periods)
    env = {"action_mode": "base-stock", "discrete": False, "periods": periods, "max_level": hi}
    # reward_shift: reward = (c_ref - cost) / cost_scale, c_ref the searched base-stock
    # policy's cost on the search's own episodes, so values are ~0 rather than
    # -c/(1-gamma)/scale and the critic learns the state-dependent part at once.
    c_ref = float(searched.value)
    spec = {
        "env": env,
        "scale_observation": True,
        "scale_reward": True,
        "reward_shift": c_ref,
        "action_window": {"low": [lo], "high": [hi], "center": [level]},
    }
    edge = problem.network.suppliers(node.name)[0]
    first, last = SINGLE_STAGE_CAPPED_LEADS
    if node.shortage == "lost" and first <= edge.lead_time.mean <= last:
        from optimization.optimize import OptimizeError, best_capped_base_stock

        try:
            best = best_capped_base_stock(problem)
        except OptimizeError:  # no exact chain for it (e.g. normal demand): the window
            return cfg, spec
        level, cap = (float(best.params[k]) for k in ("level", "cap"))
        spec = capped_window(spec, level, cap, float(best.value))
    # Keeping the best policy: at L = 4 training moved the policy as much the wrong way as
    # the right way (p = 9, 19 ended 0.2-0.6 % worse than u = 0, the capped policy).  Judged
    # every 10 iterations (and at u = 0) on 128 x 2000 periods of selection episodes (seed
    # 30000, apart from the benchmark's), 3 seeds x 4 cells per L on the validation episodes
    # gave, against the last policy of the same trainings (the rule, fixed beforehand: adopt
    # if at least as many runs within 1 % and a lower mean): L = 4 12 of 12 runs within 1 %
    # of the DP, mean 0.67 % (last: 6 of 12, 1.12 %); L = 3 12 of 12, 0.54 % (8, 0.90 %);
    # L = 2 (the window) 11 of 12, 0.44 % (10, 0.70 %); then on the test episodes L = 4 10
    # of 12, 0.75 % (1, 1.34 %), L = 3 11 of 12, 0.43 % (8, 0.90 %), L = 2 11 of 12, 0.57 %
    # (9, 0.87 %).  The starting policy is the one kept in 5 L = 4 runs (all of p = 19, two
    # of p = 39) and in the 3 runs of (3, 39), so those runs are the capped base-stock
    # policy; at L = 2 u = 0 is 2-5.5 % off and never kept
    # (benchmarks/results/zipkin_ppo_best_*.json).  CPU minutes per run: L = 4 3.5-4.1
    # (2.1-3.3 without), L = 3 3.3-3.6 (2.1-2.3), L = 2 1.3-1.5 (0.8-1.0).  Normal demand
    # at L = 3, 4 (no exact capped policy: the window above) does not select: not measured.
    if node.shortage == "lost" and edge.lead_time.mean in SINGLE_STAGE_SELECT_LEADS:
        cfg = dataclasses.replace(cfg, **SINGLE_STAGE_SELECT)
        spec["select_env"] = {"periods": SINGLE_STAGE_SELECT_PERIODS}
    return cfg, spec


def selection_thunk(
    problem: Problem | Network, spec: Mapping[str, Any]
) -> Callable[[], gym.Env] | None:
    """The env of a preset's selection episodes (``PPOConfig.select_every``): *spec*'s
    ``select_env`` (env keyword arguments over the training env's, e.g. longer episodes)
    applied to ``make_thunk``; None when the preset sets none (``rl.ppo.train`` then judges
    on episodes of the training env)."""
    over = spec.get("select_env")
    if not over:
        return None
    return make_thunk(problem, {**spec, "env": {**spec["env"], **over}})


def _pricing(problem: Problem) -> tuple[PPOConfig, dict[str, Any]]:
    """A pricing market: a mixed action, the price on the market's grid (Discrete) and an
    order-up-to level in [0, storage capacity] (Box), as in the seed paper's a_t = (p_t, q_t)
    with the quantity given as a level; 128-period episodes.  Tuned on pricing-a (150k
    steps, about 2 minutes on a busy core): learning rate 1e-3, gamma 0.9 and 128-unit
    layers beat the base settings (deterministic evaluation: 47 -> 70 profit per period).

    Known limit: with discount 0.9 even the best policy earns 2.1% (case a) to 11.6% (case
    c, fixed ordering cost) less per period than the average-optimal one
    (``python benchmarks/figure1.py --discount-caps 0.9 0.97``); at 150k steps gamma 0.97
    did not train better (case c, seed 1: -0.27 [-0.52, -0.01] per period, paired), so the
    preset keeps 0.9.  The longer variant, 600k steps at gamma 0.97 (about 4 x the time),
    is ``python benchmarks/figure1.py --variant long``: case c, seed 1, 61.12 -> 66.98
    profit per period (paired +5.86 [+5.58, +6.13]; gap to the optimum 12.9% -> 4.5%)."""
    priced = getattr(problem.market, "node", None)
    node = problem.network.node(priced) if priced else problem.network.stock_nodes[0]
    cap = float(node.storage_capacity)
    level = cap if math.isfinite(cap) else 40.0
    cfg = dataclasses.replace(
        _BASE, total_steps=150_000, learning_rate=1e-3, gamma=0.9, hidden_sizes=(128, 128)
    )
    env = {
        "action_mode": "base-stock",
        "discrete": False,
        "periods": min(128, problem.periods),
        "max_level": level,
    }
    return cfg, {"env": env, "scale_observation": True, "scale_reward": True}


def _recommendation(problem: Problem) -> tuple[PPOConfig, dict[str, Any]]:
    """Inventory with recommendation: the Joint IM-RS agent of the Figure 2 study
    (:mod:`scenarios.recommendation_study`): one action with order-up-to levels and
    recommendation scores, anchored on base stock + the margin-optimal recommendation
    (levels searched by CRN simulation, ~10-30 s), and the study's PPO settings.  The env
    scales its own observations and rewards, so no scaling wrappers."""
    from des_supply.recommendation import RecommendationMarket
    from des_supply.recommendation_policies import MarginRecommender, margins_of
    from optimization.recommendation_optimize import base_stock_levels

    from .recommendation_study import StudySettings, anchors, ppo_config

    network = problem.network
    market = cast(RecommendationMarket, problem.new_market())  # a recommendation problem
    model = market.model
    rec = MarginRecommender(margins_of(network, model.products))
    levels = base_stock_levels(network, market, rec)
    anchor = anchors(network, model, levels, alpha=rec.recommend(None, model))
    study = StudySettings()
    cfg = ppo_config(study, *model.shape, _BASE.seed)
    env = {
        "control": "joint",
        "periods": min(study.periods, problem.periods),
        "min_level": anchor["min_level"],
        "max_level": anchor["max_level"],
        "base_scores": anchor["base_scores"].tolist(),
    }  # JSON-safe (run.json)
    return cfg, {"env": env, "scale_observation": False, "scale_reward": False}


class NoPreset(ValueError):
    """No PPO preset for this kind of problem (the message says why, in one line)."""


def _no_preset(problem: Problem) -> None:
    """Refuse problems the RL envs cannot act on: a node that orders per supplier."""
    if problem.kind.market == "collaborative":
        return  # rl.collaborative_env orders per supplier
    net = problem.network
    choosers = [n.name for n in net.stock_nodes if net.supply_rule_of(n.name) == "choice"]
    if choosers:
        raise NoPreset(
            f"no PPO preset for node {choosers[0]!r}, which orders per supplier "
            "(supply_rule='choice'): the RL envs order one quantity per node"
        )


#: Initial exploration std (log) of the collaborative preset.  Measured on `collaborative`
#: (150k steps, seed 1, 20 CRN episodes of 1,000 periods, paired with the anchor
#: best-collab-base-stock): the Figure 2 study's -0.5 made 363.9 (-10.1 [-10.9, -9.4] per
#: period: noise on 24 components drowns the anchor); -1.5 made 403.5 (+31.0 [+30.6, +31.4]).
COLLABORATIVE_LOG_STD = -1.5


def _collaborative(problem: Problem) -> tuple[PPOConfig, dict[str, Any]]:
    """Collaborative production, ordering, pricing and recommendation (seed Section VII):
    one action per period with every item's level, price, use of its capacitated suppliers
    and recommendation scores (:mod:`rl.collaborative_env`), anchored on the searched
    reference policy ``best-collab-base-stock`` (``optimize``: about 20 s), with the Figure 2
    study's PPO settings.  The env scales its own observations and rewards."""
    from optimization.policies import optimized

    from .recommendation_study import StudySettings, ppo_config

    best = next(b for b in optimized(problem).policies if b.name == "best-collab-base-stock")
    study = StudySettings()
    n_items, n_segments = cast(Any, problem.market).model.shape  # a collaborative market
    cfg = dataclasses.replace(
        ppo_config(study, n_items, n_segments, _BASE.seed), log_std_init=COLLABORATIVE_LOG_STD
    )
    env = {
        "periods": min(study.periods, problem.periods),
        "levels": dict(best.params["level"]),
        "price_factor": float(best.params["price_factor"]),
        "intensities": best.policy.recommendation(problem).tolist(),
    }  # JSON-safe (run.json)
    return cfg, {"env": env, "scale_observation": False, "scale_reward": False}


# -- continuous time: the semi-Markov env -------------------------------------------------------
#: Decision epochs per training episode of the continuous preset (the horizon follows from
#: the network's customer rate): about one rollout of one sub-env.
CONTINUOUS_EPOCHS = 256

#: PPO settings of the continuous preset: gamma per unit time, discounted by gamma ** dt;
#: the initial exploration std is e^-1 with one stocking node, e^-2 with more
#: (:data:`CONTINUOUS_LOG_STD`).  Measured with ``des-supply compare`` (seed 1; 20 CRN
#: episodes of 200 time units, paired with the exact optimum), 300k steps:
#: continuous-review log_std -1: +2.0 % [+1.0, +3.1], -2: +20.0 % [+17.2, +22.9];
#: continuous-owmr -1: +35.6 % [+29.9, +41.2] (exploring a quarter of the window at every
#: node, most of which do not review at a given step, drifted away from the anchor), -2:
#: +1.2 % [+0.6, +1.9].  One seed each: PPO here is not stable across settings.
_CONTINUOUS_CONFIG = dataclasses.replace(
    _BASE,
    total_steps=300_000,
    discount="time",
    gamma=0.9,
    gae_lambda=0.9,
    learning_rate=3e-4,
    log_std_init=-1.0,
)
#: log_std_init of the continuous preset by number of stocking nodes (one, more).
CONTINUOUS_LOG_STD = (-1.0, -2.0)


def customer_rate(problem: Problem) -> float:
    """Customers per unit time over all nodes (sum of the arrival processes' rates; a
    process without one counts its mean demand per unit time)."""
    total = 0.0
    for node in problem.network.nodes:
        d = node.demand
        if d is not None:
            rate = getattr(d, "rate", None)
            total += float(rate if isinstance(rate, (int, float)) else d.mean)
    return total


def continuous_anchor(problem: Problem, result: Any = None) -> Anchor:
    """The installation base-stock policy the continuous preset starts from, taken from
    ``optimize`` (*result*, else computed): its exact or searched base-stock levels, or
    the (S-1, S) level r + 1 of an exact (r, Q) optimum with Q = 1; else levels searched
    on the continuous engine."""
    from optimization.optimize import CONTINUOUS_SEARCH, optimize
    from optimization.search import search_base_stock

    res = result if result is not None else optimize(problem)
    names = [n.name for n in problem.network.stock_nodes]
    for b in [res.optimal, *res.policies]:
        level = b.params.get("level")
        if b.name in ("base-stock", "best-base-stock") and level is not None:
            levels = (
                {k: float(v) for k, v in level.items()}
                if isinstance(level, Mapping)
                else {names[0]: float(level)}
            )
            return Anchor("base-stock", levels, float(b.value), {b.name: float(b.value)})
        if b.name == "rq" and b.params.get("Q") == 1:
            value = float(b.value)
            return Anchor("base-stock", {names[0]: float(b.params["r"]) + 1}, value, {"rq": value})
    found = search_base_stock(problem, **CONTINUOUS_SEARCH)  # type: ignore[arg-type]
    value = float(found.value)
    return Anchor("base-stock", dict(found.levels), value, {"best-base-stock": value})


def _continuous(problem: Problem, anchor: Anchor | None) -> tuple[PPOConfig, dict[str, Any]]:
    """A continuous-time network: the semi-Markov env (:mod:`rl.semi_markov_env`), a step
    per decision event (each demand arrival: continuous review), order-up-to levels in a
    window of 2 std of the lead-time demand around the anchor's (exact or searched)
    base-stock levels, rewards ``(c_ref dt - cost) / (c_ref / customer rate)`` (about 1
    per step), PPO discounting by ``gamma ** dt`` (gamma per unit time)."""
    anchor = anchor or continuous_anchor(problem)
    if anchor.echelon:
        raise ValueError("the continuous preset starts from installation base-stock levels")
    net = problem.network
    names = [n.name for n in net.stock_nodes]
    flows = net.mean_flows
    rate = customer_rate(problem)
    if not rate > 0:
        raise ValueError(f"problem {problem.name!r}: no customers arrive (no demand process)")
    horizon = float(min(problem.periods, max(10, round(CONTINUOUS_EPOCHS / rate))))
    center, half = [], []
    for n in names:
        edges = net.suppliers(n)
        lead = max((e.lead_time.mean for e in edges), default=0.0)
        lead_var = max((e.lead_time.variance for e in edges), default=0.0)
        std = math.sqrt(flows[n] * lead + flows[n] ** 2 * lead_var)  # Poisson over the lead time
        center.append(float(anchor.levels[n]))
        half.append(max(2.0, float(math.ceil(2.0 * std))))
    low = [max(0.0, c - h) for c, h in zip(center, half)]
    high = [c + h for c, h in zip(center, half)]
    c_ref = reference_cost(problem, anchor.policy(), int(math.ceil(horizon)))
    env = {
        "horizon": horizon,
        "epochs": "demand",
        "action_mode": "base-stock",
        "max_level": dict(zip(names, high)),
    }
    spec: dict[str, Any] = {
        "env": env,
        "scale_observation": True,
        "scale_reward": True,
        "reward_shift": c_ref,
        "reward_scale": max(abs(c_ref), 1e-9) / rate,
        "action_window": {"low": low, "high": high, "center": center, "echelon": False},
        "anchor": {
            "family": anchor.family,
            "levels": anchor.levels,
            "search_value": anchor.search_value,
            "values": anchor.values,
            "reference_cost": c_ref,
        },
    }
    log_std = CONTINUOUS_LOG_STD[0] if len(names) == 1 else CONTINUOUS_LOG_STD[1]
    return dataclasses.replace(_CONTINUOUS_CONFIG, log_std_init=log_std), spec


def preset(
    problem: Problem | Network,
    *,
    anchor: Anchor | None = None,
    search: Mapping[str, Any] | None = None,
    generic: GenericSettings | None = None,
) -> tuple[PPOConfig, dict[str, Any]]:
    """PPO config and env spec for *problem*, chosen by its kind (module docstring).

    *anchor* (the generic preset only): the base-stock policy to start from, if already
    known (:func:`search_anchor`); else it is searched (10-60 s), with *search* as keyword
    arguments of :func:`optimization.search.search_base_stock`; *generic* its other knobs.
    A node that orders per supplier (``supply_rule="choice"``, dual sourcing) has no preset
    yet: :class:`NoPreset`.
    """
    problem = as_problem(problem)
    _no_preset(problem)
    kind = problem.kind
    if problem.network.time == "continuous":
        return _continuous(problem, anchor)
    if kind.market == "recommendation":
        return _recommendation(problem)
    if kind.market == "pricing":
        return _pricing(problem)
    if kind.market == "collaborative":
        return _collaborative(problem)
    if (
        kind.market is None
        and kind.shape == "single-stage"
        and kind.shortage in ("lost", "backlog")
    ):
        return _single_stage(problem)
    if kind.market is not None:
        raise ValueError(
            f"no preset for a {kind.market!r} market (presets know pricing, "
            "recommendation and collaborative markets)"
        )
    return _generic(problem, anchor, search, generic)


def check_steps(problem: Problem | Network, steps: int | None) -> None:
    """Raise ValueError if PPO cannot run *steps* steps with *problem*'s preset.

    Checked before anything runs: the generic preset's configuration is known without its
    base-stock search, the other presets are cheap to build.
    """
    problem = as_problem(problem)
    _no_preset(problem)
    if problem.network.time == "continuous":
        with_steps(_CONTINUOUS_CONFIG, steps)
        return
    kind = problem.kind
    single = (
        kind.market is None
        and kind.shape == "single-stage"
        and kind.shortage in ("lost", "backlog")
        and problem.network.stock_nodes[0].demand is not None
    )
    if single:  # its settings need no base-stock search
        with_steps(_single_stage_config(problem), steps)
        return
    generic = kind.market is None
    with_steps(_GENERIC_CONFIG if generic else preset(problem)[0], steps)


# -- wrappers -------------------------------------------------------------------------------------
class ActionWindow(gym.ActionWrapper):
    """Let the agent's action span only ``[low, high]`` (physical units) of each component.

    Continuous envs: ``Box(-1, 1)``; ``u`` (clipped to [-1, 1]) maps linearly onto
    ``[low, high]``, or, with a *center*, piecewise linearly with ``u = 0`` at *center*
    (``[-1, 0] -> [low, center]``, ``[0, 1] -> [center, high]``); then onto the env's own
    [-1, 1] scale.  Discrete envs (one component): ``Discrete(high - low + 1)`` with ``k``
    mapped to ``low + k``.  ``high`` must not exceed the env's maximum (``max_level`` /
    ``max_order``).

    *echelon* (``action_mode="base-stock"`` only): the values are echelon levels ``S^e``;
    each node's is turned into the installation level that orders the same,
    ``S^e - (echelon IP - IP)`` at the pending epoch (clipped to ``[0, max_level]``), so
    the agent acts as :class:`~des_supply.policies.EchelonBaseStock` does.  A fixed map
    of action and state, so a policy acts the same in training and evaluation.
    """

    def __init__(
        self, env: gym.Env, low: Any, high: Any, center: Any = None, echelon: bool = False
    ) -> None:
        super().__init__(env)
        base: Any = env.unwrapped  # an InventoryEnv
        layout = base.layout
        maxima = np.array([m for n in layout.nodes for m in layout._maxima(n)], dtype=np.float64)
        self.low = np.broadcast_to(np.asarray(low, dtype=np.float64), maxima.shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=np.float64), maxima.shape).copy()
        self.center = (
            None
            if center is None
            else np.broadcast_to(np.asarray(center, dtype=np.float64), maxima.shape).copy()
        )
        self.echelon = bool(echelon)
        if self.echelon and layout.action_mode != "base-stock":
            raise ValueError("echelon levels need action_mode='base-stock'")
        if (
            np.any(self.low < 0)
            or np.any(self.high <= self.low)
            or (not self.echelon and np.any(self.high > maxima))
        ):
            raise ValueError(
                f"action window [{self.low}, {self.high}] must satisfy "
                f"0 <= low < high <= env maxima {maxima}"
            )
        if self.center is not None and (
            np.any(self.center < self.low) or np.any(self.center > self.high)
        ):
            raise ValueError(
                f"action window center {self.center} must lie in [{self.low}, {self.high}]"
            )
        self.maxima = maxima
        self.nodes = tuple(layout.names)
        self.discrete = bool(base.discrete)
        if self.discrete:
            if (
                maxima.size != 1
                or self.echelon
                or self.center is not None
                or not (self.low[0].is_integer() and self.high[0].is_integer())
            ):
                raise ValueError(
                    "a discrete action window needs one component, whole bounds, "
                    "no center and installation levels"
                )
            self.action_space = spaces.Discrete(int(self.high[0] - self.low[0]) + 1)
        else:
            self.action_space = spaces.Box(-1.0, 1.0, maxima.shape, np.float32)
        # the per-step path (action): Python floats, element by element the IEEE operations
        # of levels() and of the map onto the env's scale, so the same values
        self._shape = maxima.shape
        self._bounds = list(zip(self.low.tolist(), (self.high - self.low).tolist()))
        self._halves = (
            None
            if self.center is None
            else list(
                zip(
                    self.center.tolist(),
                    (self.center - self.low).tolist(),
                    (self.high - self.center).tolist(),
                )
            )
        )
        self._maxima = maxima.tolist()

    def levels(self, action: Any) -> np.ndarray:
        """The values (physical units) that continuous *action* stands for."""
        u = np.clip(np.asarray(action, dtype=np.float64).reshape(self.maxima.shape), -1.0, 1.0)
        if self.center is None:
            return self.low + (u + 1.0) * 0.5 * (self.high - self.low)
        return np.where(
            u < 0,
            self.center + u * (self.center - self.low),
            self.center + u * (self.high - self.center),
        )

    def action(self, action: Any) -> Any:
        if self.discrete:
            return int(self.low[0]) + int(np.asarray(action).reshape(-1)[0])
        if (
            type(action) is np.ndarray
            and action.shape == self._shape
            and action.dtype.kind == "f"
            and action.dtype.itemsize <= 8
        ):  # what agents send: levels() and the map below on Python floats (a ufunc call
            # costs about as much as the engine's period)
            return np.array(self._python_action(action.tolist()))
        value = self.levels(action)
        if self.echelon:
            base: Any = self.env.unwrapped  # an InventoryEnv
            view = base.view
            if view is not None:
                gap = np.array(
                    [
                        view.echelon_inventory_position(n) - view.inventory_position(n)
                        for n in self.nodes
                    ]
                )
                value = np.clip(value - gap, 0.0, self.maxima)
        return 2.0 * value / self.maxima - 1.0

    def _python_action(self, values: list[float]) -> list[float]:
        """:meth:`action` of a continuous action given as Python floats (exact as float64)."""
        u = [min(max(v, -1.0), 1.0) for v in values]  # np.clip, NaN kept
        if self._halves is None:
            value = [low + (x + 1.0) * 0.5 * span for x, (low, span) in zip(u, self._bounds)]
        else:
            value = [
                center + x * down if x < 0 else center + x * up
                for x, (center, down, up) in zip(u, self._halves)
            ]
        if self.echelon:
            base: Any = self.env.unwrapped  # an InventoryEnv
            view = base.view
            if view is not None:
                value = [
                    min(
                        max(
                            v - (view.echelon_inventory_position(n) - view.inventory_position(n)),
                            0.0,
                        ),
                        m,
                    )
                    for v, n, m in zip(value, self.nodes, self._maxima)
                ]
        return [2.0 * v / m - 1.0 for v, m in zip(value, self._maxima)]

    @property
    def vector_unsupported(self) -> str | None:
        """Why :meth:`vector_action` cannot stand for :meth:`action` (None: it can)."""
        return "an echelon ActionWindow (it reads each sub-env's state)" if self.echelon else None

    def vector_action(self, actions: Any) -> np.ndarray:
        """:meth:`action` for ``[N, ...]`` rows of a batch (rl.vector_env.WrappedBatchEnv)."""
        if self.echelon:
            raise NotImplementedError(self.vector_unsupported)
        arr = np.asarray(actions)
        if self.discrete:
            return int(self.low[0]) + arr.reshape(-1).astype(np.int64)
        u = np.clip(arr.astype(np.float64).reshape(len(arr), -1), -1.0, 1.0)
        if self.center is None:
            value = self.low + (u + 1.0) * 0.5 * (self.high - self.low)
        else:
            value = np.where(
                u < 0,
                self.center + u * (self.center - self.low),
                self.center + u * (self.high - self.center),
            )
        return 2.0 * value / self.maxima - 1.0


class PeriodShift(gym.RewardWrapper):
    """Add ``shift`` per period elapsed to the reward: ``reward + shift * info["dt"]``."""

    def __init__(self, env: gym.Env, shift: float) -> None:
        super().__init__(env)
        self.shift = float(shift)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward) + self.shift * float(info.get("dt", 1))
        return obs, reward, terminated, truncated, info

    def reward(self, reward: Any) -> Any:  # pragma: no cover - step does the work
        return reward

    def vector_reward(self, reward: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """:meth:`step`'s shift for a batch of rewards and step lengths."""
        return np.asarray(reward, dtype=np.float64) + self.shift * np.asarray(dt, dtype=np.float64)


def _window(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    window = spec.get("action_window")
    if window is None:
        return None
    if isinstance(window, Mapping):
        return {
            "low": window["low"],
            "high": window["high"],
            "center": window.get("center"),
            "echelon": bool(window.get("echelon", False)),
        }
    return {"low": window[0], "high": window[1], "center": None, "echelon": False}


def make_thunk(problem: Problem | Network, spec: Mapping[str, Any]) -> Callable[[], gym.Env]:
    """A thunk building the wrapped env of ``preset`` (*spec* is its second value) for
    *problem*; every env gets its own copy of the problem's market.

    *spec* may also be a plain dict of env keyword arguments (then both fixed scalings are
    applied).  A continuous-time problem gets :func:`rl.semi_markov_env.make_semi_markov_env`,
    a problem with a recommendation market
    :func:`rl.recommendation_env.make_recommendation_env`, a collaborative one
    :func:`rl.collaborative_env.make_collaborative_env`, any other :func:`rl.make_env`.
    """
    problem = as_problem(problem)
    spec = dict(spec)
    if "env" not in spec:
        spec = {"env": spec, "scale_observation": True, "scale_reward": True}
    kwargs = dict(spec["env"])
    obs, rew = bool(spec.get("scale_observation", True)), bool(spec.get("scale_reward", True))
    scale = spec.get("reward_scale")
    shift = float(spec.get("reward_shift", 0.0))
    window = _window(spec)
    market = problem.kind.market
    continuous = problem.network.time == "continuous"

    def thunk() -> gym.Env:
        if continuous:  # the semi-Markov env; fixed scales from its own layout
            from rl.semi_markov_env import make_semi_markov_env

            smdp = make_semi_markov_env(problem, **kwargs)
            env: gym.Env = smdp
        elif market == "recommendation":
            from rl.recommendation_env import make_recommendation_env

            env = make_recommendation_env(problem, **kwargs)
        elif market == "collaborative":
            from rl.collaborative_env import make_collaborative_env

            env = make_collaborative_env(problem, **kwargs)
        else:
            env = make_env(problem, **kwargs)
        if window is not None:
            env = ActionWindow(env, **window)
        if obs:
            env = scale_observation(env, smdp.layout.feature_scale() if continuous else None)
        if shift:
            env = PeriodShift(env, shift)
        if rew:
            if scale is None and continuous:
                env = scale_reward(env, smdp.layout.cost_scale())
            else:
                env = scale_reward(env, None if scale is None else float(scale))
        return env

    return thunk
