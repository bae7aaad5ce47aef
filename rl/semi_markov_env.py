"""A semi-Markov Gymnasium env over the continuous-time engine: a step is a decision event.

:class:`SemiMarkovEnv` drives :class:`des_supply.continuous.ContinuousSimulation` from
outside (``reset``/``act``/``advance``, the path ``run(policy)`` takes for heuristics):
``step(action)`` answers the pending decision event and runs the engine to the next
one, however much time passes in between; ``info["dt"]`` says how much, so an agent can
discount by ``gamma ** dt`` (:class:`rl.ppo.PPOConfig`'s ``discount``).  The reward is
minus the cost the engine accrued in between (``ContinuousSimulation.accrued_cost``),
so the rewards of an episode sum to minus the run's total cost.

The observation layout and the action decoding are :class:`rl.env.NetworkLayout`'s, the
ones of the periodic :class:`rl.env.InventoryEnv` (without pipeline blocks: arrival
times are real, not periods).  ``make_semi_markov_env(problem)`` builds one from a
continuous-time :class:`~des_supply.problem.Problem`; the Gymnasium id lives in
:mod:`scenarios.gym_ids` (application layer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from des_supply.continuous import REVIEW_TRIGGERS, ContinuousSimulation
from des_supply.network import Network
from des_supply.problem import Problem
from des_supply.sim import Observation

from .env import EpisodeSeeds, NetworkLayout, env_parameters, resolve_problem

__all__ = ["DEFAULT_HORIZON", "SemiMarkovEnv", "make_semi_markov_env"]

DEFAULT_HORIZON = 200.0  # episode length [time units] when neither caller nor problem says less


class SemiMarkovEnv(gym.Env[np.ndarray, np.ndarray]):
    """## Description

    A continuous-time supply-chain network (``Network(time="continuous")``: demand as
    arrival processes, real lead times, costs accrued over time) simulated by the
    ``des_supply`` event engine and controlled by one agent that decides the orders of
    every stocking node at *decision events*.  A step goes from one decision event to the
    next: a semi-Markov decision process.

    ## Decision epochs

    ``epochs`` chooses the events (the engine's ``review=``):

    | epochs          | a step ends at                                                      |
    |-----------------|---------------------------------------------------------------------|
    | `"demand"`      | each demand arrival (every change of inventory position: continuous review; default) |
    | `"arrival"`     | each receipt of a shipment that spent time in transit              |
    | `"event"`       | each demand arrival and each receipt                                |
    | a number R > 0  | every R time units (periodic review in continuous time)             |

    Time 0 is always an epoch.  The nodes that review at an event (``info["action_mask"]``,
    one bool per stocking node) place orders; the others ignore the action.  After a
    demand these are the node and the stocking nodes upstream of it (their echelon
    positions changed), answered downstream first within the step, each from its own
    state (an order reaches the supplier before it reviews).

    ## Action Space

    As :class:`rl.env.InventoryEnv` (``action_mode`` ``"quantity"``, ``"base-stock"``
    or ``"capped-base-stock"``; ``Box(-1, 1)`` rescaled to ``max_order``/``max_level``,
    or ``discrete=True``).  Defaults per node: ``max_order`` is 4 times the mean demand
    reaching the node between two of its epochs (one customer's for demand epochs, R
    time units' for periodic ones, one time unit's for receipts), ``max_level =
    ceil(4 d (R + L))`` with ``d`` the mean demand per unit time reaching the node, ``R``
    the review interval (0 for event epochs) and ``L`` the largest lead time into it
    (mean + 3 std when unbounded).

    ## Observation Space

    ``Box(float32)``, raw units, one block per stocking node: ``<node>.on_hand``,
    ``<node>.backlog`` (backlogging nodes), ``<node>.on_order``, ``<node>.last_demand``
    (nodes with external demand: the size of the latest customer's demand).
    ``observation_names`` lists them.

    ## Rewards

    Minus the cost accrued since the previous epoch (holding and backlog per unit time,
    in-transit holding, lost sales, fixed and variable ordering; every node), or revenue
    minus cost for a profit objective.  Over an episode the rewards sum to minus the
    engine's total cost of the same run (same seed, same decisions).  ``info``: ``t``
    (time of the new epoch), ``dt`` (time since the previous one), ``replication``,
    ``cost`` (accrued in the step), ``orders`` (per stocking node, what the step
    ordered), ``action_mask`` (nodes reviewing at the new epoch).

    ## Episode End

    ``terminated`` is always False; the episode is truncated at ``horizon`` time units
    (the last step runs from the last decision event to the horizon).

    ## Seeding

    Episode k after ``reset(seed=s)`` runs on ``des_supply.rng.replication_seed(s, k)``,
    the draws of replication k of ``des_supply.continuous.simulate_continuous(..., seed=s)``
    (common random numbers); ``options={"episode": k}`` jumps to episode k;
    ``episode_offset``/``episode_stride`` number the episodes as in ``InventoryEnv``.

    ## Arguments

    ```python
    SemiMarkovEnv(network, horizon=200.0, epochs="demand", action_mode="quantity",
                  discrete=False, max_order=None, max_level=None, episode_offset=0,
                  episode_stride=1, render_mode=None)
    ```

    ## Version History

    * v0: initial version.

    Examples:
        >>> from des_supply import Edge, Network, Node
        >>> from des_supply.arrivals import PoissonProcess
        >>> net = Network(nodes=(Node("supplier", kind="supply"),
        ...                      Node("stage", holding_cost=1, shortage_cost=9,
        ...                           demand=PoissonProcess(5.0))),
        ...               edges=(Edge("supplier", "stage", lead_time=2.0),), time="continuous")
        >>> env = make_semi_markov_env(net, horizon=20, action_mode="base-stock")
        >>> obs, info = env.reset(seed=0)
        >>> env.observation_names
        ('stage.on_hand', 'stage.backlog', 'stage.on_order', 'stage.last_demand')
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> info["dt"] > 0, reward <= 0, terminated
        (True, True, False)

    """

    # an instance attribute in gymnasium.Env (a ClassVar here would contradict it)
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["ansi"],
        "render_fps": 4,
        "semi_markov": True,
    }

    def __init__(
        self,
        network: Network,
        horizon: float = DEFAULT_HORIZON,
        *,
        epochs: str | float = "demand",
        action_mode: str = "quantity",
        discrete: bool = False,
        max_order: float | Mapping[str, float] | None = None,
        max_level: float | Mapping[str, float] | None = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(network, Network) or network.time != "continuous":
            raise ValueError(
                f"network {getattr(network, 'name', network)!r} is not continuous-time: "
                "SemiMarkovEnv needs Network(time='continuous'); periodic problems have rl.env"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode(={render_mode!r}) must be None or 'ansi'")
        self.seeds = EpisodeSeeds(episode_offset, episode_stride)  # InventoryEnv's numbering
        if isinstance(epochs, str) and epochs not in REVIEW_TRIGGERS:
            raise ValueError(
                f"epochs(={epochs!r}) must be one of {', '.join(REVIEW_TRIGGERS)} "
                "or a review interval > 0 [time units]"
            )
        self.sim = ContinuousSimulation(network, horizon, 0, review=epochs)
        self.network, self.horizon, self.epochs = network, self.sim.horizon, epochs
        periods = max(1, math.ceil(self.horizon))
        if max_order is None or max_level is None:
            specs = NetworkLayout(network, periods, pipeline_length=0).nodes
            scale = {n.name: _demand_per_epoch(network, n.name, n.flow, epochs) for n in specs}
            interval = self.sim.review_interval or 0.0
            if max_order is None:
                max_order = {n: float(max(1, math.ceil(4 * q))) for n, q in scale.items()}
            if max_level is None:
                max_level = {
                    n.name: float(max(1, math.ceil(4 * n.flow * (interval + n.lead))))
                    for n in specs
                }
        self.layout = NetworkLayout(
            network,
            periods,
            action_mode=action_mode,
            discrete=discrete,
            max_order=max_order,
            max_level=max_level,
            pipeline_length=0,
        )
        self.action_mode, self.discrete, self.render_mode = action_mode, bool(discrete), render_mode
        low, high = self.layout.bounds()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = self.layout.joint_action_space()
        self._width = self.layout.width
        self._index = {n.name: i for i, n in enumerate(self.layout.nodes)}
        self._view: Observation | None = None
        self._done = True
        self._t = 0.0
        self._accrued = 0.0

    # -- what the agent sees -----------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """Stocking nodes, in observation and action order."""
        return self.layout.names

    @property
    def observation_names(self) -> tuple[str, ...]:
        return self.layout.observation_names

    @property
    def action_names(self) -> tuple[str, ...]:
        return self.layout.action_names()

    @property
    def view(self) -> Observation | None:
        """The engine's observation at the pending epoch (what a policy's ``act`` gets)."""
        return None if self._done else self._view

    def observe(self) -> np.ndarray:
        """The observation of the current state (also after the horizon)."""
        if self._view is None:
            raise RuntimeError("call reset() first")
        return self.layout.observation(self._view, 0)

    def node_observation(self, node: str) -> np.ndarray:
        """*node*'s block of :meth:`observe` (the per-node agents' observation)."""
        if self._view is None:
            raise RuntimeError("call reset() first")
        return self.layout.node_observation(self._view, node, 0)

    def _mask(self) -> np.ndarray:
        reviewing = set(self.sim.reviewing)
        return np.array([n in reviewing for n in self.nodes], dtype=bool)

    def _money(self) -> float:
        """What the rewards telescope over: minus cost (or profit) accrued since time 0."""
        cost = self.sim.accrued_cost()
        return cost if self.sim.objective == "cost" else cost - self.sim.accrued_revenue()

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._view = self.sim.reset(self.seeds.start(seed, options))
        if self._view is None:  # pragma: no cover - time 0 is always an epoch
            raise RuntimeError("the engine asked for no decision in the whole horizon")
        self._done, self._t, self._accrued = False, 0.0, 0.0
        info = {"t": 0.0, "replication": self.episode, "action_mask": self._mask()}
        return self.observe(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        return self.answer(self.layout.parse(action, self.layout.nodes, self.action_space))

    def answer(self, values: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """``step`` with the action already in physical units (``NetworkLayout.parse``: per
        node, in node order, ``layout.width`` values each); the per-node agents'
        path (:class:`rl.multi_agent.SemiMarkovParallelEnv`)."""
        if self._done:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        sim, w, t0 = self.sim, self._width, self._t
        asked = np.zeros(len(self.nodes))
        while True:  # every review at this instant, downstream first, each on its own state
            view = sim.observe()
            orders = {}
            for name in view.deciding:
                i = self._index[name]
                q = self.layout.order(self.layout.nodes[i], values[i * w : (i + 1) * w], view)
                orders[name] = asked[i] = q
            sim.act(orders)
            nxt = sim.advance()
            if nxt is None or nxt.t != t0:
                break
        self._done = nxt is None
        self._t = self.horizon if nxt is None else float(nxt.t)
        money = self._money()
        cost, self._accrued = money - self._accrued, money
        info = {
            "t": self._t,
            "dt": self._t - t0,
            "replication": self.episode,
            "cost": cost,
            "orders": asked,
            "action_mask": self._mask(),
        }
        return self.observe(), -cost, False, self._done, info

    # gymnasium types the return with a function-level TypeVar, which no concrete type matches
    def render(self) -> str | None:  # type: ignore[override]
        if self.render_mode != "ansi":
            return None
        view = self._view
        if view is None:
            return "(not started: call reset())"
        rows = [
            f"t {self._t:.4g}/{self.horizon:g}, episode {self.episode}"
            + (" (end)" if self._done else ""),
            f"{'node':<16}{'on_hand':>10}{'backlog':>10}{'on_order':>10}{'IP':>10}  reviews",
        ]
        reviewing = set(self.sim.reviewing)
        for n in self.nodes:
            rows.append(
                f"{n:<16}{view.on_hand(n):>10.4g}{view.backlog(n):>10.4g}"
                f"{view.on_order(n):>10.4g}{view.inventory_position(n):>10.4g}"
                f"  {'yes' if n in reviewing else ''}"
            )
        return "\n".join(rows)

    @property
    def episode(self) -> int:
        """The number k of the current episode (it runs on ``replication_seed(s, k)``)."""
        return self.seeds.episode

    def orders_to_action(self, orders: Mapping[str, float]) -> np.ndarray | int:
        """The ``"quantity"`` action that orders *orders* (node -> quantity, missing: 0) at
        the reviewing nodes: lets a heuristic drive the env (``policy.act(env.view)``);
        :meth:`rl.env.NetworkLayout.order_action`."""
        return self.layout.order_action(orders)


def _demand_per_epoch(network: Network, node: str, flow: float, epochs: str | float) -> float:
    """Mean demand reaching *node* between two of its decision epochs: over R time units
    for periodic epochs; over one customer for demand epochs (its flow over the rate of
    customers in its echelon, when every process there has a ``rate``); per unit time
    otherwise."""
    if not isinstance(epochs, str):
        return flow * float(epochs)
    if epochs in ("demand", "event"):
        rates = [
            getattr(network.node(m).demand, "rate", None)
            for m in network.echelon(node)
            if network.node(m).demand is not None
        ]
        if rates and all(isinstance(r, (int, float)) and r > 0 for r in rates):
            return flow / float(sum(rates))  # type: ignore[arg-type]
    return flow


def make_semi_markov_env(
    problem: Problem | Network, *, horizon: float | None = None, **env_kwargs: Any
) -> SemiMarkovEnv:
    """A :class:`SemiMarkovEnv` of a continuous-time *problem* (or Network); ``horizon``
    defaults to ``min(200, problem.periods)`` time units.  *env_kwargs* are the env's other
    keyword arguments; anything else raises ValueError listing them."""
    params = env_parameters(SemiMarkovEnv)
    problem, env_kw = resolve_problem(problem, env_kwargs, params)
    if horizon is None:
        horizon = min(DEFAULT_HORIZON, float(problem.periods))
    return SemiMarkovEnv(problem.network, horizon, **env_kw)
