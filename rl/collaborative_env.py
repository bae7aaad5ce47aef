"""A Gymnasium env for collaborative problems (seed paper, Section VII).

One agent decides, every period and for every item, the four things of the paper's
collaborative model: production and ordering (how much, and from which supplier), the
price, and the recommendation to every customer segment.  The engine
(:class:`des_supply.sim.Simulation` with a
:class:`~des_supply.collaborative.CollaborativeMarket`) does the rest, as
``des_supply.evaluate.simulate`` would: episode k after ``reset(seed=s)`` is replication k
of seed s (:class:`rl.env.EpisodeRunner`).

Actions are anchored on a reference policy
(:class:`~des_supply.collaborative_policies.CollaborativeBaseStock`, the levels, price
factor and intensities ``anchor`` gives): the zero action plays it, so training starts at
the heuristic and must beat it.  ``Box(-1, 1, (I * (2 + C) + I * M,))``, clipped, item by
item then the scores:

==================  ==========================================================================
component           meaning
==================  ==========================================================================
``<item>.level``    order up to ``level * (1 + u)`` (0 at u = -1, twice the anchor at u = 1)
``<item>.price``    ``anchor factor * (1 + price_range * u)`` x list price
``<item>.<sup>``    one per capacitated supplier, cheapest first: use ``min(1, 1 + u)`` of its
                    capacity this period (u >= 0: all of it, as the reference policy); what
                    the capacitated ones do not make comes from the last (uncapacitated) one
``<item>.<seg>``    recommendation score: intensities ``from_logits(log anchor + logit_scale * u)``
==================  ==========================================================================

``encode(action)`` is the inverse of ``decode``: the env action that places a given engine
``Action`` (orders per supplier, prices, intensities) at the pending epoch, so that any
behaviour policy's decisions can be logged in this action space (``rl.trajectories``).  An
action is representable when its orders are whole units, at most each capacitated supplier's
capacity, in the order ``decode`` fills them (cheapest first; the rest from the first
uncapacitated one), its order-up-to point ``IP + sum of orders`` is in ``[0, 2 * level]``,
its price factor within ``price_range`` of the anchor's and its intensities positive with
log-ratios to the anchor's within ``logit_scale`` of their midrange (per normalisation
group); then ``decode(encode(a))`` is ``a`` (orders exactly; prices and intensities to the
float32 precision of the action).  Otherwise ``encode`` raises ValueError naming the
component (or, with ``strict=False``, returns the nearest representable action, clipped).

Observations (float32, scaled by the item's mean demand): per item its stock on hand,
backlog, units on order from each supplier, last period's demand, and the price factor in
force.  Reward: the period's profit times ``reward_scale`` (default 1 / (sum over items of
list price x mean demand)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from des_supply.collaborative import CollaborativeMarket
from des_supply.collaborative_policies import supplier_costs
from des_supply.network import Network
from des_supply.policies import Action
from des_supply.problem import Problem
from des_supply.recommendation import KEY
from des_supply.sim import Observation, Simulation

from .env import EpisodeRunner, default_periods, env_parameters, resolve_problem

__all__ = ["CollaborativeEnv", "make_collaborative_env"]

DEFAULT_PERIODS = 128


class CollaborativeEnv(gym.Env[np.ndarray, np.ndarray]):
    """Production, ordering, pricing and recommendation in one action (module docstring)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (gymnasium's attribute)

    def __init__(
        self,
        network: Network,
        market: Any,
        periods: int = DEFAULT_PERIODS,
        *,
        levels: Mapping[str, float],
        price_factor: float = 1.0,
        intensities: Any = None,
        price_range: float = 0.25,
        logit_scale: float = 2.0,
        reward_scale: float | None = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
    ) -> None:
        if not isinstance(market, CollaborativeMarket):
            raise ValueError(f"market must be a CollaborativeMarket, got {type(market).__name__}")
        self.items = market.nodes
        model = market.model
        missing = [i for i in self.items if i not in levels]
        if missing or any(not (float(levels[i]) > 0) for i in self.items):
            raise ValueError(f"levels must give every item {self.items} a level > 0")
        for what, value in (
            ("price_factor", price_factor),
            ("logit_scale", logit_scale),
            ("price_range", price_range),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{what}(={value}) must be a finite number > 0")
        if price_range >= 1:
            raise ValueError(f"price_range(={price_range}) must be below 1 (prices stay > 0)")
        alpha = model.uniform() if intensities is None else model.check(intensities)
        if np.any(alpha <= 0):
            raise ValueError("anchor intensities must be > 0 (scores are logits)")
        self.runner = EpisodeRunner(network, periods, market, episode_offset, episode_stride)
        self.network, self.market, self.periods = network, market, self.runner.periods
        self.levels = np.array([float(levels[i]) for i in self.items])
        self.price_factor, self.price_range = float(price_factor), float(price_range)
        self.logit_scale, self.base_scores = float(logit_scale), np.log(alpha)
        self.list_prices = market.prices.list_prices.copy()
        self.suppliers = {i: supplier_costs(network, i) for i in self.items}
        # cheapest first: the capacitated suppliers before the first uncapacitated one are
        # the agent's to use; that one (or else the last) makes the rest, as the reference
        self.capacitated: dict[str, list[tuple[str, float]]] = {}
        self.rest: dict[str, str] = {}
        for i in self.items:
            ways = self.suppliers[i]
            first_open = next(
                (k for k, (_, _, c) in enumerate(ways) if math.isinf(c)), len(ways) - 1
            )
            self.capacitated[i] = [(s, c) for _, s, c in ways[:first_open]]
            self.rest[i] = ways[first_open][1]
        self.mean_demand = np.maximum(
            market.expected_demand(alpha, price_factor * self.list_prices), 1e-9
        )
        action_names = []
        for i in self.items:
            action_names += [f"{i}.level", f"{i}.price"]
            action_names += [f"{i}.{s}" for s, _ in self.capacitated[i]]
        self._item_width = len(action_names)
        action_names += [f"{i}.{c}" for i in self.items for c in model.customers]
        self.action_names = tuple(action_names)
        obs_names = []
        for i in self.items:
            obs_names += [f"{i}.on_hand", f"{i}.backlog"]
            obs_names += [f"{i}.on_order.{s}" for _, s, _ in self.suppliers[i]]
            obs_names += [f"{i}.last_demand", f"{i}.price_factor"]
        self.observation_names = tuple(obs_names)
        self.action_space = spaces.Box(-1.0, 1.0, (len(self.action_names),), np.float32)
        self.observation_space = spaces.Box(
            -np.inf, np.inf, (len(self.observation_names),), np.float32
        )
        revenue = float(np.sum(self.list_prices * self.mean_demand))
        if reward_scale is None:
            reward_scale = 1.0 / revenue if revenue > 0 else 1.0
        if not (math.isfinite(reward_scale) and reward_scale > 0):
            raise ValueError(f"reward_scale(={reward_scale}) must be a finite number > 0")
        self.reward_scale = float(reward_scale)

    @property
    def sim(self) -> Simulation:
        """The engine (read it, don't drive it)."""
        return self.runner.sim

    @property
    def episode(self) -> int:
        return self.runner.episode

    @property
    def view(self) -> Observation | None:
        """The engine's observation at the pending epoch (None before reset / after the end)."""
        return None if self.runner.done else self.runner.view

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        view, info = self.runner.begin(seed, options)
        info["profit"] = info["revenue"] - info["cost"]["total"]
        return self.observe(view), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decided = self.decode(action)
        view = self.runner.view
        assert view is not None
        reward, info = self.runner.answer(decided)
        info["profit"] = reward
        return self.observe(view), float(reward) * self.reward_scale, False, self.runner.done, info

    # -- observations and actions ------------------------------------------------------------
    def observe(self, view: Observation) -> np.ndarray:
        out = []
        for k, i in enumerate(self.items):
            d = self.mean_demand[k]
            out += [view.on_hand(i) / d, view.backlog(i) / d]
            out += [view.supplier_on_order(i, s) / d for _, s, _ in self.suppliers[i]]
            out += [view.last_demand(i) / d, view.price(i) / self.list_prices[k]]
        return np.asarray(out, dtype=np.float32)

    def decode(self, action: Any) -> Action:
        """The engine ``Action`` that *action* places at the pending epoch."""
        view = self.runner.view
        if self.runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        try:
            u = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"action must be numeric, got {type(action).__name__}") from None
        if u.shape != self.action_space.shape:
            raise ValueError(
                f"action has shape {u.shape}, expected {self.action_space.shape}: "
                f"{', '.join(self.action_names[:4])}, ... (see action_names)"
            )
        bad = np.flatnonzero(np.isnan(u))
        if bad.size:
            raise ValueError(f"action[{bad[0]}] ({self.action_names[bad[0]]}) is NaN")
        u = np.clip(u, -1.0, 1.0)
        orders: dict[str, dict[str, float]] = {}
        prices: dict[str, float] = {}
        j = 0
        for k, i in enumerate(self.items):
            level = self.levels[k] * (1.0 + u[j])
            factor = self.price_factor * (1.0 + self.price_range * u[j + 1])
            prices[i] = float(factor * self.list_prices[k])
            j += 2
            need = max(0.0, round(level) - view.inventory_position(i))
            parts: dict[str, float] = {}
            for supplier, capacity in self.capacitated[i]:
                q = min(need, math.floor(min(1.0, 1.0 + u[j]) * capacity))
                j += 1
                if q > 0:
                    parts[supplier] = q
                need -= q
            if need > 0:
                parts[self.rest[i]] = need
            orders[i] = parts
        scores = u[self._item_width :].reshape(self.market.model.shape)
        alpha = self.market.model.from_logits(self.base_scores + self.logit_scale * scores)
        return Action(orders=orders, prices=prices, extra={KEY: alpha})

    def encode(self, action: Action, *, strict: bool = True) -> np.ndarray:
        """The env action (float32) that :meth:`decode` turns into *action* at the pending
        epoch (module docstring); ValueError naming the component if it is not
        representable and *strict*, else the nearest representable action."""
        view = self.runner.view
        if self.runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        model = self.market.model
        orders = dict(action.orders)
        prices = dict(action.prices)
        u: list[float] = []
        for k, i in enumerate(self.items):
            parts = orders.get(i, {})
            if not isinstance(parts, Mapping):
                parts = {self.rest[i]: float(parts)} if float(parts) > 0 else {}
            parts = {str(s): float(q) for s, q in parts.items() if float(q) != 0.0}
            total = float(sum(parts.values()))
            position = float(view.inventory_position(i))
            # order up to IP + total (or, ordering nothing, a level at the position)
            up_to = (position + total) / self.levels[k] - 1.0
            u.append(up_to if total > 0 else min(up_to, 1.0))  # above 2 * level: orders 0
            if i not in prices:
                raise ValueError(f"action has no price for item {i!r}")
            anchor = self.price_factor * self.list_prices[k]
            u.append((float(prices[i]) / anchor - 1.0) / self.price_range)
            need = total
            for supplier, capacity in self.capacitated[i]:
                q = parts.get(supplier, 0.0)
                # u = 0 takes min(need, capacity), as the anchor does; else floor((q + 1/2)
                # / cap * cap) = q, robust to float32
                full = capacity <= 0 or q >= min(need, capacity)
                u.append(0.0 if full else (q + 0.5) / capacity - 1.0)
                need -= q
        if KEY not in action.extra:
            raise ValueError(f"action has no recommendation (extra[{KEY!r}])")
        alpha = model.check(action.extra[KEY])
        with np.errstate(divide="ignore"):
            z = np.log(alpha) - self.base_scores
        if not np.all(np.isfinite(z)):
            raise ValueError(
                "recommendation intensities must be > 0 to be encoded (scores are logits)"
            )
        axis = model.sum_axis
        z = z - 0.5 * (z.max(axis=axis, keepdims=True) + z.min(axis=axis, keepdims=True))
        u.extend((z / self.logit_scale).reshape(-1).tolist())
        raw = np.asarray(u, dtype=np.float64)
        encoded = np.clip(raw, -1.0, 1.0).astype(np.float32)
        if strict:
            self._check_encoding(action, encoded, raw)
        return encoded

    def _check_encoding(self, action: Action, encoded: np.ndarray, raw: np.ndarray) -> None:
        """Raise ValueError naming the first component where ``decode(encoded)`` is not
        *action* (orders exactly; prices and intensities to float32 precision)."""
        out = np.flatnonzero(np.abs(raw) > 1.0 + 1e-9)
        if out.size:
            j = int(out[0])
            raise ValueError(
                f"action not representable: {self.action_names[j]} would need "
                f"{raw[j]:.4g}, outside [-1, 1]"
            )
        back = self.decode(encoded)
        for i in self.items:
            given = action.orders.get(i, {})
            if not isinstance(given, Mapping):
                given = {self.rest[i]: float(given)}
            a = {str(s): float(q) for s, q in given.items() if float(q) != 0.0}
            b = {str(s): float(q) for s, q in _parts(back.orders.get(i, {})).items() if q}
            if a != b:
                raise ValueError(
                    f"action not representable: item {i!r} orders {a}, the env can place "
                    f"{b} (whole units, cheapest capacitated suppliers first)"
                )
            p, q = float(action.prices[i]), float(back.prices[i])
            if not math.isclose(p, q, rel_tol=1e-5):
                raise ValueError(f"action not representable: item {i!r} price {p} -> {q}")
        alpha = np.asarray(action.extra[KEY], dtype=np.float64)
        if not np.allclose(back.extra[KEY], alpha, rtol=1e-4, atol=1e-9):
            raise ValueError("action not representable: recommendation intensities differ")


def _parts(value: Any) -> Mapping[str, float]:
    """*value* as a supplier -> quantity mapping (an Action's per-item orders)."""
    return value if isinstance(value, Mapping) else {}


def make_collaborative_env(
    problem: Problem, *, periods: int | None = None, **env_kwargs: Any
) -> CollaborativeEnv:
    """A :class:`CollaborativeEnv` of *problem* (which must have a collaborative market; the
    env gets its own copy); *env_kwargs* are the env's (``levels`` is required)."""
    params = env_parameters(CollaborativeEnv, skip=("network", "market"))
    problem, kwargs = resolve_problem(problem, env_kwargs, params)
    if not isinstance(problem.market, CollaborativeMarket):
        has = "no market" if problem.market is None else f"a {problem.kind.market} market"
        raise ValueError(
            f"problem {problem.name!r} has {has}: CollaborativeEnv needs a collaborative "
            "problem (des_supply.collaborative.CollaborativeMarket)"
        )
    if periods is None:
        periods = default_periods(problem, DEFAULT_PERIODS)
    return CollaborativeEnv(problem.network, problem.new_market(), periods, **kwargs)
