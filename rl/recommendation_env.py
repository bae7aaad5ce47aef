"""Gymnasium and PettingZoo envs for inventory with recommendation (seed paper, Section VI).

N products (the engine's stocking nodes ``model.products``) are sold to M customers
whose demand depends on the seller's recommendation intensities
(:mod:`des_supply.recommendation`).  Every period the seller orders for each product and
sets the (N, M) intensities; the engine (:class:`des_supply.sim.Simulation` with a
:class:`~des_supply.recommendation.RecommendationMarket`) does the rest, exactly as
``des_supply.evaluate.simulate(network, policy, market=market)`` would.

* :class:`RecommendationEnv` (``gymnasium.Env``): one agent; ``control`` says what it
  decides (``"joint"``, ``"replenishment"`` or ``"recommendation"``, the seed paper's
  Joint IM-RS, IM-only and RS-only agents); the other half comes from a fixed rule
  (random by default, as in the paper).
* :class:`RecommendationParallelEnv` (``pettingzoo.ParallelEnv``): a ``"replenishment"``
  and a ``"recommendation"`` agent on a team reward, each deciding on its own timescale.

Both are built from a problem with a recommendation market
(:class:`des_supply.problem.Problem`) by :func:`make_recommendation_env` and
:func:`recommendation_parallel_env`, each env with its own copy of the market; the
Gymnasium ids of the named problems (``des_supply/RecommendationSmall-v0``, ...) live
in :mod:`scenarios.gym_ids`.  A trained agent (a callable observation -> action) runs in
the engine as a policy through :meth:`RecommendationEnv.policy` /
:meth:`RecommendationParallelEnv.policy`, so it is evaluated with ``simulate`` on the same
replications as the heuristics; or step the env with :func:`rl.evaluation.evaluate_agent` (episode k = replication k).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from des_supply.network import Network
from des_supply.policies import Action
from des_supply.problem import Problem
from des_supply.recommendation import KEY, RecommendationMarket, RecommendationModel
from des_supply.recommendation_policies import RandomOrders, RandomRecommender
from des_supply.rng import stream
from des_supply.sim import Observation, Simulation

from .env import EpisodeRunner, NetworkLayout, default_periods, env_parameters, resolve_problem
from .multi_agent import check_agents

__all__ = [
    "AGENTS",
    "CONTROLS",
    "SCORE_MODES",
    "AgentPolicy",
    "DemandMemory",
    "RecommendationEnv",
    "RecommendationLayout",
    "RecommendationParallelEnv",
    "TeamPolicy",
    "make_recommendation_env",
    "recommendation_parallel_env",
]

CONTROLS = ("joint", "replenishment", "recommendation")
SCORE_MODES = ("free", "structured")
AGENTS = ("replenishment", "recommendation")
DEFAULT_PERIODS = 128
LEVEL_FACTOR = 3.0  # default max_level = ceil(3 x mean demand x (L + 1))
RANDOM_ORDER_FACTOR = (
    2.0  # default random orders: U{0..ceil(2 x mean demand)}, mean order ~ mean demand
)


class RecommendationLayout:
    """Observation and action mappings of an inventory-and-recommendation problem.

    Shared by both envs and by the engine policies built from agents.  Observations
    are :class:`rl.env.NetworkLayout` blocks of the product nodes divided by fixed
    scales; order components are order-up-to levels (``NetworkLayout`` in
    ``"base-stock"`` mode); scores are logits mapped by ``model.from_logits``.
    ``finite_horizon=True`` appends ``time_left = (periods - t) / periods`` to the
    observation (a selling season: what a unit is worth depends on the time to go).
    ``demand_features=True`` appends, before it, each product's ``demand_ratio``: the
    episode's demand so far over its expected value under the intensities that were in
    force, ``(D_i + d_i) / (E_i + d_i)`` with ``d_i`` one period's expected demand under
    the base scores (a prior worth one period; 1 at the start).  Under an unseen
    popularity trend (``RecommendationMarket(trend_sd > 0)``) it is the sales-based trend
    estimate a seller would keep; it needs a :class:`DemandMemory` per episode.

    ``score_mode`` says how the recommendation part of an action (components in
    [-1, 1]) becomes the (N, M) logits:

    * ``"free"`` (default): N x M scores u, ``logits = base_scores + logit_scale * u``.
    * ``"structured"``: 2N + M components ``(t_1..t_N, w_1..w_N, c_1..c_M)``,
      ``logits[i, j] = 3**t_i * base_scores[i, j] + logit_scale * w_i * c_j``: a
      per-product temperature on the base scores (t_i = 1 triples the contrast of
      product i's base exposure, t_i = -1 cuts it to a third) and a rank-one term, M
      customer scores c shared by all products with a loading w_i per product (along
      the customers axis it moves product i's exposure towards or away from the
      customers c favours; along the products axis w_i c_j with c near constant is a
      per-product push).  u = 0 plays the base scores, as in ``"free"``; the width is
      2N + M instead of N M (140 instead of 2000 on recommendation-large).  With zero
      base scores the temperatures do nothing.
    """

    def __init__(
        self,
        network: Network,
        market: Any,
        periods: int,
        *,
        max_level: float | Mapping[str, float] | None = None,
        logit_scale: float = 3.0,
        pipeline_length: int | Mapping[str, int] | None = None,
        min_level: float | Mapping[str, float] | None = None,
        base_scores: Any = None,
        score_mode: str = "free",
        finite_horizon: bool = False,
        demand_features: bool = False,
    ) -> None:
        if score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode(={score_mode!r}) must be one of {SCORE_MODES}")
        model = market.model if isinstance(market, RecommendationMarket) else None
        if model is None:
            raise ValueError(f"market must be a RecommendationMarket, got {type(market).__name__}")
        products = tuple(n.name for n in network.stock_nodes)
        if products != model.products:
            raise ValueError(
                f"the network's stocking nodes {products} must be the market's products "
                f"{model.products}, in the same order"
            )
        if not (math.isfinite(logit_scale) and logit_scale > 0):
            raise ValueError(f"logit_scale(={logit_scale}) must be a finite number > 0")
        self.model: RecommendationModel = model
        self.logit_scale = float(logit_scale)
        self.n_products, self.n_customers = model.shape
        if max_level is None:  # the defaults need each product's mean demand and lead time
            probe = NetworkLayout(
                network, periods, action_mode="base-stock", pipeline_length=pipeline_length
            )
            max_level = {
                n.name: float(max(1, math.ceil(LEVEL_FACTOR * n.flow * (n.lead + n.review_period))))
                for n in probe.nodes
            }
        self.inventory = NetworkLayout(
            network,
            periods,
            action_mode="base-stock",
            max_level=max_level,
            pipeline_length=pipeline_length,
        )
        self.products = products
        self.mean_demand = np.array([n.flow for n in self.inventory.nodes])
        self.max_level = np.array([n.max_level for n in self.inventory.nodes])
        self.min_level = self._per_product(0.0 if min_level is None else min_level, "min_level")
        bad = np.flatnonzero(~((self.min_level >= 0) & (self.min_level < self.max_level)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"min_level of product {products[i]!r} ({self.min_level[i]:g}) must be "
                f">= 0 and below max_level={self.max_level[i]:g}"
            )
        self.base_scores = (
            np.zeros(model.shape)
            if base_scores is None
            else np.asarray(base_scores, dtype=np.float64)
        )
        if self.base_scores.shape != model.shape or not np.all(np.isfinite(self.base_scores)):
            raise ValueError(
                f"base_scores must be a finite {model.shape[0]} x {model.shape[1]} "
                f"(products x customers) array, got shape {self.base_scores.shape}"
            )
        self.finite_horizon = bool(finite_horizon)
        self.demand_features = bool(demand_features)
        # one period's expected demand under the base scores: the prior of demand_ratio
        self.prior_demand = np.maximum(
            model.expected_demand(model.from_logits(self.base_scores)), 1e-9
        )
        self.periods = int(periods)
        self.observation_names = (
            self.inventory.observation_names
            + (tuple(f"{p}.demand_ratio" for p in products) if self.demand_features else ())
            + (("time_left",) if self.finite_horizon else ())
        )
        self.observation_scale = self.inventory.feature_scale()
        self._factor = (1.0 / self.observation_scale).astype(np.float32)
        size = len(self.observation_names)
        self.observation_space = spaces.Box(
            np.zeros(size, np.float32), np.full(size, np.inf, np.float32), dtype=np.float32
        )
        self.score_mode = score_mode
        self.order_space = spaces.Box(-1.0, 1.0, (self.n_products,), np.float32)
        self.order_names = tuple(f"{p}.level" for p in products)
        if score_mode == "free":
            self.score_names = tuple(f"{p}.{c}.score" for p in products for c in model.customers)
        else:
            self.score_names = (
                tuple(f"{p}.temperature" for p in products)
                + tuple(f"{p}.loading" for p in products)
                + tuple(f"{c}.customer_score" for c in model.customers)
            )
        self.score_width = len(self.score_names)
        self.score_space = spaces.Box(-1.0, 1.0, (self.score_width,), np.float32)

    def _per_product(
        self, value: float | Mapping[str, float] | np.ndarray, what: str
    ) -> np.ndarray:
        """One number, a mapping product -> number, or an (N,) array as an (N,) array."""
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(self.products))
            missing = [p for p in self.products if p not in value]
            if unknown or missing:
                raise ValueError(
                    f"{what} must give every product {self.products}; unknown "
                    f"{unknown}, missing {missing}"
                )
            return np.array([float(value[p]) for p in self.products])
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (self.n_products,)).copy()

    # -- observations ------------------------------------------------------------------------
    def observe(self, view: Observation, memory: DemandMemory | None = None) -> np.ndarray:
        """The scaled global observation at *view*'s period (then, with
        ``demand_features``, the demand ratios kept in *memory*, and with
        ``finite_horizon`` the share of the horizon left, ``(periods - t) / periods``)."""
        obs = self.inventory.observation(view, view.t) * self._factor
        if self.demand_features:
            if memory is None:
                raise ValueError("demand_features=True: observe needs the episode's DemandMemory")
            obs = np.append(obs, memory.ratio(view, self)).astype(np.float32)
        if self.finite_horizon:
            left = np.float32(max(self.periods - view.t, 0) / self.periods)
            obs = np.append(obs, left).astype(np.float32)
        return obs

    # -- actions -----------------------------------------------------------------------------
    def parts(self, action: Any, control: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Check an action of *control* and split it into (order part, score part); a part
        the agent does not control is None.  Raises ValueError naming the problem."""
        n, k = self.n_products, self.score_width
        width = {"joint": n + k, "replenishment": n, "recommendation": k}[control]
        try:
            arr = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"action must be numeric, got {type(action).__name__}") from None
        if arr.shape != (width,):
            scores = (
                f"{n}x{self.n_customers} recommendation scores"
                if self.score_mode == "free"
                else f"{n} temperatures, {n} loadings and {self.n_customers} customer scores"
            )
            what = {
                "joint": f"{n} order-up-to components then {scores}",
                "replenishment": f"{n} order-up-to components",
                "recommendation": scores,
            }[control]
            raise ValueError(
                f"action has shape {arr.shape}, expected ({width},) for control={control!r}: {what}"
            )
        bad = np.flatnonzero(np.isnan(arr))
        if bad.size:
            names = {
                "joint": self.order_names + self.score_names,
                "replenishment": self.order_names,
                "recommendation": self.score_names,
            }[control]
            raise ValueError(f"action[{bad[0]}] ({names[bad[0]]}) is NaN")
        if control == "joint":
            return arr[:n], arr[n:]
        return (arr, None) if control == "replenishment" else (None, arr)

    def part(self, action: Any, agent: str) -> np.ndarray:
        """The checked action of agent ``"replenishment"`` (N,) or ``"recommendation"`` (N*M,)."""
        order_part, score_part = self.parts(action, agent)
        out = order_part if agent == "replenishment" else score_part
        assert out is not None
        return out

    def orders(self, order_part: np.ndarray, view: Observation) -> dict[str, float]:
        """Orders ``(S_i - IP_i)^+`` of the deciding products,
        ``S = min_level + (u + 1) / 2 * (max_level - min_level)``."""
        inv = self.inventory
        u = np.clip(np.asarray(order_part, dtype=np.float64), -1.0, 1.0)
        level = self.min_level + (u + 1.0) / 2.0 * (self.max_level - self.min_level)
        levels = inv.parse(2.0 * level / self.max_level - 1.0, inv.nodes, self.order_space)
        deciding = set(view.deciding)
        return {
            node.name: inv.order(node, levels[i : i + 1], view)
            for i, node in enumerate(inv.nodes)
            if node.name in deciding
        }

    def logits(self, score_part: np.ndarray) -> np.ndarray:
        """The (N, M) logits of a score part in [-1, 1] (clipped; see ``score_mode``)."""
        u = np.clip(np.asarray(score_part, dtype=np.float64), -1.0, 1.0)
        if self.score_mode == "free":
            return self.base_scores + self.logit_scale * u.reshape(self.model.shape)
        n = self.n_products
        t, w, c = u[:n], u[n : 2 * n], u[2 * n :]
        return 3.0 ** t[:, None] * self.base_scores + self.logit_scale * np.outer(w, c)

    def intensities(self, score_part: np.ndarray) -> np.ndarray:
        """The (N, M) intensities of a score part in [-1, 1] (clipped):
        ``from_logits(logits(u))``, e.g. ``from_logits(base_scores + logit_scale * u)``
        in the free mode."""
        return self.model.from_logits(self.logits(score_part))

    def encode_levels(self, levels: float | Mapping[str, float] | np.ndarray) -> np.ndarray:
        """The order part (float64, exact) that orders up to *levels* (one number, a mapping
        product -> level, or an (N,) array), each in ``[min_level, max_level]``."""
        s = self._per_product(levels, "levels")
        out = ~((s >= self.min_level) & (s <= self.max_level))
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(
                f"level {s[i]:g} of product {self.products[i]!r} is outside "
                f"[min_level={self.min_level[i]:g}, max_level={self.max_level[i]:g}]"
            )
        return 2.0 * (s - self.min_level) / (self.max_level - self.min_level) - 1.0

    def encode_recommendation(self, alpha: Any) -> np.ndarray:
        """The score part (float64) whose intensities are *alpha* (valid (N, M) intensities).

        Possible when every intensity is > 0 and, along the normalisation axis, the
        largest is at most ``exp(2 logit_scale)`` times the smallest; else ValueError.
        """
        if self.score_mode != "free":
            raise ValueError(
                f"score_mode={self.score_mode!r} cannot encode arbitrary intensities "
                "(only the free mode can); encode with a free-mode env"
            )
        a = self.model.check(alpha)
        if np.any(a <= 0):
            raise ValueError("intensities of 0 cannot be encoded as scores (softmax is positive)")
        x = (np.log(a) - self.base_scores) / self.logit_scale
        axis = self.model.sum_axis
        hi, lo = x.max(axis=axis, keepdims=True), x.min(axis=axis, keepdims=True)
        if np.any(hi - lo > 2.0 + 1e-12):
            raise ValueError(
                f"intensity ratios exceed exp(2 * logit_scale) = "
                f"{math.exp(2 * self.logit_scale):g}; raise logit_scale"
            )
        return np.clip(x - (hi + lo) / 2.0, -1.0, 1.0).reshape(-1)

    def split(self, action: Any) -> tuple[np.ndarray, np.ndarray]:
        """A joint action as ``(order_part (N,), score_part (N*M,))``."""
        order, scores = self.parts(action, "joint")
        assert order is not None and scores is not None
        return order, scores

    def join(self, order_part: Any, score_part: Any) -> np.ndarray:
        """The joint action of an order part (N,) and a score part (N*M,)."""
        for what, part, control in (
            ("order_part", order_part, "replenishment"),
            ("score_part", score_part, "recommendation"),
        ):
            try:
                self.parts(part, control)
            except ValueError as exc:
                raise ValueError(f"{what}: {exc}") from None
        return np.concatenate((np.asarray(order_part), np.asarray(score_part)))

    def reward_scale(self, network: Network) -> float:
        """Default reward factor: 1 / (sum over products of price x mean demand)."""
        revenue = sum(network.node(p).price * d for p, d in zip(self.products, self.mean_demand))
        return 1.0 / revenue if revenue > 0 else 1.0


@dataclass
class DemandMemory:
    """What ``demand_ratio`` observations remember of one episode: each product's demand
    so far and its expected value under the intensities in force (the nominal model's
    ``expected_demand``).  At each new period t > 0 :meth:`ratio` adds period t - 1's
    demand (``last_demand``) and the expectation under the intensities last passed to
    :meth:`chose`; t = 0 starts afresh.  Repeated calls in one period count once."""

    demand: np.ndarray | None = None
    expected: np.ndarray | None = None
    alpha: np.ndarray | None = None  # intensities in force since the last chose()
    t: float = -1.0

    def chose(self, alpha: Any) -> None:
        """The intensities in force from this period on."""
        self.alpha = np.asarray(alpha, dtype=np.float64)

    def ratio(self, view: Observation, layout: RecommendationLayout) -> np.ndarray:
        """``(D + d) / (E + d)`` per product at *view*'s period (see :class:`RecommendationLayout`)."""
        if view.t == 0 or self.demand is None or self.expected is None:
            n = layout.n_products
            self.demand, self.expected, self.t = np.zeros(n), np.zeros(n), 0.0
        if view.t > self.t:
            alpha = layout.model.uniform() if self.alpha is None else self.alpha
            self.demand = self.demand + [view.last_demand(p) for p in layout.products]
            self.expected = self.expected + layout.model.expected_demand(alpha)
            self.t = float(view.t)
        prior = layout.prior_demand
        return ((self.demand + prior) / (self.expected + prior)).astype(np.float32)


def _check_scale(
    reward_scale: float | None, layout: RecommendationLayout, network: Network
) -> float:
    if reward_scale is None:
        return layout.reward_scale(network)
    if not (math.isfinite(reward_scale) and reward_scale > 0):
        raise ValueError(f"reward_scale(={reward_scale}) must be a finite number > 0")
    return float(reward_scale)


def _orders_of(decision: Any) -> dict[str, float]:
    return dict(decision.orders if isinstance(decision, Action) else decision)


# -- engine policies from agents --------------------------------------------------------------
@dataclass
class AgentPolicy:
    """An agent (observation -> action of a :class:`RecommendationEnv`) as an engine policy.

    ``simulate(network, policy, market=..., seed=s)`` replication k then plays exactly
    what episode k of the env after ``reset(seed=s)`` plays with the same agent,
    the random "other" half included (seeded the same way, see the env's Seeding).
    """

    layout: RecommendationLayout
    agent: Callable[[np.ndarray], Any]
    control: str
    replenishment: Any = None
    recommender: Any = None
    _memory: DemandMemory = field(default_factory=DemandMemory, init=False, repr=False)

    def start_run(self, rng: np.random.Generator) -> None:
        """Child streams of the run's ``"policy"`` stream, as ``RecommendAndReplenish`` does."""
        self._memory = DemandMemory()
        for part, child in zip((self.replenishment, self.recommender), rng.spawn(2)):
            if callable(getattr(part, "start_run", None)):
                part.start_run(child)

    def act(self, obs: Observation) -> Action:
        order_part, score_part = self.layout.parts(
            self.agent(self.layout.observe(obs, self._memory)), self.control
        )
        orders = (
            self.layout.orders(order_part, obs)
            if order_part is not None
            else _orders_of(self.replenishment.act(obs))
        )
        alpha = (
            self.layout.intensities(score_part)
            if score_part is not None
            else self.recommender.recommend(obs, self.layout.model)
        )
        self._memory.chose(alpha)
        return Action(orders=orders, extra={KEY: alpha})


@dataclass
class TeamPolicy:
    """The two agents of a :class:`RecommendationParallelEnv` as one engine policy.

    Each agent is called only in the periods where it acts (``t % period == 0``) with
    its observation (global observation + its phase features); in between no order
    is placed and the last intensities stay in force, as in the env.
    """

    layout: RecommendationLayout
    replenishment: Callable[[np.ndarray], Any]
    recommendation: Callable[[np.ndarray], Any]
    periods: tuple[int, int]
    _alpha: np.ndarray | None = field(default=None, init=False, repr=False)
    _memory: DemandMemory = field(default_factory=DemandMemory, init=False, repr=False)

    def start_run(self, rng: np.random.Generator) -> None:
        self._alpha, self._memory = None, DemandMemory()

    def act(self, obs: Observation) -> Action:
        t, (rp, qp) = obs.t, self.periods
        state = self.layout.observe(obs, self._memory)
        orders: dict[str, float] = {}
        if t % rp == 0:
            u = np.asarray(self.replenishment(_with_phase(state, t, rp)))
            orders = self.layout.orders(self.layout.part(u, "replenishment"), obs)
        if t % qp == 0 or self._alpha is None:  # period 0 always acts
            u = np.asarray(self.recommendation(_with_phase(state, t, qp)))
            self._alpha = self.layout.intensities(self.layout.part(u, "recommendation"))
            self._memory.chose(self._alpha)
        return Action(orders=orders, extra={KEY: self._alpha})


def _render(runner: EpisodeRunner, layout: RecommendationLayout, alpha: np.ndarray) -> str:
    """The ANSI rendering of both envs: stock per product and expected demand under *alpha*."""
    view = runner.view
    if view is None:
        return "(not started: call reset())"
    expected = layout.model.expected_demand(alpha)
    rows = [
        f"period {runner.t}/{runner.periods}, episode {runner.episode}",
        f"{'product':<12}{'on_hand':>10}{'backlog':>10}{'IP':>10}{'E[demand]':>11}",
    ]
    for p, e in zip(layout.products, expected):
        rows.append(
            f"{p:<12}{view.on_hand(p):>10.4g}{view.backlog(p):>10.4g}"
            f"{view.inventory_position(p):>10.4g}{e:>11.4g}"
        )
    return "\n".join(rows)


def _phase(t: float, period: int) -> np.ndarray:
    """An agent's phase features: acting now (1/0), and ``(t mod period) / period``."""
    return np.array([1.0 if t % period == 0 else 0.0, (t % period) / period], dtype=np.float32)


def _with_phase(state: np.ndarray, t: float, period: int) -> np.ndarray:
    return np.concatenate((state, _phase(t, period)))


# -- the single-agent env ---------------------------------------------------------------------
class RecommendationEnv(gym.Env[np.ndarray, np.ndarray]):
    """## Description

    Inventory with recommendation (seed paper, Section VI): N products, each a
    stocking node of the engine, sold to M customers whose purchases depend on the
    recommendation intensities (:mod:`des_supply.recommendation`).  One step is one
    period: the agent's orders and intensities answer the engine's decision epoch
    (receive, decide, demand, account), as ``Simulation.run`` does for a policy.

    ## Action Space

    ``Box(-1, 1, (k,), float32)``; out-of-range values are clipped, NaN or a wrong
    shape raise ValueError.  ``control``:

    | control            | k           | the agent sets                  | the rest comes from                            |
    |--------------------|-------------|---------------------------------|------------------------------------------------|
    | `"joint"`          | N + N*M     | orders, then intensities        | -                                              |
    | `"replenishment"`  | N           | orders (IM-only)                | ``other_recommender`` (RandomRecommender: Dirichlet(1) per period) |
    | `"recommendation"` | N*M         | intensities (RS-only)           | ``other_replenishment`` (RandomOrders: U{0..ceil(2 d_i)} per product and period, mean order ~ mean demand) |

    Order component ``u_i`` is an order-up-to level
    ``S_i = min_level_i + (u_i + 1) / 2 * (max_level_i - min_level_i)`` (``min_level``
    default 0);
    the order is ``(S_i - IP_i)^+`` (IP = on hand - backlog + on order), rounded to
    whole units by the engine.  Default ``max_level_i = ceil(3 d_i (L_i + 1))`` with
    ``d_i`` product i's mean demand under uniform recommendation and ``L_i`` its
    largest lead time.  Score component ``u[i * M + j]`` (product i, customer j) is a
    logit ``base_scores[i, j] + logit_scale * u`` (``base_scores`` default 0; with
    ``min_level``/``base_scores`` set from a heuristic, ``u = 0`` plays that heuristic and
    the agent learns deviations from it); ``model.from_logits`` (softmax along the model's
    normalisation axis) turns the (N, M) logits into valid intensities, so every
    action is feasible.  ``score_mode="structured"`` replaces the N*M scores by 2N + M
    components (per-product temperatures and loadings, shared customer scores; see
    :class:`RecommendationLayout`): k is N + 2N + M for ``"joint"``, 2N + M for
    ``"recommendation"``.  ``split``/``join`` cut and glue joint actions (e.g. the
    seed's Naive IM-RS: the order head of an IM-only agent with the score head of an
    RS-only agent); ``encode(levels, recommendation)`` is the inverse mapping and
    ``decode(action)`` the engine ``Action`` an action means at the pending epoch.

    ## Observation Space

    ``Box(0, inf, float32)``, one block per product (in ``model.products`` order),
    each entry divided by a fixed scale (``observation_scale``); the customer model
    is static and not observed.  ``observation_names`` lists the entries.

    | Feature               | Present when           | Scale                     | Meaning                                             |
    |-----------------------|------------------------|---------------------------|-----------------------------------------------------|
    | `<p>.on_hand`         | always                 | ``max(1, d (L + 1))``     | units on hand                                       |
    | `<p>.backlog`         | shortage "backlog"     | ``max(1, d (L + 1))``     | units owed to customers                             |
    | `<p>.on_order`        | always                 | ``max(1, d (L + 1))``     | units ordered, not yet received                     |
    | `<p>.pipeline[j]`     | j = 1..min(L, 10)      | ``max(1, d)``             | units due at the start of period t + j              |
    | `<p>.last_demand`     | always                 | ``max(1, d)``             | product p's demand in the previous period           |
    | `<p>.demand_ratio`    | ``demand_features``    | 1                         | demand so far / its expectation (trend estimate)    |
    | `time_left`           | ``finite_horizon``     | 1                         | ``(periods - t) / periods``                         |

    ## Rewards

    Profit (revenue - holding, penalty and purchase costs; seed eq. 14) accounted
    in the step, times ``reward_scale`` (default ``1 / sum_i price_i d_i``, so a
    period's reward is at most about the margin rate).  ``info["profit"]`` is the
    raw profit; ``info`` also has the engine's ``t``, ``dt``, ``replication``,
    ``cost`` (breakdown), ``revenue``, ``node_cost``, and ``orders`` (placed, (N,)).

    ## Episode End

    Never terminated; truncated after ``periods`` periods (bootstrap there).  With
    ``finite_horizon=True`` (a selling season of ``periods`` periods whose end is the
    end: leftovers are worth only their salvage) the episode *terminates* after
    ``periods`` periods instead (no bootstrap), and the observation ends with
    ``time_left``.

    ## Seeding

    As :class:`rl.env.InventoryEnv`: episode k after ``reset(seed=s)`` (or with
    ``options={"episode": k}``) runs on ``des_supply.rng.replication_seed(s, k)``, the
    demand uniforms of replication k of ``simulate(..., seed=s)``.  The random
    "other" half draws from the generator the engine hands a policy in that
    replication (``stream(replication_seed(s, k), "policy")``), split with
    ``rng.spawn(2)`` as :class:`~des_supply.recommendation_policies.RecommendAndReplenish`
    does (child 0 replenishment, child 1 recommender).  So the env with
    ``control="replenishment"`` and an agent that plays base-stock S reproduces
    ``simulate(..., RecommendAndReplenish(BaseStock(S), RandomRecommender()))`` bit
    for bit, and same seed and episode give the same everything.  The other half is
    asked once per period, whether or not ``decode`` is called.

    ## Arguments

    ```python
    RecommendationEnv(network, market, periods=128, control="joint", other_recommender=None,
                      other_replenishment=None, max_level=None, logit_scale=3.0,
                      reward_scale=None, pipeline_length=None, episode_offset=0,
                      episode_stride=1, render_mode=None)
    ```

    ## Version History

    * v0: initial version.

    Examples:
        >>> from des_supply import Edge, Network, Node, Poisson
        >>> from des_supply.problem import Problem
        >>> from des_supply.recommendation import RecommendationMarket, RecommendationModel
        >>> model = RecommendationModel.generate(3, 5, seed=0)   # 3 products, 5 customers
        >>> means = model.expected_demand(model.uniform())
        >>> net = Network(
        ...     nodes=(Node("supplier", kind="supply"),
        ...            *(Node(p, holding_cost=1, shortage="lost", shortage_cost=2, order_cost=5,
        ...                   price=10, demand=Poisson(d)) for p, d in zip(model.products, means))),
        ...     edges=tuple(Edge("supplier", p, lead_time=1) for p in model.products))
        >>> env = make_recommendation_env(Problem(net, RecommendationMarket(model)), periods=5)
        >>> env.action_space, env.observation_space.shape
        (Box(-1.0, 1.0, (18,), float32), (12,))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.encode(levels=8.0))
        >>> info["t"], terminated, truncated
        (1, False, False)

    """

    # an instance attribute in gymnasium.Env (a ClassVar here would contradict it)
    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        network: Network,
        market: Any,
        periods: int = DEFAULT_PERIODS,
        *,
        control: str = "joint",
        other_recommender: Any = None,
        other_replenishment: Any = None,
        max_level: float | Mapping[str, float] | None = None,
        logit_scale: float = 3.0,
        min_level: float | Mapping[str, float] | None = None,
        base_scores: Any = None,
        score_mode: str = "free",
        finite_horizon: bool = False,
        demand_features: bool = False,
        reward_scale: float | None = None,
        pipeline_length: int | Mapping[str, int] | None = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        if control not in CONTROLS:
            raise ValueError(f"control(={control!r}) must be one of {', '.join(CONTROLS)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode(={render_mode!r}) must be None or 'ansi'")
        if other_recommender is not None and control != "replenishment":
            raise ValueError(
                f"other_recommender is used only with control='replenishment', not {control!r}"
            )
        if other_replenishment is not None and control != "recommendation":
            raise ValueError(
                f"other_replenishment is used only with control='recommendation', not {control!r}"
            )
        self.layout = RecommendationLayout(
            network,
            market,
            periods,
            max_level=max_level,
            logit_scale=logit_scale,
            pipeline_length=pipeline_length,
            min_level=min_level,
            base_scores=base_scores,
            score_mode=score_mode,
            finite_horizon=finite_horizon,
            demand_features=demand_features,
        )
        self.memory = DemandMemory()  # the episode's demand_ratio state
        self.runner = EpisodeRunner(network, periods, market, episode_offset, episode_stride)
        self.network, self.market, self.periods = network, market, self.runner.periods
        self.control, self.render_mode = control, render_mode
        self.model = self.layout.model
        self.reward_scale = _check_scale(reward_scale, self.layout, network)
        if control == "replenishment":
            other_recommender = (
                RandomRecommender() if other_recommender is None else other_recommender
            )
            if not callable(getattr(other_recommender, "recommend", None)):
                raise ValueError("other_recommender must have recommend(obs, model)")
        if control == "recommendation":
            if other_replenishment is None:
                high = {
                    p: float(max(1, math.ceil(RANDOM_ORDER_FACTOR * d)))
                    for p, d in zip(self.layout.products, self.layout.mean_demand)
                }
                other_replenishment = RandomOrders(high)
            if not callable(getattr(other_replenishment, "act", None)):
                raise ValueError("other_replenishment must have act(obs) (an engine policy)")
        self.other_recommender, self.other_replenishment = other_recommender, other_replenishment
        self.observation_space = self.layout.observation_space
        width = len(self.layout.order_names) + len(self.layout.score_names)
        self.action_space = {
            "joint": spaces.Box(-1.0, 1.0, (width,), np.float32),
            "replenishment": self.layout.order_space,
            "recommendation": self.layout.score_space,
        }[control]
        self._other: dict[str, float] | np.ndarray | None = None  # the other half at this epoch

    # -- what the agent sees -----------------------------------------------------------------
    @property
    def observation_names(self) -> tuple[str, ...]:
        return self.layout.observation_names

    @property
    def action_names(self) -> tuple[str, ...]:
        lay = self.layout
        return {
            "joint": lay.order_names + lay.score_names,
            "replenishment": lay.order_names,
            "recommendation": lay.score_names,
        }[self.control]

    @property
    def sim(self) -> Simulation:
        """The engine (read it, don't drive it)."""
        return self.runner.sim

    @property
    def view(self) -> Observation | None:
        """The engine's observation at the pending epoch, or None."""
        return None if self.runner.done else self.runner.view

    @property
    def episode(self) -> int:
        return self.runner.episode

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        view, info = self.runner.begin(seed, options)
        rng = stream(self.runner.sim.root, "policy")  # what Simulation.run gives a policy
        for part, child in zip((self.other_replenishment, self.other_recommender), rng.spawn(2)):
            if callable(getattr(part, "start_run", None)):
                part.start_run(child)
        self._other = None
        self.memory = DemandMemory()
        info["profit"] = info["revenue"] - info["cost"]["total"]
        info["orders"] = np.zeros(self.layout.n_products)
        return self.layout.observe(view, self.memory), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decided = self.decode(action)
        view = self.runner.view
        assert view is not None
        self.memory.chose(decided.extra[KEY])
        reward, info = self.runner.answer(decided)
        self._other = None
        info["profit"] = reward
        info["orders"] = np.array([decided.orders.get(p, 0.0) for p in self.layout.products])
        return (
            self.layout.observe(view, self.memory),
            float(reward) * self.reward_scale,
            self.runner.done and self.layout.finite_horizon,
            self.runner.done and not self.layout.finite_horizon,
            info,
        )

    # gymnasium types the return with a function-level TypeVar, which no concrete type matches
    def render(self) -> str | None:  # type: ignore[override]
        if self.render_mode != "ansi":
            return None
        return _render(self.runner, self.layout, self.market.last_recommendation)

    # -- actions -----------------------------------------------------------------------------
    def decode(self, action: Any) -> Action:
        """The engine ``Action`` that *action* places at the pending epoch (orders of the
        deciding products and the intensities, the other half included)."""
        view = self.runner.view
        if self.runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        order_part, score_part = self.layout.parts(action, self.control)
        if self._other is None and self.control != "joint":  # asked once per epoch
            self._other = (
                _orders_of(self.other_replenishment.act(view))
                if order_part is None
                else np.asarray(self.other_recommender.recommend(view, self.model))
            )
        orders = (  # no order part: _other holds the other agent's orders
            self.layout.orders(order_part, view)
            if order_part is not None
            else dict(cast(dict[str, float], self._other))
        )
        alpha = self.layout.intensities(score_part) if score_part is not None else self._other
        return Action(orders=orders, extra={KEY: alpha})

    def encode(
        self,
        levels: float | Mapping[str, float] | np.ndarray | None = None,
        recommendation: Any = None,
    ) -> np.ndarray:
        """The action (float64, exact) of this env's control that orders up to *levels* and
        recommends *recommendation* ((N, M) intensities; default uniform).  See
        :meth:`RecommendationLayout.encode_levels` / ``encode_recommendation``."""
        parts = []
        if self.control != "recommendation":
            if levels is None:
                raise ValueError(f"control={self.control!r} needs levels")
            parts.append(self.layout.encode_levels(levels))
        if self.control != "replenishment":
            alpha = self.model.uniform() if recommendation is None else recommendation
            parts.append(self.layout.encode_recommendation(alpha))
        return np.concatenate(parts)

    def split(self, action: Any) -> tuple[np.ndarray, np.ndarray]:
        """A joint action (N + score width,) as ``(order_part (N,), score_part (N*M,))``, whatever
        this env's control."""
        return self.layout.split(action)

    def join(self, order_part: Any, score_part: Any) -> np.ndarray:
        """The joint action of an IM-only agent's action (N,) and an RS-only agent's (N*M,)."""
        return self.layout.join(order_part, score_part)

    def policy(self, agent: Callable[[np.ndarray], Any]) -> AgentPolicy:
        """*agent* (observation -> action of this env) as an engine policy for
        ``des_supply.evaluate.simulate`` (with a market of the same problem, e.g.
        ``problem.new_market()``; not ``env.market`` while an episode is running).
        The other half is a copy of this env's."""
        return AgentPolicy(
            self.layout,
            agent,
            self.control,
            copy.deepcopy(self.other_replenishment),
            copy.deepcopy(self.other_recommender),
        )


# -- the two-agent env ------------------------------------------------------------------------
class RecommendationParallelEnv(ParallelEnv):
    """A replenishment agent and a recommendation agent on a team reward, on their own timescales.

    ## Agents and actions

    ``"replenishment"``: ``Box(-1, 1, (N,))`` order-up-to components; ``"recommendation"``:
    ``Box(-1, 1, (N*M,))`` scores.  Both map as in :class:`RecommendationEnv` (same
    ``max_level``, ``logit_scale``).  Agent a acts in the periods t with
    ``t % period_a == 0`` (``replenishment_period``, ``recommendation_period``; default
    1, and period 0 always acts).  In the other periods its action is checked and
    ignored: the replenishment agent places no order (periodic review) and the
    recommender's last intensities stay in force.

    ## Acting flags (the masking convention)

    Every agent submits an action at every step.  ``infos[a]["acting"]`` (from
    ``reset`` and from every ``step``) says whether the action agent a submits at the
    NEXT step, i.e. the one computed from the observation returned alongside, takes
    effect: ``t % period_a == 0`` for the period t of that observation
    (``infos[a]["t"]``).  A trainer stores/learns only from those transitions (or
    treats the intervals as SMDP steps, summing the team rewards in between).  The
    same bit is the agent's first phase feature.  Period 0 always acts; the flags
    returned with the final (truncated) step refer to period ``periods`` and mean
    nothing.

    ## Observations

    ``state()`` (``state_space``) is the global observation of :class:`RecommendationEnv`
    (scaled inventory blocks per product), for a centralised critic.  Agent a
    observes the global observation followed by its phase features
    ``a.acting`` (1/0 as above) and ``a.phase = (t mod period_a) / period_a``.

    ## Rewards, episodes, seeding

    Both agents get the team reward: the profit of the step times ``reward_scale``
    (default ``1 / sum_i price_i d_i``); ``infos[a]`` has the raw ``profit``, ``t`` and
    ``dt``.  No terminal state; all agents are truncated after ``periods`` periods
    (with ``finite_horizon=True``: terminated, and ``time_left`` observed, as in
    :class:`RecommendationEnv`).
    Episode k after ``reset(seed=s)`` (or ``options={"episode": k}``) runs on
    ``replication_seed(s, k)``, replication k of ``simulate(..., seed=s)``;
    :meth:`policy` runs the two agents in the engine on the same draws.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "des_supply_recommendation_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        network: Network,
        market: Any,
        periods: int = DEFAULT_PERIODS,
        *,
        replenishment_period: int = 1,
        recommendation_period: int = 1,
        max_level: float | Mapping[str, float] | None = None,
        logit_scale: float = 3.0,
        min_level: float | Mapping[str, float] | None = None,
        base_scores: Any = None,
        score_mode: str = "free",
        finite_horizon: bool = False,
        demand_features: bool = False,
        reward_scale: float | None = None,
        pipeline_length: int | Mapping[str, int] | None = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        for what, p in (
            ("replenishment_period", replenishment_period),
            ("recommendation_period", recommendation_period),
        ):
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
                raise ValueError(f"{what}(={p!r}) must be an integer >= 1")
        if render_mode is not None and render_mode != "ansi":
            raise ValueError(f"render_mode(={render_mode!r}) must be None or 'ansi'")
        self.layout = RecommendationLayout(
            network,
            market,
            periods,
            max_level=max_level,
            logit_scale=logit_scale,
            pipeline_length=pipeline_length,
            min_level=min_level,
            base_scores=base_scores,
            score_mode=score_mode,
            finite_horizon=finite_horizon,
            demand_features=demand_features,
        )
        self.memory = DemandMemory()  # the episode's demand_ratio state
        self.runner = EpisodeRunner(network, periods, market, episode_offset, episode_stride)
        self.network, self.market, self.periods = network, market, self.runner.periods
        self.render_mode = render_mode
        self.model = self.layout.model
        self.reward_scale = _check_scale(reward_scale, self.layout, network)
        self.agent_periods = {
            "replenishment": int(replenishment_period),
            "recommendation": int(recommendation_period),
        }
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self.state_space = self.layout.observation_space
        size = self.state_space.shape[0]
        low = np.zeros(size + 2, np.float32)
        high = np.concatenate((np.full(size, np.inf, np.float32), np.ones(2, np.float32)))
        self.observation_spaces = {a: spaces.Box(low, high, dtype=np.float32) for a in AGENTS}
        self.action_spaces = {
            "replenishment": self.layout.order_space,
            "recommendation": self.layout.score_space,
        }
        self.alpha = self.model.uniform()  # intensities in force

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def observation_names(self, agent: str) -> tuple[str, ...]:
        return self.layout.observation_names + (f"{agent}.acting", f"{agent}.phase")

    @property
    def sim(self) -> Simulation:
        return self.runner.sim

    def state(self) -> np.ndarray:
        """The global observation (for a centralised critic)."""
        view = self.runner.view
        if view is None:
            raise RuntimeError("call reset() first")
        return self.layout.observe(view, self.memory)

    def _outputs(
        self, view: Observation
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        state, t = self.layout.observe(view, self.memory), self.runner.t
        obs = {a: _with_phase(state, t, self.agent_periods[a]) for a in self.agents}
        infos = {a: {"t": t, "acting": t % self.agent_periods[a] == 0} for a in self.agents}
        return obs, infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        view, _ = self.runner.begin(seed, options)
        self.agents = list(self.possible_agents)
        self.alpha = self.model.uniform()
        self.memory = DemandMemory()
        return self._outputs(view)

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        view = self.runner.view
        if not self.agents or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        check_agents(actions, self.agents)
        parts: dict[str, np.ndarray] = {}
        for agent in AGENTS:  # checked every step, acting or not
            try:
                parts[agent] = self.layout.part(actions[agent], agent)
            except ValueError as exc:
                raise ValueError(f"agent {agent!r}: {exc}") from None
        t = self.runner.t
        orders: dict[str, float] = {}
        if t % self.agent_periods["replenishment"] == 0:
            orders = self.layout.orders(parts["replenishment"], view)
        if t % self.agent_periods["recommendation"] == 0:
            self.alpha = self.layout.intensities(parts["recommendation"])
        self.memory.chose(self.alpha)
        profit, info = self.runner.answer(Action(orders=orders, extra={KEY: self.alpha}))
        obs, infos = self._outputs(view)
        for a in self.agents:
            infos[a].update(dt=info["dt"], profit=profit)
        reward = float(profit) * self.reward_scale
        done = self.runner.done
        rewards = {a: reward for a in self.agents}
        end = self.layout.finite_horizon
        terminations = {a: done and end for a in self.agents}
        truncations = {a: done and not end for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return _render(self.runner, self.layout, self.alpha)

    def close(self) -> None:
        pass

    def policy(
        self,
        replenishment: Callable[[np.ndarray], Any],
        recommendation: Callable[[np.ndarray], Any],
    ) -> TeamPolicy:
        """The two agents (observation -> action) as one engine policy (see :class:`TeamPolicy`)."""
        return TeamPolicy(
            self.layout,
            replenishment,
            recommendation,
            (self.agent_periods["replenishment"], self.agent_periods["recommendation"]),
        )


# -- construction from problems ---------------------------------------------------------------
def _build(
    cls: type, problem: Problem | Network, periods: int | None, env_kwargs: dict[str, Any]
) -> Any:
    params = env_parameters(cls, skip=("network", "market"))
    problem, env_kw = resolve_problem(problem, env_kwargs, params)
    if not isinstance(problem.market, RecommendationMarket):
        has = "no market" if problem.market is None else f"a {problem.kind.market} market"
        raise ValueError(
            f"problem {problem.name!r} has {has}: {cls.__name__} needs a problem "
            "with a recommendation market "
            "(des_supply.recommendation.RecommendationMarket)"
        )
    if periods is None:
        periods = default_periods(problem, DEFAULT_PERIODS)
    return cls(problem.network, problem.new_market(), periods, **env_kw)


def make_recommendation_env(
    problem: Problem, *, control: str = "joint", periods: int | None = None, **env_kwargs: Any
) -> RecommendationEnv:
    """A :class:`RecommendationEnv` of *problem*, which must have a recommendation market
    (the env gets its own copy, ``problem.new_market()``).

    ``periods`` defaults to ``min(128, problem.periods)``; *env_kwargs* are the env's other
    keyword arguments (``other_recommender``, ``max_level``, ``logit_scale``, ...);
    unknown ones raise ValueError listing them.
    """
    return _build(RecommendationEnv, problem, periods, {"control": control, **env_kwargs})


def recommendation_parallel_env(
    problem: Problem, *, periods: int | None = None, **env_kwargs: Any
) -> RecommendationParallelEnv:
    """A :class:`RecommendationParallelEnv` of *problem* (with a recommendation market);
    *env_kwargs* are the env's (``replenishment_period``, ``recommendation_period``,
    ``max_level``, ``logit_scale``, ``reward_scale``, ...)."""
    return _build(RecommendationParallelEnv, problem, periods, env_kwargs)
