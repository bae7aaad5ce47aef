"""Logged trajectories of any behaviour policy, in the Minari dataset format.

A dataset is a folder ``DIR`` holding Minari's storage in ``DIR/data`` (``main_data.hdf5``
and ``metadata.json``): ``minari.MinariDataset(DIR / "data")`` reads it, and so does
``minari.load_dataset(ID)`` when ``DIR`` is ``$MINARI_DATASETS_PATH/ID`` (an ID looks like
``des-supply/single-stage-myopic-v0``).  Minari's ``DataCollector`` is not used: it needs
jax to buffer steps; the episodes are written with Minari's own storage classes instead, so
the files are the same.

Episode *k* of a collect with seed *s* runs the engine on ``replication_seed(s, k)``: the
demand of replication *k* of ``des_supply.evaluate.simulate(..., seed=s)``, so datasets of
different behaviour policies with the same seed see the same demand (common random
numbers).  Each episode's metadata records its behaviour policy and parameters, the seed,
the episode number, the problem (name, parameters, and how to rebuild it) and its return.

Behaviour policies (:class:`Behaviour`): an engine policy (:class:`EnginePolicy`, any
registered heuristic or the DP optimum), the same with noise on its orders
(:class:`NoisyPolicy`), uniform random orders (:class:`RandomOrders`), and an agent that
acts in an env of its own (:class:`MirroredAgent`: a trained PPO run, whose env has other
wrappers and action encoding; both envs run the same engine on the same seed in lockstep).

Problems with a market.  A collaborative problem is logged in its own env
(:class:`rl.collaborative_env.CollaborativeEnv`, the PPO preset's): there a behaviour gives
a full engine ``Action`` (orders per supplier, prices, recommendation: ``decide(env)``) and
the env encodes it into its action space (``env.encode``, the inverse of the env's
``decode``; an action it cannot represent stops the collect with a ValueError naming the
component).  The noise of :class:`NoisyPolicy` is then Gaussian on the encoded action
(``std`` in action units, clipped to [-1, 1]: levels, prices, supplier use and scores),
and :class:`RandomOrders` draws uniform env actions.  Pricing and recommendation problems
are not logged yet (their envs have no ``encode``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from des_supply.policies import Action

from .collaborative_env import CollaborativeEnv
from .env import InventoryEnv

__all__ = [
    "Behaviour",
    "EnginePolicy",
    "Episode",
    "MirroredAgent",
    "NoisyPolicy",
    "RandomOrders",
    "collect",
    "data_path",
    "info",
    "load",
    "load_episodes",
    "merge",
    "run_behaviour",
]

NAMESPACE = "des-supply"


def _import_minari() -> Any:
    try:
        import minari
    except ImportError:  # pragma: no cover - the extra is part of [dev]
        raise ImportError("datasets need Minari: pip install 'des-supply[offline]'") from None
    return minari


# -- behaviour policies -------------------------------------------------------------------------
class Behaviour(Protocol):
    """What acts while a dataset is collected: physical orders for the env's pending epoch."""

    name: str
    params: Mapping[str, Any]

    def begin(self, seed: int, episode: int) -> None:
        """A new episode (episode *episode* of seed *seed*) starts."""

    def orders(self, env: InventoryEnv) -> dict[str, float]:
        """Order quantities (node -> units) at the env's pending epoch (``env.view``)."""

    def decide(self, env: CollaborativeEnv) -> Action:
        """The full engine action at a market env's pending epoch (``env.view``)."""


def _orders_of(action: Any) -> dict[str, float]:
    orders = getattr(action, "orders", action)
    return {str(k): float(v) for k, v in dict(orders).items()}


@dataclass
class EnginePolicy:
    """An engine policy (``act(observation)``), e.g. from ``make_policy(name, problem, params)``."""

    policy: Any
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def begin(self, seed: int, episode: int) -> None:
        pass

    def orders(self, env: InventoryEnv) -> dict[str, float]:
        return _orders_of(self.policy.act(env.view))

    def decide(self, env: CollaborativeEnv) -> Action:
        action = self.policy.act(env.view)
        return action if isinstance(action, Action) else Action(orders=dict(action))


@dataclass
class NoisyPolicy:
    """*base*'s orders plus Gaussian noise of standard deviation *std* units, rounded to whole
    units (when *integer*) and clipped to ``[0, max_order]``: a noisy heuristic.

    The noise of episode *k* comes from ``SeedSequence(seed, spawn_key=(k, 1))`` (not the
    engine's streams, so the demand stays that of replication *k*)."""

    base: Behaviour
    std: float
    integer: bool = True
    name: str = ""
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.std) and self.std >= 0):
            raise ValueError(f"noise std(={self.std}) must be a finite number >= 0")
        self.name = self.name or f"noisy-{self.base.name}"

    @property
    def params(self) -> dict[str, Any]:
        return {**self.base.params, "noise_std": self.std}

    def begin(self, seed: int, episode: int) -> None:
        self.base.begin(seed, episode)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(episode, 1)))

    def orders(self, env: InventoryEnv) -> dict[str, float]:
        out = {}
        for node, q in self.base.orders(env).items():
            q = q + self.std * float(self.rng.standard_normal())
            q = float(round(q)) if self.integer else q
            out[node] = min(max(q, 0.0), env.layout.nodes[env.layout.index[node]].max_order)
        return out

    def decide(self, env: CollaborativeEnv) -> Action:
        u = env.encode(self.base.decide(env)).astype(np.float64)
        u = u + self.std * self.rng.standard_normal(u.shape)
        return env.decode(np.clip(u, -1.0, 1.0).astype(np.float32))


@dataclass
class RandomOrders:
    """Uniform random orders on ``0..max_order`` (whole units when *integer*) at every node
    that reviews; the draws of episode *k* come from ``SeedSequence(seed, spawn_key=(k, 2))``."""

    integer: bool = True
    name: str = "random"
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), repr=False)

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def begin(self, seed: int, episode: int) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(episode, 2)))

    def orders(self, env: InventoryEnv) -> dict[str, float]:
        assert env.view is not None  # called at a pending epoch
        out = {}
        for node in env.view.deciding:
            top = env.layout.nodes[env.layout.index[node]].max_order
            out[node] = (
                float(self.rng.integers(0, int(top) + 1))
                if self.integer
                else float(self.rng.uniform(0.0, top))
            )
        return out

    def decide(self, env: CollaborativeEnv) -> Action:
        shape = env.action_space.shape
        return env.decode(self.rng.uniform(-1.0, 1.0, shape).astype(np.float32))


@dataclass
class MirroredAgent:
    """An agent acting in an env of its own (e.g. a PPO run's wrapped env from *make_env*).

    Its env runs episode *k* of the same seed as the dataset's env; at every epoch the agent
    acts on its own observation, its env steps, and the orders it placed (``info["orders"]``)
    are placed in the dataset's env.  Same engine, same seed, same orders: the two stay in
    lockstep (checked on the stock on hand at every epoch)."""

    make_env: Callable[[], gym.Env]
    act: Callable[[Any], Any]
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    _env: gym.Env | None = field(default=None, repr=False)
    _obs: Any = field(default=None, repr=False)

    def begin(self, seed: int, episode: int) -> None:
        if self._env is None:
            self._env = self.make_env()
        self._obs, _ = self._env.reset(seed=seed, options={"episode": episode})

    def _mine(self, env: Any, nodes: Sequence[str]) -> Any:
        """The agent's own (unwrapped) env, checked in lockstep with *env* on *nodes*."""
        assert self._env is not None, "begin() first"
        view = env.view
        assert view is not None  # called at a pending epoch
        mine: Any = self._env.unwrapped  # a des_supply env on the same problem
        for node in nodes:
            if abs(mine.view.on_hand(node) - view.on_hand(node)) > 1e-6:
                raise RuntimeError(
                    f"{self.name}: its env left lockstep at node {node!r} in period "
                    f"{view.t} (different problem, periods or seed?)"
                )
        return mine

    def decide(self, env: CollaborativeEnv) -> Action:
        mine = self._mine(env, env.items)
        action = self.act(self._obs)
        decided = mine.decode(action)  # what its step places (decode is deterministic)
        assert self._env is not None  # _mine checked it
        self._obs = self._env.step(action)[0]
        return decided

    def orders(self, env: InventoryEnv) -> dict[str, float]:
        mine = self._mine(env, env.nodes)
        assert self._env is not None and env.view is not None
        deciding = env.view.deciding
        self._obs, _, _, _, info = self._env.step(self.act(self._obs))
        return {n: float(q) for n, q in zip(mine.nodes, info["orders"]) if n in deciding}


# -- writing and reading ------------------------------------------------------------------------
def data_path(path: str | Path) -> Path:
    """The Minari storage folder of a dataset folder (``DIR/data``; *path* itself if it is one)."""
    path = Path(path).resolve()  # Minari's storage mis-joins relative paths
    return path if (path / "metadata.json").exists() else path / "data"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _new_storage(
    out: Path, observation_space: gym.Space, action_space: gym.Space
) -> tuple[Any, Path]:
    """A new storage in ``OUT.partial`` (renamed to *out* by :func:`_publish`, so an
    interrupted collect or merge never leaves a dataset that looks complete)."""
    from minari.dataset.minari_storage import MinariStorage

    if out.exists() and any(out.iterdir()):
        raise ValueError(f"dataset folder {out} exists and is not empty; choose another --out")
    partial = out.resolve().with_name(out.name + ".partial")  # Minari mis-joins relative paths
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return MinariStorage.new(
        partial / "data",
        observation_space=observation_space,
        action_space=action_space,
        data_format="hdf5",
    ), partial


def _publish(partial: Path, out: Path) -> Path:
    if out.exists():
        out.rmdir()  # empty (checked by _new_storage)
    os.replace(partial, out)
    return out


def _finish(
    storage: Any, dataset_id: str, description: str, algorithm: str, extra: Mapping[str, Any]
) -> None:
    minari = _import_minari()
    storage.update_metadata(
        {
            "dataset_id": dataset_id,
            "minari_version": minari.__version__,
            "description": description,
            "algorithm_name": algorithm,
            "author": {"des-supply"},
            "des_supply": _json(extra),
        }
    )


def _dataset_id(name: str) -> str:
    """A Minari id ``des-supply/NAME-v0`` from *name* (characters Minari refuses become '-')."""
    clean = "".join(c if c.isalnum() or c in "_." else "-" for c in name).strip("-") or "data"
    return f"{NAMESPACE}/{clean}-v0"


DatasetEnv = InventoryEnv | CollaborativeEnv


def _run(
    env: DatasetEnv, behaviour: Behaviour, episodes: int, seed: int, progress: bool = False
) -> Any:
    """Episodes ``0..episodes-1`` of seed *seed* under *behaviour*: for each, the observations
    (one more than steps), the env actions, the rewards and the mean cost (or profit) per
    period, as :func:`rl.evaluation.evaluate_agent` measures it."""
    objective = env.sim.objective
    for k in tqdm(range(episodes), desc=f"run {behaviour.name}", disable=not progress, leave=False):
        obs, _ = env.reset(seed=seed, options={"episode": k})
        behaviour.begin(seed, k)
        observations, actions, rewards = [obs], [], []
        cost = revenue = periods = 0.0
        while True:
            action = (
                env.encode(behaviour.decide(env))
                if isinstance(env, CollaborativeEnv)
                else env.orders_to_action(behaviour.orders(env))
            )
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            cost += info["cost"]["total"]
            revenue += info["revenue"]
            periods += info["dt"]
            if terminated or truncated:
                break
        value = (cost if objective == "cost" else revenue - cost) / max(periods, 1)
        yield observations, actions, rewards, float(value)


def run_behaviour(
    env: DatasetEnv, behaviour: Behaviour, *, episodes: int, seed: int, progress: bool = False
) -> np.ndarray:
    """Mean cost (or profit) per period of each of *episodes* episodes of *behaviour* on
    seed *seed*: the same episodes as :func:`collect` logs and as the agents are scored on."""
    return np.array([v for *_, v in _run(env, behaviour, episodes, seed, progress)])


def collect(
    env: DatasetEnv,
    behaviour: Behaviour,
    *,
    episodes: int,
    seed: int,
    out: str | Path,
    problem: Mapping[str, Any] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    dataset_id: str | None = None,
    progress: bool = False,
) -> Path:
    """Run *behaviour* for *episodes* episodes of *env* and write them to the folder *out*.

    *env* is an unwrapped :class:`~rl.env.InventoryEnv` (its action space is the dataset's:
    the behaviour's orders are stored as ``env.orders_to_action(orders)``, so the env must
    be in ``action_mode="quantity"``), or an unwrapped
    :class:`~rl.collaborative_env.CollaborativeEnv` (actions ``env.encode(decided)``).  *problem* is how to rebuild the problem (JSON-safe,
    e.g. ``scenarios.presets.problem_record``) and *env_kwargs* the env's keyword arguments;
    both are stored so training and evaluation rebuild the same env.  Rewards are the env's
    (minus cost, or profit).  Returns *out*.
    """
    if episodes < 1:
        raise ValueError(f"episodes(={episodes}) must be >= 1")
    if not isinstance(env, (InventoryEnv, CollaborativeEnv)) or env is not env.unwrapped:
        raise TypeError(
            "collect needs an unwrapped rl.env.InventoryEnv (rl.make_env(problem)) or "
            "rl.collaborative_env.CollaborativeEnv"
        )
    if isinstance(env, InventoryEnv) and env.action_mode != "quantity":
        raise ValueError(f"collect needs action_mode='quantity', not {env.action_mode!r}")
    from minari.data_collector.episode_buffer import EpisodeBuffer

    out = Path(out)
    storage, partial = _new_storage(out, env.observation_space, env.action_space)
    problem_text = _json(problem or {"name": env.network.name})
    metas = []
    for k, (observations, actions, rewards, value) in enumerate(
        _run(env, behaviour, episodes, seed, progress)
    ):
        n = len(rewards)
        storage.update_episodes(
            [
                EpisodeBuffer(
                    id=k,
                    seed=seed,
                    observations=np.asarray(observations, dtype=np.float32),
                    actions=np.asarray(actions),
                    rewards=rewards,
                    terminations=[False] * n,
                    truncations=[False] * (n - 1) + [True],
                )
            ]
        )
        metas.append(
            {
                "behaviour": behaviour.name,
                "behaviour_params": _json(dict(behaviour.params)),
                "seed": int(seed),
                "episode": int(k),
                "problem": problem_text,
                "scenario": env.network.name,
                "return": float(sum(rewards)),
                "value": value,
            }
        )
    storage.update_episode_metadata(metas)
    _finish(
        storage,
        dataset_id or _dataset_id(f"{env.network.name}-{behaviour.name}"),
        f"{episodes} episodes of {env.periods} periods of {behaviour.name} on "
        f"{env.network.name} (seed {seed})",
        behaviour.name,
        {
            "problem": problem or {},
            "env": dict(env_kwargs or {}),
            "periods": env.periods,
            "behaviours": [behaviour.name],
        },
    )
    return _publish(partial, out)


def load(path: str | Path) -> Any:
    """The dataset in folder *path* as a ``minari.MinariDataset``."""
    minari = _import_minari()
    where = data_path(path)
    if not (where / "metadata.json").exists():
        raise FileNotFoundError(f"{path} is not a dataset folder (no data/metadata.json)")
    return minari.MinariDataset(where)


def info(path: str | Path) -> dict[str, Any]:
    """What :func:`collect` / :func:`merge` recorded about a dataset (problem, env, periods)."""
    meta = json.loads((data_path(path) / "metadata.json").read_text())
    return json.loads(meta.get("des_supply", "{}"))


@dataclass(frozen=True)
class Episode:
    """One logged episode: ``observations[t]`` is what was seen when ``actions[t]`` was taken
    (the final observation is in ``last_observation``)."""

    observations: np.ndarray  # (T, obs_dim)
    actions: np.ndarray  # (T, ...) in the env's action space
    rewards: np.ndarray  # (T,)
    last_observation: np.ndarray
    meta: dict[str, Any]

    @property
    def ret(self) -> float:
        return float(self.rewards.sum())

    @property
    def problem(self) -> dict[str, Any]:
        return json.loads(self.meta.get("problem", "{}"))

    @property
    def behaviour_params(self) -> dict[str, Any]:
        return json.loads(self.meta.get("behaviour_params", "{}"))


def _meta(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in raw.items()}


def load_episodes(path: str | Path) -> list[Episode]:
    """Every episode of the dataset in *path*, with its metadata."""
    dataset = load(path)
    metas = list(dataset.storage.get_episode_metadata(range(dataset.total_episodes)))
    out = []
    for ep, meta in zip(dataset.iterate_episodes(), metas):
        obs = np.asarray(ep.observations, dtype=np.float32)
        out.append(
            Episode(
                obs[:-1],
                np.asarray(ep.actions),
                np.asarray(ep.rewards, dtype=float),
                obs[-1],
                _meta(meta),
            )
        )
    return out


def merge(paths: Sequence[str | Path], out: str | Path, *, dataset_id: str | None = None) -> Path:
    """One mixed dataset in *out* from the datasets in *paths* (episodes and their metadata
    in order).  Observation and action spaces must agree; the problems may differ (a
    multi-task dataset), each episode keeps its own."""
    if not paths:
        raise ValueError("merge needs at least one dataset")
    from minari.data_collector.episode_buffer import EpisodeBuffer

    sets = [load(p) for p in paths]
    first = sets[0]
    for p, d in zip(paths[1:], sets[1:]):
        for what in ("observation_space", "action_space"):
            if getattr(d, what) != getattr(first, what):
                raise ValueError(
                    f"cannot merge {p}: its {what} {getattr(d, what)} differs from "
                    f"{paths[0]}'s {getattr(first, what)}"
                )
    out = Path(out)
    storage, partial = _new_storage(out, first.observation_space, first.action_space)
    metas: list[dict[str, Any]] = []
    records = [info(p) for p in paths]
    k = 0
    for p in paths:
        for ep in load_episodes(p):
            obs = np.concatenate([ep.observations, ep.last_observation[None]])
            n = len(ep.rewards)
            storage.update_episodes(
                [
                    EpisodeBuffer(
                        id=k,
                        seed=int(ep.meta.get("seed", 0)),
                        observations=obs,
                        actions=ep.actions,
                        rewards=ep.rewards.tolist(),
                        terminations=[False] * n,
                        truncations=[False] * (n - 1) + [True],
                    )
                ]
            )
            metas.append(
                {key: v for key, v in ep.meta.items() if key not in ("id", "total_steps")}
                | {"source": str(p)}
            )
            k += 1
    storage.update_episode_metadata(metas)
    behaviours = sorted({b for r in records for b in r.get("behaviours", [])})
    problems = [r.get("problem", {}) for r in records]
    _finish(
        storage,
        dataset_id or _dataset_id(out.name),
        f"merge of {len(paths)} datasets ({', '.join(behaviours)})",
        "mixed",
        {
            "problem": problems[0] if all(q == problems[0] for q in problems) else None,
            "problems": problems,
            "env": records[0].get("env", {}),
            "periods": records[0].get("periods"),
            "behaviours": behaviours,
            "sources": [str(p) for p in paths],
        },
    )
    return _publish(partial, out)
