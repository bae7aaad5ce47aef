"""PettingZoo adapters: one agent per stocking node, over the same engine as :mod:`rl.env`.

* :class:`InventoryParallelEnv` (``ParallelEnv``) when every stocking node reviews in
  the same periods (same ``review_period`` and ``review_offset``): each step, every
  agent sets its own node's order and the engine runs to the next epoch.
* :class:`InventoryAECEnv` (``AECEnv``) for any network, in particular one whose
  nodes review at different periods: at each decision epoch the nodes whose review
  fires act in turn (``agent_selection``; downstream nodes first, the engine's
  order), and once the last of them has acted the engine places all their orders
  together and runs to the next epoch.  Nodes that do not review are not asked.
  Under sequential decisions (``network.decisions == "sequential"``) the engine's
  epochs are one node each, downstream first, so each agent acts on its turn and its
  order is placed before the next agent observes: an upstream agent sees its
  customers' orders of the period (textbook serial and distribution theory).

Under sequential decisions the parallel env still takes every agent's action at once
(on the state at the period's first epoch); the orders are placed downstream first, and
in the base-stock action modes each order ``(S - IP)^+`` is computed at the node's own
turn, from its position after its customers' orders.

Both are built from a problem (:class:`des_supply.problem.Problem` without a market, or a
Network) by :func:`parallel_env` / :func:`aec_env`.

* :class:`SemiMarkovParallelEnv` (``ParallelEnv``) for continuous-time problems
  (``Network(time="continuous")``) over :class:`rl.semi_markov_env.SemiMarkovEnv`: a
  step goes to the next decision event (``epochs``: each demand, each receipt, both, or
  every R time units), ``infos[agent]["dt"]`` is the time it took, and only the agents
  whose node reviews at the event act: every agent submits an action every step (the
  ParallelEnv convention), ``infos[agent]["acting"]`` (after ``reset`` and after every
  step) says whose action the next step uses, and the others' are ignored (the acting
  flags of :mod:`rl.recommendation_env`, which :mod:`rl.mappo` reads).  After a demand
  the acting agents are its node's and those of the stocking nodes upstream of it.
  :func:`parallel_env` builds it for a continuous-time problem (``horizon`` in time
  units instead of ``periods``).

Observations, actions and rewards
    Agent ``<node>`` observes its own block of the single-agent observation
    (:class:`rl.env.InventoryEnv`: on hand, backlog, on order, pipeline, last
    demand) followed by the period features; ``observation_names(agent)`` lists
    them.  ``state()`` is the single-agent (global) observation, with
    ``state_space``.  Its action space is the single-agent one restricted to its
    node (``Box(-1, 1, (1,))``, or ``(2,)`` for capped base-stock;
    ``Discrete``/``MultiDiscrete`` with ``discrete=True``), mapped the same way.

    The reward is shared (cooperative team): every agent gets minus the cost of the
    whole network accounted since the previous epoch (revenue minus cost under a
    profit objective).  In the AEC env an agent's reward accumulates until it acts
    again, so it is minus the team cost over the interval between its own decisions
    (SMDP-style); over an episode every agent's rewards sum to minus the total cost.
    The parallel env's ``infos[agent]`` carries ``t``, ``dt`` and ``node_cost`` (the
    agent's own node's cost in the step), for shaping or analysis.

Episodes
    As in the single-agent env: no terminal state, every agent is truncated after
    ``periods`` periods (bootstrap there), and episode ``k`` after ``reset(seed=s)``
    runs on ``des_supply.rng.replication_seed(s, k)`` (``options={"episode": k}``
    jumps to it).  Unknown option keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

from des_supply.network import Network
from des_supply.problem import Problem
from des_supply.sim import Observation

from .env import (
    DEFAULT_PERIODS,
    EpisodeRunner,
    NetworkLayout,
    default_periods,
    env_parameters,
    resolve_problem,
)
from .semi_markov_env import DEFAULT_HORIZON, SemiMarkovEnv

__all__ = [
    "InventoryAECEnv",
    "InventoryParallelEnv",
    "SemiMarkovParallelEnv",
    "aec_env",
    "parallel_env",
]


class _NodeAgents:
    """What both adapters share: the runner, the layout and the per-agent spaces."""

    def _setup(
        self,
        network: Network,
        periods: int,
        action_mode: str,
        discrete: bool,
        max_order: Any,
        max_level: Any,
        pipeline_length: Any,
        episode_offset: int,
        episode_stride: int,
        render_mode: str | None,
    ) -> None:
        if render_mode is not None and render_mode != "ansi":
            raise ValueError(f"render_mode(={render_mode!r}) must be None or 'ansi'")
        self.runner = EpisodeRunner(network, periods, None, episode_offset, episode_stride)
        self.network, self.periods, self.render_mode = network, self.runner.periods, render_mode
        self.layout = NetworkLayout(
            network,
            self.periods,
            action_mode=action_mode,
            discrete=discrete,
            max_order=max_order,
            max_level=max_level,
            pipeline_length=pipeline_length,
        )
        self.possible_agents = list(self.layout.names)
        self.agents: list[str] = []
        self._specs = {n.name: n for n in self.layout.nodes}
        self.observation_spaces = {}
        for n in self.possible_agents:
            low, high = self.layout.node_bounds(n)
            plow, phigh = self.layout.phase_bounds()
            self.observation_spaces[n] = spaces.Box(
                np.concatenate([low, plow]), np.concatenate([high, phigh]), dtype=np.float32
            )
        self.action_spaces = {n: self.layout.node_action_space(n) for n in self.possible_agents}
        low, high = self.layout.bounds()
        self.state_space = spaces.Box(low, high, dtype=np.float32)

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def observation_names(self, agent: str) -> tuple[str, ...]:
        return self.layout.node_names[agent] + self.layout.phase_names

    def state(self) -> np.ndarray:
        """The global state: the single-agent observation of the whole network."""
        view = self.runner.view
        if view is None:
            raise RuntimeError("call reset() first")
        return self.layout.observation(view, self.runner.t)

    def _observe(self, agent: str) -> np.ndarray:
        assert self.runner.view is not None
        return self.layout.node_observation(self.runner.view, agent, self.runner.t)

    def _order(self, agent: str, action: Any, view: Observation) -> float:
        spec = self._specs[agent]
        try:
            values = self.layout.parse(action, (spec,), self.action_spaces[agent])
        except ValueError as exc:
            raise ValueError(f"agent {agent!r}: {exc}") from None
        return self.layout.order(spec, values, view)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        view = self.runner.view
        if view is None:
            return "(not started: call reset())"
        lines = [f"period {self.runner.t}/{self.periods}, episode {self.runner.episode}"]
        for n in self.possible_agents:
            lines.append(
                f"{n:<16} on_hand={view.on_hand(n):.4g} backlog={view.backlog(n):.4g} "
                f"on_order={view.on_order(n):.4g}"
            )
        return "\n".join(lines)

    def close(self) -> None:
        pass


def check_agents(actions: Mapping[str, Any], agents: Sequence[str]) -> None:
    """ValueError unless *actions* has exactly one entry per live agent (names them)."""
    unknown = sorted(set(actions) - set(agents))
    if unknown:
        raise ValueError(
            f"actions for unknown agent(s) {', '.join(map(repr, unknown))} "
            f"(agents: {', '.join(agents)})"
        )
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"no action for agent(s) {', '.join(map(repr, missing))}")


class InventoryParallelEnv(_NodeAgents, ParallelEnv):
    """One agent per stocking node, all acting at every decision epoch (see the module docstring).

    Refuses networks whose stocking nodes review in different periods: use
    :class:`InventoryAECEnv` for those.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "des_supply_parallel_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        network: Network,
        periods: int = DEFAULT_PERIODS,
        *,
        action_mode: str = "quantity",
        discrete: bool = False,
        max_order: Any = None,
        max_level: Any = None,
        pipeline_length: Any = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        schedules = {(n.review_period, n.review_offset) for n in network.stock_nodes}
        if len(schedules) > 1:
            detail = ", ".join(
                f"{n.name}: every {n.review_period} from {n.review_offset}"
                for n in network.stock_nodes
            )
            raise ValueError(
                f"the stocking nodes review at different periods ({detail}); "
                "a ParallelEnv needs them to review together: use InventoryAECEnv"
            )
        self._setup(
            network,
            periods,
            action_mode,
            discrete,
            max_order,
            max_level,
            pipeline_length,
            episode_offset,
            episode_stride,
            render_mode,
        )

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        _, info = self.runner.begin(seed, options)
        self.agents = list(self.possible_agents)
        return (
            {a: self._observe(a) for a in self.agents},
            {a: {"t": info["t"]} for a in self.agents},
        )

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        view = self.runner.view
        if not self.agents or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        check_agents(actions, self.agents)
        reward, info = self.runner.answer_period(
            lambda now: {a: self._order(a, actions[a], now) for a in now.deciding}
        )
        done = self.runner.done
        agents = self.agents
        obs = {a: self._observe(a) for a in agents}
        rewards = {a: float(reward) for a in agents}
        terminations = {a: False for a in agents}
        truncations = {a: done for a in agents}
        node_cost = dict(zip(self.possible_agents, info["node_cost"].tolist()))
        infos = {a: {"t": info["t"], "dt": info["dt"], "node_cost": node_cost[a]} for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos


class InventoryAECEnv(_NodeAgents, AECEnv):
    """One agent per stocking node, acting in turn at the epochs where its node reviews.

    See the module docstring for observations, rewards and episodes.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "des_supply_aec_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": False,
    }

    def __init__(
        self,
        network: Network,
        periods: int = DEFAULT_PERIODS,
        *,
        action_mode: str = "quantity",
        discrete: bool = False,
        max_order: Any = None,
        max_level: Any = None,
        pipeline_length: Any = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        self._setup(
            network,
            periods,
            action_mode,
            discrete,
            max_order,
            max_level,
            pipeline_length,
            episode_offset,
            episode_stride,
            render_mode,
        )
        self.rewards: dict[str, float] = {}
        self._cumulative_rewards: dict[str, float] = {}
        self.terminations: dict[str, bool] = {}
        self.truncations: dict[str, bool] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self._queue: list[str] = []  # agents still to act at this epoch
        self._orders: dict[str, float] = {}
        self.agent_selection = ""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        view, info = self.runner.begin(seed, options)
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {"t": info["t"]} for a in self.agents}
        self._skip_agent_selection = None
        self._start_epoch(view)

    def _start_epoch(self, view: Observation) -> None:
        self._queue = list(view.deciding)  # never empty: without a market every epoch has a decider
        self._orders = {}
        self.agent_selection = self._queue[0]

    def observe(self, agent: str) -> np.ndarray:
        return self._observe(agent)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations.get(agent) or self.truncations.get(agent):
            self._was_dead_step(action)
            return
        view = self.runner.view
        if self.runner.done or view is None:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        self._orders[agent] = self._order(agent, action, view)
        self._cumulative_rewards[agent] = 0.0
        self._queue.pop(0)
        if self._queue:  # more nodes decide at this epoch; no time passes
            self._clear_rewards()
            self.agent_selection = self._queue[0]
        else:
            reward, info = self.runner.answer(self._orders)
            self.rewards = {a: float(reward) for a in self.agents}
            for a in self.agents:
                self.infos[a] = {"t": info["t"]}
            if self.runner.done:
                self.truncations = {a: True for a in self.agents}
                self.agent_selection = self.agents[0]
            else:
                assert self.runner.view is not None  # not done: an epoch is pending
                self._start_epoch(self.runner.view)
        self._accumulate_rewards()


class SemiMarkovParallelEnv(ParallelEnv):
    """One agent per stocking node of a continuous-time network; a step per decision event,
    acting flags for the agents whose node reviews (see the module docstring).

    Observations are each node's block of :class:`rl.semi_markov_env.SemiMarkovEnv`'s
    observation (``state()`` is the whole of it), actions each node's part of its action
    (same ``action_mode``, ``discrete``, ``max_order``, ``max_level``).  The reward is
    shared: minus the network's cost accrued in the step, for every agent; over an
    episode it sums to minus the engine's total cost of the run.  ``infos[agent]``:
    ``t``, ``dt``, ``acting``.  Seeding and episodes as in ``SemiMarkovEnv``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "des_supply_semi_markov_parallel_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
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
        max_order: Any = None,
        max_level: Any = None,
        episode_offset: int = 0,
        episode_stride: int = 1,
        render_mode: str | None = None,
    ) -> None:
        self.env = SemiMarkovEnv(
            network,
            horizon,
            epochs=epochs,
            action_mode=action_mode,
            discrete=discrete,
            max_order=max_order,
            max_level=max_level,
            episode_offset=episode_offset,
            episode_stride=episode_stride,
            render_mode=render_mode,
        )
        self.network, self.horizon, self.render_mode = network, self.env.horizon, render_mode
        self.layout = layout = self.env.layout
        self.possible_agents = list(layout.names)
        self.agents: list[str] = []
        self._specs = {n.name: n for n in layout.nodes}
        self.observation_spaces = {
            n: spaces.Box(*layout.node_bounds(n), dtype=np.float32) for n in self.possible_agents
        }
        self.action_spaces = {n: layout.node_action_space(n) for n in self.possible_agents}
        self.state_space = self.env.observation_space

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def observation_names(self, agent: str) -> tuple[str, ...]:
        return self.layout.node_names[agent]

    def state(self) -> np.ndarray:
        """The global state: the single-agent observation of the whole network."""
        return self.env.observe()

    def _split(self, mask: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, bool]]:
        obs = {a: self.env.node_observation(a) for a in self.possible_agents}
        return obs, dict(zip(self.possible_agents, mask.tolist()))

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        _, info = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        obs, acting = self._split(info["action_mask"])
        return obs, {a: {"t": 0.0, "acting": acting[a]} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("the episode is over (or was never started): call reset()")
        check_agents(actions, self.agents)
        values = []
        for agent in self.agents:
            try:
                values.append(
                    self.layout.parse(
                        actions[agent], (self._specs[agent],), self.action_spaces[agent]
                    )
                )
            except ValueError as exc:
                raise ValueError(f"agent {agent!r}: {exc}") from None
        _, reward, _, done, info = self.env.answer(np.concatenate(values))
        agents = self.agents
        obs, acting = self._split(info["action_mask"])
        infos = {a: {"t": info["t"], "dt": info["dt"], "acting": acting[a]} for a in agents}
        rewards = {a: float(reward) for a in agents}
        terminations = {a: False for a in agents}
        truncations = {a: done for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        return self.env.render()

    def close(self) -> None:
        pass


def _build(
    cls: type, problem: Problem | Network, periods: int | None, kwargs: dict[str, Any]
) -> Any:
    params = env_parameters(cls)
    problem, env_kw = resolve_problem(problem, kwargs, params)
    if problem.market is not None:
        raise ValueError(
            f"problem {problem.name!r} has a {problem.kind.market} market, which the "
            "per-node envs do not model: use rl.make_env (one agent) instead"
        )
    if periods is None:
        periods = default_periods(problem)
    return cls(problem.network, periods, **env_kw)


def parallel_env(
    problem: Problem | Network, *, periods: int | None = None, **env_kwargs: Any
) -> InventoryParallelEnv:
    """An :class:`InventoryParallelEnv` of *problem* (a Problem without a market, or a
    Network); ``periods`` defaults to ``min(200, problem.periods)``; *env_kwargs* are the
    env's keyword arguments (unknown ones raise ValueError listing them).

    A continuous-time problem gets a :class:`SemiMarkovParallelEnv`, whose episode length
    is ``horizon`` (time units, default ``min(200, problem.periods)``), not ``periods``.
    """
    network = problem.network if isinstance(problem, Problem) else problem
    if getattr(network, "time", None) == "continuous":
        if periods is not None:
            raise ValueError(
                "continuous-time problem: give the episode length as horizon= (time units), "
                "not periods="
            )
        params = env_parameters(SemiMarkovParallelEnv)
        horizon = env_kwargs.pop("horizon", None)
        problem, env_kw = resolve_problem(problem, env_kwargs, params)
        if horizon is None:
            horizon = min(DEFAULT_HORIZON, float(problem.periods))
        return SemiMarkovParallelEnv(problem.network, horizon, **env_kw)
    return _build(InventoryParallelEnv, problem, periods, env_kwargs)


def aec_env(
    problem: Problem | Network, *, periods: int | None = None, **env_kwargs: Any
) -> InventoryAECEnv:
    """An :class:`InventoryAECEnv` of *problem*; arguments as for :func:`parallel_env`."""
    return _build(InventoryAECEnv, problem, periods, env_kwargs)
