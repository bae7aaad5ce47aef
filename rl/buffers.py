"""Rollouts for PPO: collection from a vector env, storage, GAE and running normalisers.

Episode ends in the supply-chain envs are *truncations* (a horizon, not a
terminal state), so :func:`compute_gae` takes terminations and truncations
separately: a truncated step still bootstraps from the value of the final
observation, and only the advantage recursion is cut there.

Semi-Markov envs (a step is a decision event, ``info["dt"]`` the time it took; e.g.
:class:`rl.semi_markov_env.SemiMarkovEnv`) are discounted per unit time: step t gets
the factor ``gamma ** dt_t`` in the bootstrap and in the GAE recursion
(:meth:`Rollout.advantages`, :func:`step_discounts`), and the average-cost option
subtracts ``rate * dt_t`` from each reward (:meth:`EnvRunner.differential`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import FlattenObservation

from des_supply.rng import replication_seed

from .networks import ActionLayout, Agent

if TYPE_CHECKING:
    from .ppo import PPOConfig

__all__ = [
    "DISCOUNTS",
    "BatchEnvRunner",
    "EnvRunner",
    "Rollout",
    "RunningMeanStd",
    "batch_runner_reason",
    "compute_gae",
    "is_semi_markov",
    "ppo_episode_seed",
    "step_discounts",
]

CLIP_OBS = 10.0  # normalised observations are clipped to [-CLIP_OBS, CLIP_OBS]
CLIP_REWARD = 10.0  # normalised rewards are clipped to [-CLIP_REWARD, CLIP_REWARD]
#: How PPO discounts a step (``PPOConfig.discount``): "auto" is "time" on semi-Markov envs
#: (``metadata["semi_markov"]``), "step" on every other env.
DISCOUNTS = ("auto", "step", "time")


def is_semi_markov(env: gym.Env) -> bool:
    """Whether *env* declares that its steps take ``info["dt"]`` time units each."""
    return bool(getattr(env.unwrapped, "metadata", {}).get("semi_markov", False))


def step_discounts(gamma: float, dt: torch.Tensor) -> torch.Tensor:
    """Per-step discount factors ``gamma ** dt`` (float64 power, float32 result)."""
    return torch.pow(torch.tensor(gamma, dtype=torch.float64), dt.double()).float()


def _dts(infos: dict[str, Any], done: np.ndarray) -> np.ndarray:
    """``info["dt"]`` of every sub-env's step (SAME_STEP autoreset: a finished episode's
    step info is under ``final_info``)."""
    n = len(done)
    out = np.full(n, np.nan)
    for key, where in ((infos, ~done), (infos.get("final_info", {}), done)):
        if "dt" in key:
            have = np.asarray(key["_dt"], dtype=bool) & where
            out[have] = np.asarray(key["dt"], dtype=np.float64)[have]
    bad = np.flatnonzero(~(np.isfinite(out) & (out >= 0)))
    if bad.size:
        raise ValueError(
            f"discount='time' needs info['dt'] >= 0 from every step; sub-env {bad[0]} "
            f"gave {out[bad[0]]} (use discount='step' for an env without it)"
        )
    return out


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float | torch.Tensor,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets for a rollout.

    Parameters
    ----------
    rewards : torch.Tensor
        r_t, shape (T, N): T steps of N sub-environments.
    values : torch.Tensor
        V(s_t), shape (T, N).
    next_values : torch.Tensor
        V(s'_t), shape (T, N), where s'_t is the observation that step t led to *in
        the same episode*: the next row's observation if the episode goes on, the final
        observation if step t was truncated. Ignored where step t terminated.
    terminated, truncated : torch.Tensor
        Bool or 0/1 masks, shape (T, N).
    gamma : float or torch.Tensor
        Discount per step [γ]; a (T, N) tensor allows SMDP discounts ``gamma ** dt``.
    lam : float
        GAE parameter [λ].

    Returns
    -------
    advantages, returns : torch.Tensor
        A_t and the value targets A_t + V(s_t), shape (T, N).

    Notes
    -----
    With d_t = terminated_t or truncated_t:

        δ_t = r_t + γ (1 − terminated_t) V(s'_t) − V(s_t)
        A_t = δ_t + γ λ (1 − d_t) A_{t+1},   A_T = 0

    so a termination cuts the bootstrap, while a truncation keeps it and cuts only
    the recursion into the next episode. ``done = terminated | truncated`` in the
    first line (CleanRL's convention) would treat every horizon as a terminal state.

    Examples
    --------
    >>> r = torch.tensor([[1.0], [1.0], [1.0]])
    >>> v = torch.tensor([[0.5], [0.5], [0.5]])
    >>> nv = torch.tensor([[0.5], [2.0], [0.5]])         # step 1 was truncated; V(final obs) = 2
    >>> trunc = torch.tensor([[False], [True], [False]])
    >>> adv, ret = compute_gae(r, v, nv, torch.zeros(3, 1), trunc, gamma=0.5, lam=1.0)
    >>> adv.squeeze(-1).tolist()
    [1.5, 1.5, 0.75]

    """
    not_term = 1.0 - terminated.float()
    not_done = 1.0 - torch.logical_or(terminated.bool(), truncated.bool()).float()
    gamma = torch.as_tensor(gamma, dtype=values.dtype).expand_as(values)
    deltas = rewards + gamma * not_term * next_values - values
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[0])
    for t in reversed(range(values.shape[0])):
        last = deltas[t] + gamma[t] * lam * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


class RunningMeanStd:
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update).

    Used for observation normalisation and, on discounted returns, for reward
    scaling. State is float64 and round-trips through :meth:`state_dict`.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = epsilon

    def update(self, batch: np.ndarray) -> None:
        """Fold in a batch with samples along axis 0."""
        batch = np.asarray(batch, dtype=np.float64)
        b_mean, b_var, b_count = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = np.asarray(self.mean + delta * b_count / total)
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var, self.count = np.asarray(m2 / total), total

    def normalize(self, x: np.ndarray, clip: float = 10.0) -> np.ndarray:
        """(x − mean) / std, clipped to [−clip, clip]."""
        return np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -clip, clip)

    def state_dict(self) -> dict[str, object]:
        return {
            "mean": torch.from_numpy(self.mean.copy()),
            "var": torch.from_numpy(self.var.copy()),
            "count": float(self.count),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output (tensors ``mean`` and ``var``, a number ``count``)."""
        self.mean = state["mean"].numpy().copy()
        self.var = state["var"].numpy().copy()
        self.count = float(state["count"])


@dataclass
class Rollout:
    """One rollout of ``n_steps`` steps of ``n_envs`` sub-environments (CleanRL's storage).

    ``final_values`` holds V(final observation) on truncated steps and 0 elsewhere.
    """

    obs: torch.Tensor  # (T, N, obs_dim), normalised
    actions: torch.Tensor  # (T, N, width), flat actions
    logprobs: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N), scaled / normalised
    values: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    final_values: torch.Tensor  # (T, N)
    dt: torch.Tensor | None = None  # (T, N) float64 info["dt"], semi-Markov discounting only

    @classmethod
    def empty(
        cls, n_steps: int, n_envs: int, obs_dim: int, width: int, timed: bool = False
    ) -> Rollout:
        z = lambda *shape: torch.zeros(shape, dtype=torch.float32)
        b = lambda: torch.zeros((n_steps, n_envs), dtype=torch.bool)
        return cls(
            z(n_steps, n_envs, obs_dim),
            z(n_steps, n_envs, width),
            z(n_steps, n_envs),
            z(n_steps, n_envs),
            z(n_steps, n_envs),
            b(),
            b(),
            z(n_steps, n_envs),
            torch.zeros((n_steps, n_envs), dtype=torch.float64) if timed else None,
        )

    def advantages(
        self,
        last_values: torch.Tensor,
        gamma: float,
        lam: float,
        rewards: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE, with V(obs after the rollout) = *last_values* and V(final obs) on truncations.

        With ``dt`` recorded (semi-Markov discounting), step t is discounted by
        ``gamma ** dt_t``, in its bootstrap and in the recursion.  *rewards* replaces
        the stored rewards (the average-cost option's differential rewards).
        """
        next_values = torch.cat([self.values[1:], last_values.unsqueeze(0)], dim=0)
        next_values = torch.where(self.truncated, self.final_values, next_values)
        discount = gamma if self.dt is None else step_discounts(gamma, self.dt)
        return compute_gae(
            self.rewards if rewards is None else rewards,
            self.values,
            next_values,
            self.terminated,
            self.truncated,
            discount,
            lam,
        )


# -- collecting rollouts from a vector env ---------------------------------------------------


class _SeededEpisodes(gym.Wrapper):
    """Reset episode k of sub-env i with a seed from ``SeedSequence(seed, spawn_key=(i, k))``."""

    original_observation_space: spaces.Space  # before flattening (set by _make_sub_env)

    def __init__(self, env: gym.Env, seed: int, index: int) -> None:
        super().__init__(env)
        self.root, self.episode = replication_seed(seed, index), 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:  # an explicit seed re-roots the episode sequence
            self.root, self.episode = np.random.SeedSequence(seed), 0
        episode_seed = replication_seed(self.root, self.episode).generate_state(1)[0]
        self.episode += 1
        return self.env.reset(seed=int(episode_seed), options=options)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:  # the vector env resets at once; keep the final obs intact
            obs = np.array(obs, copy=True)
        return obs, reward, terminated, truncated, info


def _make_sub_env(make_env: Callable[[], gym.Env], seed: int, index: int) -> _SeededEpisodes:
    gym_env = make_env()
    original = gym_env.observation_space
    if not isinstance(original, spaces.Box):
        gym_env = FlattenObservation(gym_env)
    wrapped = _SeededEpisodes(gym_env, seed, index)
    wrapped.original_observation_space = original
    return wrapped


class EnvRunner:
    """The vector env plus everything that changes while stepping it, with a state_dict.

    Runs ``SyncVectorEnv`` in ``AutoresetMode.SAME_STEP``, normalises observations and
    rewards, keeps per-sub-env episode returns, and records each sub-env's actions
    since its last reset so that :meth:`load_state_dict` can rebuild the envs exactly.
    """

    engine = "event"  # which engine steps the envs (BatchEnvRunner: "batch")

    def __init__(
        self, make_env: Callable[[], gym.Env] | Sequence[Callable[[], gym.Env]], config: PPOConfig
    ) -> None:
        thunks = list(make_env) if isinstance(make_env, Sequence) else [make_env] * config.n_envs
        if len(thunks) != config.n_envs:
            raise ValueError(f"got {len(thunks)} env factories for n_envs(={config.n_envs})")
        self.envs: gym.vector.VectorEnv = SyncVectorEnv(
            [partial(_make_sub_env, f, config.seed, i) for i, f in enumerate(thunks)],
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
        first = self._sub_envs()[0]
        self._setup(config, first.original_observation_space, is_semi_markov(first))

    def _setup(
        self, config: PPOConfig, observation_space: spaces.Space[Any], semi_markov: bool
    ) -> None:
        """The state both engines share, once ``self.envs`` exists."""
        self.config = config
        self.observation_space = observation_space
        self.action_space = self.envs.single_action_space
        self.layout = ActionLayout(self.action_space)
        obs_shape = self.envs.single_observation_space.shape
        assert obs_shape is not None  # a Box (flattened if need be)
        self.obs_dim = int(np.prod(obs_shape))
        n = config.n_envs
        self.obs_rms = RunningMeanStd((self.obs_dim,)) if config.norm_obs else None
        self.ret_rms = RunningMeanStd(()) if config.norm_reward else None
        self.discounted_return = np.zeros(n)
        self.episode_return, self.episode_length = np.zeros(n), np.zeros(n, dtype=np.int64)
        self.episode_actions: list[list[np.ndarray]] = [[] for _ in range(n)]
        self.finished: list[tuple[float, int]] = []  # (return, length) since the last log row
        self.raw_obs = np.zeros((n, self.obs_dim))
        self.next_obs = torch.zeros((n, self.obs_dim))
        mode = config.discount
        if mode == "auto":
            mode = "time" if semi_markov else "step"
        self.timed = mode == "time"
        self.reward_rate: float | None = None  # average-cost option: reward per unit time

    def _sub_envs(self) -> list[_SeededEpisodes]:
        return cast(list[_SeededEpisodes], cast(SyncVectorEnv, self.envs).envs)  # _make_sub_env

    def _episode_counts(self) -> list[int]:
        """Episodes begun by each sub-env."""
        return [int(e.episode) for e in self._sub_envs()]

    def start(self) -> None:
        raw: np.ndarray  # SyncVectorEnv subclasses VectorEnv unparameterised: mypy infers Never
        raw, _ = self.envs.reset()
        self._observe(raw)

    def _normalize(self, flat: np.ndarray) -> torch.Tensor:
        if self.obs_rms is not None:
            flat = self.obs_rms.normalize(flat, CLIP_OBS)
        return torch.as_tensor(flat, dtype=torch.float32)

    def _observe(self, raw: np.ndarray) -> None:
        self.raw_obs = np.asarray(raw, dtype=np.float64).reshape(self.config.n_envs, -1)
        if self.obs_rms is not None:
            self.obs_rms.update(self.raw_obs)
        self.next_obs = self._normalize(self.raw_obs)

    def _scale_rewards(
        self, reward: np.ndarray, done: np.ndarray, dt: np.ndarray | None = None
    ) -> np.ndarray:
        reward = reward * self.config.reward_scale
        if self.ret_rms is not None:
            gamma = self.config.gamma if dt is None else self.config.gamma**dt
            self.discounted_return = self.discounted_return * gamma + reward
            self.ret_rms.update(self.discounted_return)
            reward = np.clip(reward / np.sqrt(self.ret_rms.var + 1e-8), -CLIP_REWARD, CLIP_REWARD)
            self.discounted_return[done] = 0.0
        return reward

    @torch.no_grad()
    def collect(self, agent: Agent, rollout: Rollout) -> None:
        """Fill *rollout* with n_steps steps of every sub-env."""
        # SyncVectorEnv subclasses VectorEnv unparameterised: mypy infers Never for these
        raw: np.ndarray
        reward: np.ndarray
        terminated: np.ndarray
        truncated: np.ndarray
        for t in range(self.config.n_steps):
            rollout.obs[t] = self.next_obs
            action, logprob, _, value = agent.get_action_and_value(self.next_obs)
            rollout.actions[t], rollout.logprobs[t], rollout.values[t] = action, logprob, value
            flat = action.numpy()
            raw, reward, terminated, truncated, infos = self.envs.step(self.layout.to_env(flat))
            done = terminated | truncated
            dt = None
            if self.timed:
                dt = _dts(infos, done)
                rollout.dt[t] = torch.as_tensor(dt)  # type: ignore[index]
            self.episode_return += reward
            self.episode_length += 1
            bootstrap = np.flatnonzero(truncated & ~terminated)
            if bootstrap.size:  # V(final obs): the horizon is not a terminal state
                final = np.stack(
                    [
                        np.asarray(infos["final_obs"][i], dtype=np.float64).reshape(-1)
                        for i in bootstrap
                    ]
                )
                rollout.final_values[t, bootstrap] = agent.get_value(self._normalize(final))
            for i in range(self.config.n_envs):
                self.episode_actions[i].append(flat[i].copy())
                if done[i]:
                    self.finished.append(
                        (float(self.episode_return[i]), int(self.episode_length[i]))
                    )
                    self.episode_return[i], self.episode_length[i] = 0.0, 0
                    self.episode_actions[i] = []
            rollout.rewards[t] = torch.as_tensor(
                self._scale_rewards(reward, done, dt), dtype=torch.float32
            )
            rollout.terminated[t] = torch.as_tensor(terminated)
            rollout.truncated[t] = torch.as_tensor(truncated)
            self._observe(raw)

    def differential(self, rollout: Rollout) -> torch.Tensor:
        """The average-cost option: *rollout*'s rewards minus ``rate * dt`` (dt = 1 per step
        without semi-Markov timing), ``rate`` a running estimate of the reward per unit time
        (an exponential average, step ``config.rate_step``, of each rollout's total reward
        over its total time; the first rollout sets it)."""
        dt = rollout.dt if rollout.dt is not None else torch.ones_like(rollout.rewards)
        batch = float(rollout.rewards.double().sum() / dt.sum().clamp_min(1e-12))
        if self.reward_rate is None:
            self.reward_rate = batch
        else:
            self.reward_rate += self.config.rate_step * (batch - self.reward_rate)
        return (rollout.rewards.double() - self.reward_rate * dt.double()).float()

    def state_dict(self) -> dict[str, Any]:
        return {
            "episode": self._episode_counts(),
            "episode_actions": [
                torch.as_tensor(np.array(a, dtype=np.float32).reshape(-1, self.layout.width))
                for a in self.episode_actions
            ],
            "episode_return": torch.from_numpy(self.episode_return.copy()),
            "episode_length": torch.from_numpy(self.episode_length.copy()),
            "finished": [list(f) for f in self.finished],
            "raw_obs": torch.from_numpy(self.raw_obs.copy()),
            "next_obs": self.next_obs.clone(),
            "obs_rms": self.obs_rms.state_dict() if self.obs_rms else None,
            "ret_rms": self.ret_rms.state_dict() if self.ret_rms else None,
            "discounted_return": torch.from_numpy(self.discounted_return.copy()),
            "reward_rate": self.reward_rate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters and rebuild each sub-env by replaying its current episode."""
        replayed = np.zeros_like(self.raw_obs)
        for i, gym_env in enumerate(self._sub_envs()):
            gym_env.episode = state["episode"][i] - 1
            obs, _ = gym_env.reset()
            for row in state["episode_actions"][i].numpy():
                obs, *_ = gym_env.step(self.layout.to_single(row))
            replayed[i] = np.asarray(obs, dtype=np.float64).reshape(-1)
        if not np.array_equal(replayed, state["raw_obs"].numpy()):
            warnings.warn(
                "replaying the checkpointed episodes did not reproduce the saved observations: "
                "the env is not a deterministic function of its reset seed and actions, so the "
                "resumed run will differ from an uninterrupted one",
                RuntimeWarning,
                stacklevel=3,
            )
        self._restore(state)

    def _restore(self, state: dict[str, Any]) -> None:
        """The counters, normalisers and buffers of :meth:`state_dict` (not the envs)."""
        self.raw_obs = state["raw_obs"].numpy().copy()
        self.episode_actions = [list(a.numpy()) for a in state["episode_actions"]]
        self.episode_return = state["episode_return"].numpy().copy()
        self.episode_length = state["episode_length"].numpy().copy()
        self.finished = [(float(r), int(n)) for r, n in state["finished"]]
        self.next_obs = state["next_obs"].clone()
        self.discounted_return = state["discounted_return"].numpy().copy()
        self.reward_rate = state.get("reward_rate")
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        if self.ret_rms is not None:
            self.ret_rms.load_state_dict(state["ret_rms"])


# -- the same on the batch engine -------------------------------------------------------------


def ppo_episode_seed(
    seed: int, index: int, episode: int, offset: int = 0
) -> np.random.SeedSequence:
    """The engine seed of sub-env *index*'s episode *episode* in a PPO run seeded *seed*.

    :class:`EnvRunner` resets that episode with ``reset(seed=s)``, ``s`` the first word of
    ``SeedSequence(seed, spawn_key=(index, episode))``; an :class:`rl.env.InventoryEnv`
    (episode numbering from *offset*) then runs ``replication_seed(s, offset)``.  The batch
    runner gives the batch engine these very seeds, so both engines play the same draws.
    """
    word = int(replication_seed(replication_seed(seed, index), episode).generate_state(1)[0])
    return replication_seed(word, offset)


class BatchEnvRunner(EnvRunner):
    """:class:`EnvRunner` on the batch engine: ``n_envs`` copies of the env that *make_env*
    builds, as one :class:`rl.vector_env.WrappedBatchEnv` (``AutoresetMode.SAME_STEP``).

    Sub-env *i* plays the episodes, and so the draws, that it plays in :class:`EnvRunner`
    (:func:`ppo_episode_seed`): for the same actions both runners give the same rollouts.
    All sub-envs start and end their episodes together (episodes last a fixed number of
    periods), so a checkpoint is the episode round and the actions since its start, and
    resuming replays them on the batch.  Use :func:`batch_runner_reason` first: it says
    why an env cannot run here (then :class:`EnvRunner` runs it).
    """

    engine = "batch"

    def __init__(self, make_env: Callable[[], gym.Env], config: PPOConfig) -> None:
        from .vector_env import WrappedBatchEnv

        template = make_env()
        inner: Any = template.unwrapped  # an InventoryEnv (WrappedBatchEnv checks)
        offset = int(getattr(getattr(inner, "runner", None), "offset", 0))
        seed = config.seed
        self.batch = WrappedBatchEnv(
            template,
            config.n_envs,
            autoreset_mode=AutoresetMode.SAME_STEP,
            episode_seeds=lambda i, m: ppo_episode_seed(seed, i, m, offset),
        )
        self.envs = self.batch
        self._setup(config, template.observation_space, is_semi_markov(template))

    def start(self) -> None:
        raw: np.ndarray
        raw, _ = self.batch.reset(options={"round": 0})
        self._observe(raw)

    def _episode_counts(self) -> list[int]:
        return [self.batch.round] * self.config.n_envs  # all sub-envs begin theirs together

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters and rebuild the batch by replaying the current episodes."""
        rounds = {int(e) for e in state["episode"]}
        lengths = {len(a) for a in state["episode_actions"]}
        if len(rounds) != 1 or len(lengths) != 1:
            raise ValueError(
                "this checkpoint's sub-envs are at different points of their episodes "
                f"(episodes {sorted(rounds)}, steps {sorted(lengths)}); the batch engine "
                "resumes only sub-envs in step: resume with engine='event'"
            )
        raw: np.ndarray
        raw, _ = self.batch.reset(options={"round": rounds.pop() - 1})
        actions = np.stack([a.numpy() for a in state["episode_actions"]], axis=1)
        for rows in actions:  # [steps, n_envs, width]
            raw, *_ = self.batch.step(self.layout.to_env(rows))
        replayed = np.asarray(raw, dtype=np.float64).reshape(self.config.n_envs, -1)
        saved = state["raw_obs"].numpy()
        if not np.array_equal(replayed, saved):
            warnings.warn(
                "replaying the checkpointed episodes did not reproduce the saved observations; "
                "the resumed run will differ from an uninterrupted one",
                RuntimeWarning,
                stacklevel=3,
            )
        self._restore(state)


def batch_runner_reason(make_env: Any) -> str | None:
    """Why :class:`BatchEnvRunner` cannot run *make_env* (None when it can): one thunk
    (not one per sub-env) building an env that :class:`rl.vector_env.WrappedBatchEnv` batches."""
    if isinstance(make_env, Sequence) or not callable(make_env):
        return "one env factory per sub-env (the batch engine needs one thunk)"
    from .vector_env import why_not_vectorize

    env = make_env()
    try:
        return why_not_vectorize(env)
    finally:
        env.close()
