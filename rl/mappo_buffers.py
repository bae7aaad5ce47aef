"""Networks and rollouts for multi-agent PPO (:mod:`rl.mappo`) over copies of a ParallelEnv.

:class:`MultiAgentModel` holds the actors (one per agent, or one per group of agents
with equal spaces when parameters are shared) and the critic(s), built from the MLPs
and action heads of :mod:`rl.networks`.

:class:`ParallelRunner` is the multi-agent counterpart of :class:`rl.buffers.EnvRunner`:
it steps ``n_envs`` copies of a parallel env in a plain Python loop, normalises each
agent's observation (and the global state, for a centralised critic), scales the team
reward, keeps episode returns, and records each copy's joint actions since its last
reset so that :meth:`ParallelRunner.load_state_dict` can rebuild the copies exactly.

Conventions (the same as :mod:`rl.ppo`)
    * Copy *i* starts its episode *k* with ``reset(seed=s_ik)``, ``s_ik`` drawn from
      ``SeedSequence(seed, spawn_key=(i, k))`` (:func:`episode_seed`).
    * A copy is reset as soon as its episode ends (the "same step" autoreset of
      Gymnasium's vector envs): the step's final observations and final state are kept
      for bootstrapping and the rollout continues with the new episode's first ones.
    * The team reward of a step is the mean of the agents' rewards (the shared reward
      itself in :mod:`rl.multi_agent`, where every agent gets the same).
    * An episode ends when the env has no agents left.  Every agent must act at every
      step and all must leave together (true of :class:`rl.multi_agent.InventoryParallelEnv`);
      a step where only some agents end raises ``NotImplementedError``.  The episode
      is *terminated* (no bootstrap) if every agent's ``terminations`` flag is set,
      otherwise *truncated* (bootstrap from the final observation / state).
    * Decision periods: after ``reset`` and after every ``step``, ``infos[agent]["acting"]``
      (a bool; a missing key means True) says whether the action the agent submits at
      the *next* step takes effect.  Every agent still submits an action at every step
      (the env ignores those of non-acting agents); the runner records the flag with
      each transition (:attr:`MultiRollout.acting`) and :func:`decision_gae` uses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from des_supply.rng import replication_seed

from .buffers import CLIP_OBS, CLIP_REWARD, RunningMeanStd, compute_gae, step_discounts
from .networks import ActionDistribution, ActionLayout, mlp

if TYPE_CHECKING:
    from .mappo import MAPPOConfig

__all__ = [
    "Actor",
    "Critic",
    "MultiAgentModel",
    "MultiRollout",
    "ParallelRunner",
    "acting_flags",
    "decision_gae",
    "episode_seed",
    "flatten_obs",
    "group_agents",
]

TEAM = "team"  # key of the centralised critic's values


def episode_seed(seed: int, index: int, episode: int) -> int:
    """The reset seed of episode *episode* of env copy *index* in a run seeded *seed*."""
    return int(replication_seed(replication_seed(seed, index), episode).generate_state(1)[0])


def acting_flags(agents: Sequence[str], infos: Mapping[str, Any] | None) -> dict[str, bool]:
    """``infos[agent]["acting"]`` of every agent; True where the env does not say."""
    infos = infos or {}
    return {a: bool((infos.get(a) or {}).get("acting", True)) for a in agents}


def decision_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    next_acting: torch.Tensor,
    gamma: float | torch.Tensor,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE of an agent that decides only at some steps, computed at every step.

    Parameters are those of :func:`rl.buffers.compute_gae` plus *next_acting*, shape
    (T, N): whether the agent acts at the step after step t (in the same episode).
    *gamma* may be a (T, N) tensor of per-step discounts (semi-Markov: ``gamma ** dt``),
    which the formulas below then read as products over the steps.

    The recursion is ``A_t = δ_t + γ λ_t (1 − d_t) A_{t+1}`` with λ_t = λ if the agent
    acts at step t + 1 and λ_t = 1 otherwise.  At an acting step t whose next decision
    is τ steps later it unrolls to

        A_t = Σ_{l<τ} γ^l δ_{t+l} + γ^τ λ A_{t+τ}
            = [Σ_{l<τ} γ^l r_{t+l} + γ^τ V(s_{t+τ}) − V(s_t)] + γ^τ λ A_{t+τ},

    the GAE of the semi-MDP whose steps are the agent's decisions (rewards between
    decisions accumulated, discount γ^τ).  At the steps in between, A_t + V(s_t) is
    the return to the next decision followed by that decision's λ-return: a valid
    value target, so the critic learns at every step.  With every step acting this is
    :func:`rl.buffers.compute_gae`.

    Examples
    --------
    >>> r = torch.tensor([[1.0], [2.0], [4.0]])
    >>> v = torch.zeros(3, 1)
    >>> acts_next = torch.tensor([[False], [True], [False]])   # the agent acts at steps 0, 2
    >>> adv, _ = decision_gae(r, v, torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1),
    ...                       acts_next, gamma=0.5, lam=0.0)
    >>> adv.squeeze(-1).tolist()   # step 0: r_0 + γ r_1 (+ γ² V(s_2) = 0); λ = 0 stops there
    [2.0, 2.0, 4.0]

    """
    not_term = 1.0 - terminated.float()
    not_done = 1.0 - torch.logical_or(terminated.bool(), truncated.bool()).float()
    lams = torch.where(next_acting.bool(), torch.tensor(float(lam)), torch.tensor(1.0))
    gamma = torch.as_tensor(gamma, dtype=values.dtype).expand_as(values)
    deltas = rewards + gamma * not_term * next_values - values
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[0])
    for t in reversed(range(values.shape[0])):
        last = deltas[t] + gamma[t] * lams[t] * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


def flatten_obs(space: spaces.Space[Any], obs: Any) -> np.ndarray:
    """One agent's observation as a float64 vector (Box: reshaped; others: ``spaces.flatten``)."""
    if isinstance(space, spaces.Box):
        return np.asarray(obs, dtype=np.float64).reshape(-1)
    return np.asarray(spaces.flatten(space, obs), dtype=np.float64)


# -- networks -----------------------------------------------------------------------------------


class Actor(nn.Module):
    """π(a | x): an MLP to the action heads of :mod:`rl.networks` (gain 0.01 on its output)."""

    def __init__(
        self,
        in_dim: int,
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...],
        activation: str,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.layout = ActionLayout(action_space)
        self.net = mlp(in_dim, hidden_sizes, activation, self.layout.n_params, out_std=0.01)
        self.log_std = (
            nn.Parameter(torch.full((self.layout.box_dims,), float(log_std_init)))
            if self.layout.box_dims
            else None
        )

    def distribution(self, x: torch.Tensor) -> ActionDistribution:
        return ActionDistribution(self.layout, self.net(x), self.log_std)


class Critic(nn.Module):
    """V(x): an MLP to one output (gain 1), optionally on a normalised scale.

    With *normalize* (MAPPO's value normalisation) the MLP predicts (V − μ) / σ, where μ
    and σ are running statistics of the value targets kept in buffers (so they are part
    of the state dict); :meth:`forward` always returns V in reward units.
    """

    # buffers (with normalize), registered in __init__
    target_mean: torch.Tensor
    target_var: torch.Tensor
    target_count: torch.Tensor

    def __init__(
        self, in_dim: int, hidden_sizes: tuple[int, ...], activation: str, normalize: bool = False
    ) -> None:
        super().__init__()
        self.in_dim, self.normalize = in_dim, normalize
        self.net = mlp(in_dim, hidden_sizes, activation, 1, out_std=1.0)
        if normalize:
            self.register_buffer("target_mean", torch.zeros((), dtype=torch.float64))
            self.register_buffer("target_var", torch.ones((), dtype=torch.float64))
            self.register_buffer("target_count", torch.tensor(1e-4, dtype=torch.float64))

    def scale(self) -> tuple[float, float]:
        """(μ, σ) of the value targets; (0, 1) without normalisation."""
        if not self.normalize:
            return 0.0, 1.0
        return float(self.target_mean), float(torch.sqrt(self.target_var + 1e-8))

    def update_scale(self, targets: torch.Tensor) -> None:
        """Fold a batch of value targets into μ and σ (:class:`rl.buffers.RunningMeanStd`)."""
        if not self.normalize:
            return
        rms = RunningMeanStd(())
        rms.load_state_dict(
            {"mean": self.target_mean, "var": self.target_var, "count": float(self.target_count)}
        )
        rms.update(targets.double().numpy())
        self.target_mean.fill_(float(rms.mean))
        self.target_var.fill_(float(rms.var))
        self.target_count.fill_(rms.count)

    def normalized(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.scale()
        return self.normalized(x) * std + mean


def group_agents(
    agents: Sequence[str],
    observation_spaces: Mapping[str, spaces.Space[Any]],
    action_spaces: Mapping[str, spaces.Space[Any]],
    share: bool,
) -> list[tuple[str, ...]]:
    """Agents that share an actor: one group per agent, or per distinct (obs, action) space pair."""
    if not share:
        return [(a,) for a in agents]
    groups: list[list[str]] = []
    for a in agents:
        for g in groups:
            if (
                observation_spaces[g[0]] == observation_spaces[a]
                and action_spaces[g[0]] == action_spaces[a]
            ):
                g.append(a)
                break
        else:
            groups.append([a])
    return [tuple(g) for g in groups]


class MultiAgentModel(nn.Module):
    """The actors (one per group of agents) and the critic(s) of a run.

    ``critics[0]`` is the centralised critic V(s) under ``"mappo"``; under ``"ippo"``
    ``critics[g]`` is the critic of actor group ``g`` on its agents' observations.
    """

    def __init__(
        self,
        agents: Sequence[str],
        obs_dims: Mapping[str, int],
        action_spaces: Mapping[str, spaces.Space[Any]],
        groups: Sequence[Sequence[str]],
        variant: str,
        state_dim: int | None,
        hidden_sizes: tuple[int, ...],
        activation: str,
        norm_value: bool = False,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.agents, self.variant = list(agents), variant
        self.groups = [tuple(g) for g in groups]
        self.group_of = {a: g for g, members in enumerate(self.groups) for a in members}
        self.slot = {a: j for members in self.groups for j, a in enumerate(members)}

        def width(g: int) -> int:  # observation, then the one-hot id in a shared group
            size = len(self.groups[g])
            return obs_dims[self.groups[g][0]] + (size if size > 1 else 0)

        self.actors = nn.ModuleList(
            Actor(width(g), action_spaces[m[0]], hidden_sizes, activation, log_std_init)
            for g, m in enumerate(self.groups)
        )
        if variant == "mappo":
            if state_dim is None:
                raise ValueError("the centralised critic needs the state dimension")
            self.critics = nn.ModuleList([Critic(state_dim, hidden_sizes, activation, norm_value)])
        else:
            self.critics = nn.ModuleList(
                Critic(width(g), hidden_sizes, activation, norm_value)
                for g in range(len(self.groups))
            )

    def inputs(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The agent's (normalised) observations, followed by its one-hot id in a shared group."""
        size = len(self.groups[self.group_of[agent]])
        if size == 1:
            return obs
        one_hot = torch.zeros(obs.shape[:-1] + (size,), dtype=obs.dtype)
        one_hot[..., self.slot[agent]] = 1.0
        return torch.cat([obs, one_hot], dim=-1)

    def actor(self, group: int) -> Actor:
        """The actor of agent group *group*."""
        return cast(Actor, self.actors[group])  # the list holds one Actor per group

    def critic(self, index: int) -> Critic:
        """Critic *index* (one team critic for ``"mappo"``, else one per group)."""
        return cast(Critic, self.critics[index])  # the list holds Critics

    def distribution(self, agent: str, obs: torch.Tensor) -> ActionDistribution:
        return self.actor(self.group_of[agent]).distribution(self.inputs(agent, obs))

    def sample(self, agent: str, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self.distribution(agent, obs)
        action = dist.sample()
        return action, dist.log_prob(action)

    def value_keys(self) -> list[str]:
        return [TEAM] if self.variant == "mappo" else list(self.agents)

    def values(
        self, obs: Mapping[str, torch.Tensor], state: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """V(s) under the key "team" (``"mappo"``), or V_k(o_k) under each agent's name."""
        if self.variant == "mappo":
            return {TEAM: self.critics[0](state)}
        return {a: self.critics[self.group_of[a]](self.inputs(a, obs[a])) for a in self.agents}


# -- rollouts ------------------------------------------------------------------------------------


@dataclass
class MultiRollout:
    """``n_steps`` joint steps of ``n_envs`` env copies.

    Per agent: normalised observations, flat actions, log-probabilities and whether the
    action took effect (``acting``; True for agents without decision periods).  Per value
    function (the key ``"team"`` for a centralised critic, the agent names for
    independent critics): values V(s_t) and, on truncated steps, V(final obs); 0
    elsewhere.  ``states`` (normalised global states) only with a centralised critic.
    """

    obs: dict[str, torch.Tensor]  # agent -> (T, N, obs_dim)
    actions: dict[str, torch.Tensor]  # agent -> (T, N, width)
    logprobs: dict[str, torch.Tensor]  # agent -> (T, N)
    acting: dict[str, torch.Tensor]  # agent -> (T, N) bool
    values: dict[str, torch.Tensor]  # key -> (T, N)
    final_values: dict[str, torch.Tensor]  # key -> (T, N)
    states: torch.Tensor | None  # (T, N, state_dim)
    rewards: torch.Tensor  # (T, N) team reward, scaled / normalised
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    dt: torch.Tensor | None = None  # (T, N) float64 infos[agent]["dt"], semi-Markov only

    @classmethod
    def empty(
        cls,
        n_steps: int,
        n_envs: int,
        obs_dims: Mapping[str, int],
        widths: Mapping[str, int],
        value_keys: Sequence[str],
        state_dim: int | None,
        timed: bool = False,
    ) -> MultiRollout:
        z = lambda *shape: torch.zeros(shape, dtype=torch.float32)
        b = lambda: torch.zeros((n_steps, n_envs), dtype=torch.bool)
        return cls(
            {a: z(n_steps, n_envs, d) for a, d in obs_dims.items()},
            {a: z(n_steps, n_envs, w) for a, w in widths.items()},
            {a: z(n_steps, n_envs) for a in obs_dims},
            {a: ~b() for a in obs_dims},
            {k: z(n_steps, n_envs) for k in value_keys},
            {k: z(n_steps, n_envs) for k in value_keys},
            None if state_dim is None else z(n_steps, n_envs, state_dim),
            z(n_steps, n_envs),
            b(),
            b(),
            torch.zeros((n_steps, n_envs), dtype=torch.float64) if timed else None,
        )

    def advantages(
        self,
        last_values: Mapping[str, torch.Tensor],
        gamma: float,
        lam: float,
        last_acting: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """GAE per value function: key -> (advantages, returns), each (T, N).

        *last_values* holds V(observation after the rollout) per key; truncated steps
        bootstrap from ``final_values`` (as :meth:`rl.buffers.Rollout.advantages`).
        With *last_acting* (agent -> the (N,) flags of the step after the rollout), an
        agent's own value function (the keys other than "team") whose agent skipped a
        decision in the rollout gets :func:`decision_gae` over its decisions; every
        other key gets :func:`rl.buffers.compute_gae`.  With ``dt`` recorded (semi-Markov
        discounting) step t is discounted by ``gamma ** dt_t`` in its bootstrap and in the
        recursion, as in :meth:`rl.buffers.Rollout.advantages`.
        """
        discount = gamma if self.dt is None else step_discounts(gamma, self.dt)
        out = {}
        for key, values in self.values.items():
            next_values = torch.cat([values[1:], last_values[key].unsqueeze(0)], dim=0)
            next_values = torch.where(self.truncated, self.final_values[key], next_values)
            if last_acting is not None and key in self.acting:
                next_acting = torch.cat(
                    [self.acting[key][1:], last_acting[key].bool().unsqueeze(0)], dim=0
                )
                if not bool(next_acting.all()):
                    out[key] = decision_gae(
                        self.rewards,
                        values,
                        next_values,
                        self.terminated,
                        self.truncated,
                        next_acting,
                        discount,
                        lam,
                    )
                    continue
            out[key] = compute_gae(
                self.rewards, values, next_values, self.terminated, self.truncated, discount, lam
            )
        return out


class ParallelRunner:
    """``n_envs`` copies of a ParallelEnv and everything that changes while stepping them.

    Parameters
    ----------
    make_env : callable or sequence of callables
        A thunk returning a fresh ParallelEnv (called ``n_envs`` times), or one per copy.
    config : MAPPOConfig
    use_state : bool
        Read ``env.state()`` at every step (for a centralised critic).
    """

    def __init__(
        self,
        make_env: Callable[[], Any] | Sequence[Callable[[], Any]],
        config: MAPPOConfig,
        use_state: bool,
    ) -> None:
        thunks = list(make_env) if isinstance(make_env, Sequence) else [make_env] * config.n_envs
        if len(thunks) != config.n_envs:
            raise ValueError(f"got {len(thunks)} env factories for n_envs(={config.n_envs})")
        self.config, self.use_state = config, use_state
        self.envs = [f() for f in thunks]
        first = self.envs[0]
        self.agents: list[str] = list(first.possible_agents)
        for i, env in enumerate(self.envs[1:], 1):
            if list(env.possible_agents) != self.agents:
                raise ValueError(
                    f"env copy {i} has agents {env.possible_agents}, copy 0 {self.agents}"
                )
        self.observation_spaces = {a: first.observation_space(a) for a in self.agents}
        self.action_spaces = {a: first.action_space(a) for a in self.agents}
        self.layouts = {a: ActionLayout(s) for a, s in self.action_spaces.items()}
        self.obs_dims = {a: int(spaces.flatdim(s)) for a, s in self.observation_spaces.items()}
        self.state_dim: int | None = None
        if use_state:
            space = getattr(first, "state_space", None)
            if space is None:
                raise ValueError("a centralised critic needs env.state() and env.state_space")
            self.state_dim = int(spaces.flatdim(space))
        n = config.n_envs
        self.obs_rms = (
            {a: RunningMeanStd((d,)) for a, d in self.obs_dims.items()} if config.norm_obs else None
        )
        self.state_rms = (
            RunningMeanStd((self.state_dim,))
            if config.norm_obs and self.state_dim is not None
            else None
        )
        self.ret_rms = RunningMeanStd(()) if config.norm_reward else None
        self.discounted_return = np.zeros(n)
        self.episode = [0] * n  # resets done so far per copy (the current episode is episode - 1)
        self.episode_return, self.episode_length = np.zeros(n), np.zeros(n, dtype=np.int64)
        self.episode_actions: list[list[np.ndarray]] = [[] for _ in range(n)]
        self.finished: list[tuple[float, int]] = []  # (team return, length) since the last log row
        self.raw_obs = {a: np.zeros((n, d)) for a, d in self.obs_dims.items()}
        self.raw_state = np.zeros((n, self.state_dim or 0))
        self.next_obs = {a: torch.zeros((n, d)) for a, d in self.obs_dims.items()}
        self.next_state = torch.zeros((n, self.state_dim or 0))
        self.acting = {a: np.ones(n, dtype=bool) for a in self.agents}  # flags of the next step
        mode = config.discount  # "auto": by time on semi-Markov envs (their metadata says so)
        if mode == "auto":
            mode = "time" if dict(getattr(first, "metadata", {})).get("semi_markov") else "step"
        self.timed = mode == "time"

    @property
    def width(self) -> int:
        """Columns of a joint flat action (the agents' flat actions side by side)."""
        return sum(layout.width for layout in self.layouts.values())

    # -- single copies ---------------------------------------------------------------------------
    def _reset(self, i: int) -> tuple[dict[str, np.ndarray], np.ndarray | None, dict[str, bool]]:
        """Start copy *i*'s next episode: (flat observations, state, acting flags)."""
        env = self.envs[i]
        obs, infos = env.reset(seed=episode_seed(self.config.seed, i, self.episode[i]))
        self.episode[i] += 1
        return self._flat(obs), self._state(env), acting_flags(self.agents, infos)

    def _flat(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [a for a in self.agents if a not in obs]
        if missing:
            raise NotImplementedError(
                f"agent(s) {missing} have no observation: every agent must "
                "be present from reset to the end of the episode"
            )
        return {a: flatten_obs(self.observation_spaces[a], obs[a]) for a in self.agents}

    def _state(self, env: Any) -> np.ndarray | None:
        if not self.use_state:
            return None
        return np.asarray(env.state(), dtype=np.float64).reshape(-1)

    def _split(self, row: np.ndarray) -> dict[str, Any]:
        """Env actions of all agents from one joint flat row."""
        out, col = {}, 0
        for a in self.agents:
            layout = self.layouts[a]
            out[a] = layout.to_single(row[col : col + layout.width])
            col += layout.width
        return out

    def _step(
        self, i: int, row: np.ndarray
    ) -> tuple[float, bool, bool, dict[str, Any], dict[str, bool], float]:
        """Step copy *i* with a joint flat action: (team reward, terminated, truncated, obs,
        acting flags of the next step, the step's ``dt``: 1 when untimed)."""
        env = self.envs[i]
        obs, rewards, terminations, truncations, infos = env.step(self._split(row))
        ended = [a for a in self.agents if terminations.get(a, False) or truncations.get(a, False)]
        if ended and (len(ended) < len(self.agents) or env.agents):
            raise NotImplementedError(
                f"only {ended} of {self.agents} ended their episode: agents must leave together"
            )
        terminated = bool(ended) and all(terminations.get(a, False) for a in self.agents)
        reward = float(np.mean([rewards[a] for a in self.agents]))
        dt = 1.0
        if self.timed:
            info = (infos or {}).get(self.agents[0]) or {}
            dt = float(info.get("dt", -1.0))
            if not (dt >= 0):  # also NaN
                raise ValueError(
                    f"discount='time' needs infos[agent]['dt'] >= 0 from every step; env copy "
                    f"{i} gave {info.get('dt')!r} (use discount='step' for an env without it)"
                )
        return (
            reward,
            terminated,
            bool(ended) and not terminated,
            obs,
            acting_flags(self.agents, infos),
            dt,
        )

    def start(self) -> None:
        raw, states = [], []
        for i in range(self.config.n_envs):
            obs, state, acting = self._reset(i)
            raw.append(obs)
            states.append(state)
            self._set_acting(i, acting)
        self._observe(raw, states)

    def _set_acting(self, i: int, acting: Mapping[str, bool]) -> None:
        for a in self.agents:
            self.acting[a][i] = acting[a]

    # -- normalisation ---------------------------------------------------------------------------
    def normalize(self, agent: str, flat: np.ndarray) -> torch.Tensor:
        if self.obs_rms is not None:
            flat = self.obs_rms[agent].normalize(flat, CLIP_OBS)
        return torch.as_tensor(flat, dtype=torch.float32)

    def normalize_state(self, flat: np.ndarray) -> torch.Tensor:
        if self.state_rms is not None:
            flat = self.state_rms.normalize(flat, CLIP_OBS)
        return torch.as_tensor(flat, dtype=torch.float32)

    def _observe(self, raw: list[dict[str, np.ndarray]], states: list[np.ndarray | None]) -> None:
        for a in self.agents:
            self.raw_obs[a] = np.stack([r[a] for r in raw])
            if self.obs_rms is not None:
                self.obs_rms[a].update(self.raw_obs[a])
            self.next_obs[a] = self.normalize(a, self.raw_obs[a])
        if self.use_state:
            self.raw_state = np.stack(cast(list[np.ndarray], states))  # use_state: all arrays
            if self.state_rms is not None:
                self.state_rms.update(self.raw_state)
            self.next_state = self.normalize_state(self.raw_state)

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

    # -- rollouts --------------------------------------------------------------------------------
    @torch.no_grad()
    def collect(self, model: Any, rollout: MultiRollout) -> None:
        """Fill *rollout* with ``n_steps`` joint steps of every copy.

        *model* provides ``sample(agent, obs) -> (flat actions, log-probs)`` and
        ``values(obs: dict, state) -> dict key -> values`` (see :class:`MultiAgentModel`).
        """
        n = self.config.n_envs
        for t in range(self.config.n_steps):
            flat = {}
            for a in self.agents:
                rollout.obs[a][t] = self.next_obs[a]
                rollout.acting[a][t] = torch.as_tensor(self.acting[a])
                action, logprob = model.sample(a, self.next_obs[a])
                rollout.actions[a][t], rollout.logprobs[a][t] = action, logprob
                flat[a] = action.numpy()
            if rollout.states is not None:
                rollout.states[t] = self.next_state
            for key, value in model.values(self.next_obs, self.next_state).items():
                rollout.values[key][t] = value
            joint = np.concatenate([flat[a] for a in self.agents], axis=1)
            reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
            dts = np.ones(n)
            raw: list[dict[str, np.ndarray]] = []
            states: list[np.ndarray | None] = []
            finals: dict[int, tuple[dict[str, np.ndarray], np.ndarray | None]] = {}
            for i in range(n):
                reward[i], terminated[i], truncated[i], obs, acting, dts[i] = self._step(
                    i, joint[i]
                )
                self.episode_actions[i].append(joint[i].copy())
                self.episode_return[i] += reward[i]
                self.episode_length[i] += 1
                if terminated[i] or truncated[i]:
                    if truncated[i]:  # the horizon is not a terminal state: keep what it led to
                        finals[i] = (self._flat(obs), self._state(self.envs[i]))
                    self.finished.append(
                        (float(self.episode_return[i]), int(self.episode_length[i]))
                    )
                    self.episode_return[i], self.episode_length[i] = 0.0, 0
                    self.episode_actions[i] = []
                    obs_i, state_i, acting = self._reset(i)
                else:
                    obs_i, state_i = self._flat(obs), self._state(self.envs[i])
                self._set_acting(i, acting)
                raw.append(obs_i)
                states.append(state_i)
            if finals:
                idx = sorted(finals)
                final_obs = {
                    a: self.normalize(a, np.stack([finals[i][0][a] for i in idx]))
                    for a in self.agents
                }
                final_state = (  # use_state: _state gave arrays
                    self.normalize_state(np.stack([cast(np.ndarray, finals[i][1]) for i in idx]))
                    if self.use_state
                    else None
                )
                for key, value in model.values(final_obs, final_state).items():
                    rollout.final_values[key][t, idx] = value
            done = terminated | truncated
            scaled = self._scale_rewards(reward, done, dts if self.timed else None)
            rollout.rewards[t] = torch.as_tensor(scaled, dtype=torch.float32)
            if rollout.dt is not None:
                rollout.dt[t] = torch.as_tensor(dts, dtype=torch.float64)
            rollout.terminated[t] = torch.as_tensor(terminated)
            rollout.truncated[t] = torch.as_tensor(truncated)
            self._observe(raw, states)

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "acting": {a: torch.from_numpy(v.copy()) for a, v in self.acting.items()},
            "episode": list(self.episode),
            "episode_actions": [
                torch.as_tensor(np.array(a, dtype=np.float32).reshape(-1, self.width))
                for a in self.episode_actions
            ],
            "episode_return": torch.from_numpy(self.episode_return.copy()),
            "episode_length": torch.from_numpy(self.episode_length.copy()),
            "finished": [list(f) for f in self.finished],
            "raw_obs": {a: torch.from_numpy(v.copy()) for a, v in self.raw_obs.items()},
            "raw_state": torch.from_numpy(self.raw_state.copy()),
            "next_obs": {a: v.clone() for a, v in self.next_obs.items()},
            "next_state": self.next_state.clone(),
            "obs_rms": (
                {a: r.state_dict() for a, r in self.obs_rms.items()}
                if self.obs_rms is not None
                else None
            ),
            "state_rms": self.state_rms.state_dict() if self.state_rms is not None else None,
            "ret_rms": self.ret_rms.state_dict() if self.ret_rms is not None else None,
            "discounted_return": torch.from_numpy(self.discounted_return.copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters and rebuild each copy by replaying its current episode."""
        self.episode = [int(e) for e in state["episode"]]
        replayed = True
        for i in range(self.config.n_envs):
            self.episode[i] -= 1
            obs, env_state, acting = self._reset(i)
            for row in state["episode_actions"][i].numpy():
                _, _, _, raw, acting, _ = self._step(i, row)
                obs, env_state = self._flat(raw), self._state(self.envs[i])
            self._set_acting(i, acting)
            replayed &= all(
                np.array_equal(obs[a], state["raw_obs"][a][i].numpy()) for a in self.agents
            )
            if "acting" in state:
                replayed &= all(bool(state["acting"][a][i]) == acting[a] for a in self.agents)
            if self.use_state:  # then _state gave an array
                replayed &= np.array_equal(
                    cast(np.ndarray, env_state), state["raw_state"][i].numpy()
                )
        if not replayed:
            warnings.warn(
                "replaying the checkpointed episodes did not reproduce the saved observations: "
                "the env is not a deterministic function of its reset seed and actions, so the "
                "resumed run will differ from an uninterrupted one",
                RuntimeWarning,
                stacklevel=3,
            )
        if "acting" in state:  # checkpoints before decision periods: the replayed flags
            self.acting = {a: v.numpy().copy() for a, v in state["acting"].items()}
        self.raw_obs = {a: v.numpy().copy() for a, v in state["raw_obs"].items()}
        self.raw_state = state["raw_state"].numpy().copy()
        self.next_obs = {a: v.clone() for a, v in state["next_obs"].items()}
        self.next_state = state["next_state"].clone()
        self.episode_actions = [list(a.numpy()) for a in state["episode_actions"]]
        self.episode_return = state["episode_return"].numpy().copy()
        self.episode_length = state["episode_length"].numpy().copy()
        self.finished = [(float(r), int(k)) for r, k in state["finished"]]
        self.discounted_return = state["discounted_return"].numpy().copy()
        if self.obs_rms is not None:
            for a, r in self.obs_rms.items():
                r.load_state_dict(state["obs_rms"][a])
        if self.state_rms is not None:
            self.state_rms.load_state_dict(state["state_rms"])
        if self.ret_rms is not None:
            self.ret_rms.load_state_dict(state["ret_rms"])

    def close(self) -> None:
        for env in self.envs:
            env.close()
