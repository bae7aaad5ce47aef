"""A native Gymnasium vector env on the batch engine: N episodes advanced in lockstep.

:class:`BatchVectorEnv` is ``N`` copies of :class:`rl.env.InventoryEnv` of one problem
in one :class:`des_supply.batch.BatchSimulation`: the same observation and action
spaces (built by the same :class:`rl.env.NetworkLayout`), the same rewards and the
same episodes, so a policy trained on one runs on the other.  Sub-env ``i`` plays
the episodes ``i, i + N, i + 2N, ...`` of the root seed, episode ``k`` on
``des_supply.rng.replication_seed(seed, k)``, exactly as
:func:`rl.wrappers.make_vector_env` numbers them (and as replication ``k`` of
``des_supply.evaluate.simulate``).

Autoreset: ``AutoresetMode.NEXT_STEP`` (Gymnasium's default; declared in
``metadata["autoreset_mode"]``) or ``SAME_STEP``.  Every episode lasts the same
number of steps (epochs follow the review schedules, not the draws), so all
sub-envs truncate together and are reset together.

:func:`batch_observation` and :func:`batch_orders` are the env's observation and
action decoding on any batch state; :class:`ArrayPolicy` wraps a function of
``[N, obs] -> [N, action]`` arrays (a trained agent) as a batch policy for
``simulate`` and the batch engine.  :func:`make_batch_vector_env` falls back to
:func:`rl.wrappers.make_vector_env` (with one line saying why) for problems the
batch engine does not run.

:class:`WrappedBatchEnv` batches a *wrapped* single env (a preset's ``make_thunk(...)()``):
its InventoryEnv becomes a :class:`BatchVectorEnv` and each wrapper runs on whole batches
through its batch version (:data:`VECTOR_METHODS`); :func:`why_not_vectorize` says why an
env cannot be batched.  ``episode_seeds(i, m)`` (both classes) gives sub-env ``i``'s
``m``-th episode its own seed instead of the numbering above: PPO's batch runner
(:class:`rl.buffers.BatchEnvRunner`) gives each sub-env the seeds it has on the event
engine, so both engines play the same draws; ``reset(options={"round": m})`` restarts at
round ``m`` (each sub-env's ``m``-th episode), which is how a checkpoint resumes.

:class:`BatchParallelEnv` is the multi-agent equivalent: ``N`` copies of
:class:`rl.multi_agent.InventoryParallelEnv` (one agent per stocking node) in one
batch, with PettingZoo's parallel API over dicts of ``[N, ...]`` arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from des_supply.batch import BatchSimulation, unsupported
from des_supply.network import Network
from des_supply.problem import Problem
from des_supply.rng import SeedLike, replication_seed, root_sequence

from .env import InventoryEnv, NetworkLayout, make_env

__all__ = [
    "VECTOR_METHODS",
    "ArrayPolicy",
    "BatchParallelEnv",
    "BatchVectorEnv",
    "WrappedBatchEnv",
    "batch_observation",
    "batch_orders",
    "make_batch_vector_env",
    "why_not_batch",
    "why_not_vectorize",
]

_COST_KEYS = ("holding", "shortage", "fixed", "variable", "transit")
_COST_INDEX = (10, 11, 12, 13, 14)  # des_supply.batch.BATCH_FIELDS


def batch_observation(
    layout: NetworkLayout, sim: BatchSimulation, nonneg: np.ndarray | None = None
) -> np.ndarray:
    """``[R, obs]``: :meth:`NetworkLayout.observation` of every replication of *sim*
    (*nonneg*: the features clipped at 0, ``layout.bounds()[0] == 0``, if known)."""
    S, t = sim.S, sim.t
    columns: list[np.ndarray] = []
    ip_nodes = sim.stock_index
    on_order = sim.on_order()
    for k, spec in enumerate(layout.nodes):
        i = ip_nodes[k]
        columns.append(S[0, i])
        if spec.backlog:
            columns.append(S[1, i])
        columns.append(on_order[:, k])
        if spec.pipeline:
            columns.extend(sim.pipeline(spec.name, spec.pipeline, t).T)
        if spec.demand:
            columns.append(sim.last_demand[i])
    phases = layout.phase_features(t)
    obs = np.empty((sim.R, len(columns) + len(phases)), dtype=np.float32)
    for c, col in enumerate(columns):
        obs[:, c] = col
    if phases:
        obs[:, len(columns) :] = np.asarray(phases, dtype=np.float32)
    if nonneg is None:
        nonneg = layout.bounds()[0] == 0.0
    np.maximum(obs, 0.0, out=obs, where=nonneg)  # as the single env clips
    return obs


def _maxima(layout: NetworkLayout) -> np.ndarray:
    """The physical value of action +1, per action component (the single env's rescaling)."""
    per_mode = {
        "quantity": ("max_order",),
        "base-stock": ("max_level",),
        "capped-base-stock": ("max_level", "max_order"),
    }[layout.action_mode]
    return np.array([getattr(n, a) for n in layout.nodes for a in per_mode])


def parse_actions(
    layout: NetworkLayout,
    space: spaces.Space,
    actions: Any,
    R: int,
    maxima: np.ndarray | None = None,
) -> np.ndarray:
    """``[R, values]``: *actions* (one row per sub-env) checked and in physical units, as
    :meth:`NetworkLayout.parse` does for one action (*maxima*: ``_maxima(layout)``, if known)."""
    maxima = _maxima(layout) if maxima is None else maxima
    try:
        arr = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"actions must be numeric, got {actions!r}") from None
    if isinstance(space, spaces.Discrete):
        shape: tuple[int, ...] = (R,)
    else:
        assert space.shape is not None  # a Box
        shape = (R, *space.shape)
    if arr.shape != shape:
        raise ValueError(
            f"actions have shape {arr.shape}, expected {shape} ({', '.join(layout.action_names())})"
        )
    arr = arr.reshape(R, -1)
    bad = np.argwhere(np.isnan(arr))
    if bad.size:
        r, j = bad[0]
        raise ValueError(f"actions[{r}][{j}] ({layout.action_names()[j]}) is NaN")
    if not layout.discrete:
        return (np.clip(arr, -1.0, 1.0) + 1.0) * 0.5 * maxima
    wrong = np.argwhere((arr != np.floor(arr)) | (arr < 0) | (arr > maxima))
    if wrong.size:
        r, j = wrong[0]
        raise ValueError(
            f"actions[{r}][{j}] ({layout.action_names()[j]}) must be a whole "
            f"number in "
            f"[0, {int(maxima[j])}], got {arr[r, j]}"
        )
    return arr


def batch_orders(layout: NetworkLayout, values: np.ndarray, sim: BatchSimulation) -> np.ndarray:
    """``[R, stock nodes]``: the orders of action *values* (physical units) on *sim*'s state,
    as :meth:`NetworkLayout.order` computes them node by node."""
    if layout.action_mode == "quantity":
        return values
    ip = sim.inventory_position()
    w = layout.width
    q = np.maximum(0.0, values[:, 0::w] - ip)
    if layout.action_mode == "capped-base-stock":
        q = np.minimum(q, values[:, 1::w])
    return q


class ArrayPolicy:
    """A policy acting on ``[R, obs]`` arrays (``act(obs) -> [R, action]`` in the env's
    action space) as a batch policy: ``act_batch(sim)`` builds the observations of
    :class:`BatchVectorEnv` and decodes the actions as it does.  For a single
    ``Observation`` (the event engine) there is ``rl.evaluation``'s policies instead."""

    def __init__(self, act: Callable[[np.ndarray], Any], env: InventoryEnv) -> None:
        if env.price_node is not None:
            raise ValueError("ArrayPolicy does not set prices (the batch engine runs no markets)")
        self.act, self.layout, self.space = act, env.layout, env.order_space
        self.nonneg = env.layout.bounds()[0] == 0.0
        self.maxima = _maxima(env.layout)

    def act_batch(self, sim: BatchSimulation) -> np.ndarray:
        obs = batch_observation(self.layout, sim, self.nonneg)
        values = parse_actions(self.layout, self.space, self.act(obs), sim.R, self.maxima)
        return batch_orders(self.layout, values, sim)


def why_not_batch(problem: Problem | Network, **env_kwargs: Any) -> str | None:
    """Why :class:`BatchVectorEnv` cannot run *problem* (None when it can)."""
    network = problem.network if isinstance(problem, Problem) else problem
    market = problem.market if isinstance(problem, Problem) else env_kwargs.get("market")
    return unsupported(network, market)


class BatchVectorEnv(VectorEnv):
    """``num_envs`` episodes of ``make_env(problem, **env_kwargs)`` in one lockstep batch.

    Spaces: ``single_observation_space`` and ``single_action_space`` are the single env's;
    ``observation_space`` and ``action_space`` their batched versions.  ``reset(seed=s)``
    re-roots every sub-env at *s* (sub-env i then plays episodes i, i + N, ...);
    ``reset()`` with no seed first uses *seed*.  Infos are dicts of arrays (with Gymnasium's
    ``_key`` masks): ``t``, ``dt``, ``replication``, ``cost`` (per part and ``total``),
    ``revenue``, ``node_cost``, ``orders`` and ``action_mask``, as the single env's.
    *episode_seeds*: ``(i, m) -> seed`` of sub-env i's m-th episode after a seeding
    (default: ``replication_seed(seed, m * num_envs + i)``); ``reset(options={"round": m})``
    begins round m (every sub-env's m-th episode).  :meth:`from_env` builds one from an
    existing (unwrapped) env.
    """

    def __init__(
        self,
        problem: Problem | Network,
        num_envs: int,
        *,
        seed: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        episode_seeds: Callable[[int, int], SeedLike] | None = None,
        **env_kwargs: Any,
    ) -> None:
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs(={num_envs!r}) must be an integer >= 1")
        mode = AutoresetMode(autoreset_mode)
        reason = why_not_batch(problem, **env_kwargs)
        if reason:
            raise ValueError(
                f"the batch engine does not run {reason}; use "
                "rl.wrappers.make_vector_env (or make_batch_vector_env, which "
                "falls back)"
            )
        for reserved in ("episode_offset", "episode_stride", "market"):
            if reserved in env_kwargs:
                raise ValueError(f"{reserved} is set by BatchVectorEnv")
        self._setup(make_env(problem, **env_kwargs), int(num_envs), seed, mode, episode_seeds)

    @classmethod
    def from_env(
        cls,
        env: InventoryEnv,
        num_envs: int,
        *,
        seed: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        episode_seeds: Callable[[int, int], SeedLike] | None = None,
    ) -> BatchVectorEnv:
        """``num_envs`` copies of the (unwrapped) env *env*, with its problem and settings.

        *env* becomes the template (it is closed with this vector env)."""
        if not isinstance(env, InventoryEnv):
            raise TypeError(f"expected an InventoryEnv, got {type(env).__name__}")
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs(={num_envs!r}) must be an integer >= 1")
        reason = unsupported(env.network, env.market)
        if reason:
            raise ValueError(f"the batch engine does not run {reason}")
        self = cls.__new__(cls)
        self._setup(env, int(num_envs), seed, AutoresetMode(autoreset_mode), episode_seeds)
        return self

    def _setup(
        self,
        template: InventoryEnv,
        num_envs: int,
        seed: int | None,
        mode: AutoresetMode,
        episode_seeds: Callable[[int, int], SeedLike] | None,
    ) -> None:
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"autoreset_mode {mode.value!r} is not supported (next-step or same-step)"
            )
        self.template = template
        self.layout: NetworkLayout = template.layout
        self._nonneg = self.layout.bounds()[0] == 0.0
        self._maxima = _maxima(self.layout)
        self.network, self.periods = template.network, template.periods
        self.num_envs = num_envs
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self.render_mode = None
        self.autoreset_mode = mode
        self.sim = BatchSimulation(self.network, self.periods, [0] * self.num_envs)
        self.objective = self.sim.objective
        self.episode_seeds = episode_seeds
        self._default_seed = seed
        self._root: np.random.SeedSequence | None = None
        self._next_episode = 0
        self.episodes = np.full(self.num_envs, -1)
        self._needs_reset = True
        self._started = False

    @property
    def round(self) -> int:
        """Batches of episodes begun since the last reset with a seed (each sub-env's
        episode count): ``reset(options={"round": m})`` begins round ``m + 1``."""
        return self._next_episode // self.num_envs

    # -- episodes ------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if options and "episode" in options:
            raise ValueError("options['episode'] would make every sub-env play the same episode")
        if seed is None and not self._started:
            seed = self._default_seed
        self._started = True
        if seed is not None:
            self._root, self._next_episode = root_sequence(seed), 0
        elif self._root is None:
            self._root = np.random.SeedSequence()
        if options and "round" in options:
            m = options["round"]
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
                raise ValueError(f"options['round'](={m!r}) must be an integer >= 0")
            self._next_episode = int(m) * self.num_envs
        return self._begin()

    def _begin(self) -> tuple[np.ndarray, dict[str, Any]]:
        assert self._root is not None
        N = self.num_envs
        self.episodes = np.arange(self._next_episode, self._next_episode + N)
        round_ = self._next_episode // N
        self._next_episode += N
        if self.episode_seeds is None:
            seeds = [replication_seed(self._root, int(k)) for k in self.episodes]
        else:
            seeds = [root_sequence(self.episode_seeds(i, round_)) for i in range(N)]
        self.sim.reset(seeds)
        self._totals = (np.zeros(N), np.zeros(N))
        self._needs_reset = False
        parts, per_node = self._run_to_epoch(first=True)
        info = self._info(
            0,
            parts,
            per_node,
            np.zeros((N, len(self.layout.names))),
            self._totals[1].copy(),
            self._totals[0].copy(),
        )
        info["dt"] = np.full(N, self.sim.t)
        return batch_observation(self.layout, self.sim, self._nonneg), info

    def _run_to_epoch(self, first: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Periods until the next decision epoch (or the horizon); their costs per part and node."""
        sim = self.sim
        parts = np.zeros((len(_COST_KEYS), sim.R))
        per_node = np.zeros((sim.R, len(sim.node_names)))
        if not first:
            self._close_period(parts, per_node)
        while not sim.done:
            sim.begin_period()
            if sim.deciding_at(sim.t).any():
                break
            self._close_period(parts, per_node)
        return parts, per_node

    def _close_period(self, parts: np.ndarray, per_node: np.ndarray) -> None:
        sim = self.sim
        sim.end_period()
        cost, revenue = sim.period_totals()
        self._totals[0][:] += cost
        self._totals[1][:] += revenue
        for k, f in enumerate(_COST_INDEX):  # ledger fields are [nodes, R] in the batch state
            parts[k] += sim.S[f].sum(axis=0)
            per_node += sim.S[f].T
        sim.next_period()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        N = self.num_envs
        if self._root is None:
            raise RuntimeError("call reset() before step()")
        if self._needs_reset:  # NEXT_STEP: the step after the last one starts new episodes
            obs, info = self._begin()
            return obs, np.zeros(N), np.zeros(N, bool), np.zeros(N, bool), info
        sim, layout = self.sim, self.layout
        values = parse_actions(layout, self.template.order_space, actions, N, self._maxima)
        t0 = sim.t
        asked = np.zeros((N, len(layout.names)))

        def act(s: BatchSimulation) -> np.ndarray:
            orders = batch_orders(layout, values, s)
            asked[:, s.deciding_now] = orders[:, s.deciding_now]
            return orders

        cost0, revenue0 = self._totals[0].copy(), self._totals[1].copy()
        sim.decide(act)
        parts, per_node = self._run_to_epoch()
        cost = self._totals[0] - cost0
        revenue = self._totals[1] - revenue0
        reward = -cost if self.objective == "cost" else revenue - cost
        info = self._info(sim.t - t0, parts, per_node, asked, revenue, cost)
        truncated = np.full(N, sim.done)
        if sim.done:
            info["action_mask"][:] = False
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final_obs = batch_observation(layout, sim, self._nonneg)
                obs, reset_info = self._begin()
                reset_info["final_obs"] = final_obs
                reset_info["final_info"] = info
                reset_info["_final_obs"] = reset_info["_final_info"] = np.ones(N, bool)
                return obs, reward, np.zeros(N, bool), truncated, reset_info
            self._needs_reset = True
        obs = batch_observation(layout, sim, self._nonneg)
        return obs, reward, np.zeros(N, bool), truncated, info

    def _info(
        self,
        dt: int,
        parts: np.ndarray,
        per_node: np.ndarray,
        asked: np.ndarray,
        revenue: np.ndarray,
        total: np.ndarray,
    ) -> dict[str, Any]:
        N, sim = self.num_envs, self.sim
        cost = {k: parts[i] for i, k in enumerate(_COST_KEYS)}
        cost["total"] = total
        mask = np.broadcast_to(
            sim.deciding_at(sim.t) if not sim.done else np.zeros(len(self.layout.names), bool),
            (N, len(self.layout.names)),
        )
        info: dict[str, Any] = {
            "t": np.full(N, sim.t),
            "dt": np.full(N, dt),
            "replication": self.episodes.copy(),
            "cost": cost,
            "revenue": revenue,
            "node_cost": per_node[:, sim.stock_index],
            "orders": asked,
            "action_mask": mask.copy(),
        }
        ones = np.ones(N, bool)
        info["cost"].update({f"_{k}": ones for k in list(info["cost"])})
        info.update({f"_{k}": ones for k in list(info)})
        return info

    def close_extras(self, **kwargs: Any) -> None:
        template = getattr(self, "template", None)  # absent when __init__ refused the problem
        if template is not None:
            template.close()


# -- a wrapped single env, batched ----------------------------------------------------------------
#: What a wrapper implements to be run on a batch (``[N, ...]`` arrays, one row per sub-env):
#: ``vector_action(actions) -> actions`` (what its ``action`` does, row by row),
#: ``vector_observation(obs) -> obs`` and ``vector_reward(reward, dt) -> reward`` (``dt``:
#: the periods each step lasted, ``info["dt"]``).  A method it lacks is the identity.  Only
#: stateless maps qualify: the batch holds no per-sub-env wrapper state.  A wrapper whose
#: batch version does not apply to this instance says why in ``vector_unsupported``.
VECTOR_METHODS = ("vector_action", "vector_observation", "vector_reward")


def _fixed_product(func: Any) -> np.ndarray | float | None:
    """The constant *c* of ``functools.partial(np.multiply | operator.mul, c)`` (what
    :func:`rl.wrappers.scale_observation` and :func:`rl.wrappers.scale_reward` use), or None."""
    import functools
    import operator

    if (
        isinstance(func, functools.partial)
        and func.func in (np.multiply, operator.mul)
        and len(func.args) == 1
        and not func.keywords
    ):
        c = func.args[0]
        if isinstance(c, np.ndarray):
            return c
        if isinstance(c, (int, float, np.floating, np.integer)):
            return float(c)
    return None


def _vector_chain(
    env: gym.Env,
) -> tuple[list[Callable[..., Any]], list[Callable[..., Any]], list[Callable[..., Any]]] | str:
    """The batch versions of *env*'s wrappers: (action maps outermost first, observation maps
    innermost first, reward maps innermost first), or why there are none."""
    actions: list[Callable[..., Any]] = []
    observations: list[Callable[..., Any]] = []
    rewards: list[Callable[..., Any]] = []
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        name = type(layer).__name__
        if any(hasattr(layer, m) for m in VECTOR_METHODS):
            why = getattr(layer, "vector_unsupported", None)
            if why:
                return f"wrapper {name}: {why}"
            if hasattr(layer, "vector_action"):
                actions.append(layer.vector_action)
            if hasattr(layer, "vector_observation"):
                observations.insert(0, layer.vector_observation)
            if hasattr(layer, "vector_reward"):
                rewards.insert(0, layer.vector_reward)
        elif isinstance(layer, gym.wrappers.TransformObservation):
            c = _fixed_product(layer.func)
            if c is None:
                return f"wrapper {name} with a function other than a fixed product"
            observations.insert(0, lambda obs, c=c: np.multiply(c, obs))
        elif isinstance(layer, gym.wrappers.TransformReward):
            c = _fixed_product(layer.func)
            if c is None or isinstance(c, np.ndarray):
                return f"wrapper {name} with a function other than a fixed scalar product"
            rewards.insert(0, lambda reward, dt, c=c: c * reward)
        else:
            return f"wrapper {name} (no batch version: it has none of {', '.join(VECTOR_METHODS)})"
        layer = layer.env
    if not isinstance(layer, InventoryEnv):
        return f"env {type(layer).__name__} (the batch engine runs rl.env.InventoryEnv)"
    reason = unsupported(layer.network, layer.market)
    return f"a problem with {reason}" if reason else (actions, observations, rewards)


def why_not_vectorize(env: gym.Env) -> str | None:
    """Why :class:`WrappedBatchEnv` cannot batch *env* (a possibly wrapped single env), or None."""
    chain = _vector_chain(env)
    return chain if isinstance(chain, str) else None


class WrappedBatchEnv(VectorEnv):
    """``num_envs`` copies of a *wrapped* :class:`rl.env.InventoryEnv` on the batch engine.

    *env* (e.g. a preset's ``make_thunk(problem, spec)()``) is the template: its innermost
    InventoryEnv becomes a :class:`BatchVectorEnv` and each wrapper is applied to whole
    batches through its batch version (:data:`VECTOR_METHODS`; Gymnasium's
    ``TransformObservation``/``TransformReward`` with a fixed product, as
    :mod:`rl.wrappers` builds them, are recognised).  Spaces are *env*'s; steps, rewards,
    observations and infos are what ``num_envs`` copies of *env* in a Gymnasium vector env
    return (``final_obs`` transformed too).  ``episode_seeds``, ``autoreset_mode``, ``seed``
    and ``reset(options={"round": m})``: as :class:`BatchVectorEnv`.  A wrapper without a
    batch version: ValueError naming it (:func:`why_not_vectorize` tells beforehand).
    """

    def __init__(
        self,
        env: gym.Env,
        num_envs: int,
        *,
        seed: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        episode_seeds: Callable[[int, int], SeedLike] | None = None,
    ) -> None:
        chain = _vector_chain(env)
        if isinstance(chain, str):
            raise ValueError(f"cannot batch this env: {chain}")
        self._actions, self._observations, self._rewards = chain
        self.vec = BatchVectorEnv.from_env(
            env.unwrapped,  # type: ignore[arg-type]  # an InventoryEnv (checked by the chain)
            num_envs,
            seed=seed,
            autoreset_mode=autoreset_mode,
            episode_seeds=episode_seeds,
        )
        self.env = env
        self.num_envs = self.vec.num_envs
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = dict(self.vec.metadata)
        self.render_mode = None
        self.autoreset_mode = self.vec.autoreset_mode

    @property
    def round(self) -> int:
        """:attr:`BatchVectorEnv.round` of the batch underneath."""
        return self.vec.round

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        for f in self._observations:
            obs = f(obs)
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.vec.reset(seed=seed, options=options)
        return self._obs(obs), info

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        starting = self.vec._needs_reset  # NEXT_STEP's reset step: no action, reward 0
        a = actions
        if not starting:
            for f in self._actions:
                a = f(a)
        obs, reward, terminated, truncated, info = self.vec.step(a)
        if not starting:
            dt = info["final_info"]["dt"] if "final_info" in info else info["dt"]
            for g in self._rewards:
                reward = g(reward, dt)
        if "final_obs" in info:
            info["final_obs"] = self._obs(info["final_obs"])
        return self._obs(obs), np.asarray(reward, dtype=np.float64), terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        vec = getattr(self, "vec", None)  # absent when __init__ refused the env
        if vec is not None:
            vec.close()  # closes the template, the innermost env of *env*


def make_batch_vector_env(
    problem: Problem | Network,
    n_envs: int,
    seed: int | None = None,
    *,
    autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
    **env_kwargs: Any,
) -> gym.vector.VectorEnv:
    """:class:`BatchVectorEnv` when the batch engine runs *problem*; otherwise
    :func:`rl.wrappers.make_vector_env` (same episodes and seeds) after a warning naming
    what the batch engine does not run."""
    reason = why_not_batch(problem, **env_kwargs)
    if reason is None:
        return BatchVectorEnv(
            problem, n_envs, seed=seed, autoreset_mode=autoreset_mode, **env_kwargs
        )
    from .wrappers import make_vector_env

    warnings.warn(
        f"batch vector env not used: {reason}; running {n_envs} event-engine envs", stacklevel=2
    )
    return make_vector_env(problem, n_envs, seed, autoreset_mode=autoreset_mode, **env_kwargs)


class BatchParallelEnv:
    """``num_envs`` episodes of ``rl.multi_agent.parallel_env(problem, **env_kwargs)`` in one
    lockstep batch: PettingZoo's parallel API with every value an ``[N, ...]`` array.

    ``reset`` returns ``({agent: obs [N, d]}, {agent: {"t": [N]}})``; ``step({agent:
    action [N, ...]})`` returns observations, rewards (the shared team reward ``[N]``),
    terminations, truncations ``[N]`` and infos (``t``, ``dt``, ``node_cost`` of the
    agent's node), as the single parallel env does for one episode.  ``state()`` is the
    global observation ``[N, state]``.  Spaces are the single env's, per agent.  Episodes,
    seeds and autoreset are :class:`BatchVectorEnv`'s (all sub-envs truncate together; the
    step after that starts the next episodes with reward 0, in ``NEXT_STEP`` mode).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "des_supply_batch_parallel_v0",
        "is_parallelizable": True,
    }

    def __init__(
        self,
        problem: Problem | Network,
        num_envs: int,
        *,
        seed: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **env_kwargs: Any,
    ) -> None:
        from .multi_agent import check_agents, parallel_env

        template = parallel_env(problem, **env_kwargs)  # refuses markets and mixed schedules
        self._check_agents = check_agents
        self.vec = BatchVectorEnv(
            problem, num_envs, seed=seed, autoreset_mode=autoreset_mode, **env_kwargs
        )
        self.num_envs = self.vec.num_envs
        self.possible_agents = list(template.possible_agents)
        self.agents: list[str] = []
        self.observation_spaces = dict(template.observation_spaces)
        self.action_spaces = dict(template.action_spaces)
        self.state_space = template.state_space
        layout = self.vec.layout
        phases = list(
            range(
                len(layout.observation_names) - len(layout.phase_names),
                len(layout.observation_names),
            )
        )
        self._columns, start = {}, 0
        for agent in self.possible_agents:
            width = len(layout.node_names[agent])
            self._columns[agent] = np.array(list(range(start, start + width)) + phases)
            start += width
        self._state: np.ndarray | None = None

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def state(self) -> np.ndarray:
        if self._state is None:
            raise RuntimeError("call reset() first")
        return self._state

    def _split(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        self._state = obs
        return {a: obs[:, self._columns[a]] for a in self.possible_agents}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        obs, info = self.vec.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._split(obs), {a: {"t": info["t"]} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("call reset() first")
        self._check_agents(actions, self.possible_agents)
        N = self.num_envs
        joint = np.concatenate(
            [np.asarray(actions[a], dtype=np.float64).reshape(N, -1) for a in self.possible_agents],
            axis=1,
        )
        if isinstance(self.vec.single_action_space, spaces.Discrete):
            joint = joint.reshape(N)
        obs, reward, terminated, truncated, info = self.vec.step(joint)
        agents = self.possible_agents
        self.agents = list(agents)
        infos = {
            a: {"t": info["t"], "dt": info["dt"], "node_cost": info["node_cost"][:, k]}
            for k, a in enumerate(agents)
        }
        return (
            self._split(obs),
            {a: reward for a in agents},
            {a: terminated for a in agents},
            {a: truncated for a in agents},
            infos,
        )

    def close(self) -> None:
        self.vec.close()
