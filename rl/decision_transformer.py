"""A Decision Transformer (Chen et al. 2021) on ``torch.nn``, trained on logged trajectories.

The model reads, for each of the last ``K`` decision epochs, three tokens: the return to go
``R_t`` (scaled, see below), the state ``s_t`` (normalised by the data's
mean and standard deviation, with the task's features appended for a multi-task model) and
the action ``a_t`` (Box components as they are, categorical components one-hot).  Each token
gets the embedding of its period ``t``; a causal transformer (GPT-style, pre-norm) runs over
the ``3K`` tokens and the output at ``s_t`` gives the distribution of ``a_t`` through the
same action heads as PPO (:class:`rl.networks.ActionDistribution`: Gaussian for Box,
categorical for Discrete / MultiDiscrete, leaves side by side for Dict / Tuple).  Training
minimises the negative log-likelihood of the logged actions on random windows of ``K``
epochs; a rollout conditions on a target return and lowers it by each reward received.

Return tokens (:class:`DTConfig`).  ``return_horizon = 0`` and ``return_token = "sum"`` is
the original DT: ``R_t`` is the sum of the rewards to the end of the episode, divided by a
fixed scale.  Over long inventory episodes that sum is dominated by the time left and by the
luck of demand, and the differences between good and fair behaviour (a few % per period)
vanish in it; ``"average"`` conditions on the mean reward per epoch over what is left
(standardised over the data), and ``return_horizon = H`` on the mean over the next ``H``
epochs only (fewer at the end), which a rollout holds at the target.  Targets are always
given as a mean reward per epoch over the episode (minus the cost per period, or the
profit), so achieved and asked-for returns are read on one scale.

Entry points: :func:`train_dt` (progress bar, ``progress.csv``, ``learning_curve.png``,
``checkpoint.pt`` that resumes exactly), :func:`load_dt`, :func:`rollout` (a batch of
episodes in lockstep, common random numbers with ``des_supply.evaluate.simulate``) and
:func:`choose_target` (the target return, picked on validation seeds).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from tqdm.auto import tqdm

from .networks import ActionDistribution, ActionLayout, space_from_dict, space_to_dict
from .training import (
    ProgressLog,
    load_checkpoint,
    read_csv,
    restore_rngs,
    rng_states,
    save_checkpoint,
    seed_run,
    versions,
)

__all__ = [
    "DTConfig",
    "DTPolicy",
    "DecisionTransformer",
    "OfflineData",
    "RolloutResult",
    "TrainResult",
    "choose_target",
    "flatten_actions",
    "load_dt",
    "plot_loss_curve",
    "rollout",
    "train_dt",
]

_COLUMNS = ("global_step", "loss", "learning_rate", "sps")


# -- actions as flat rows ---------------------------------------------------------------------
def flatten_actions(space: spaces.Space, actions: Any) -> np.ndarray:
    """Env actions (a batch, as Minari stores them) as flat rows ``(T, width)``: the inverse of
    :meth:`rl.networks.ActionLayout.to_env` (Box back to [-1, 1], indices from 0)."""
    if isinstance(space, spaces.Box):
        a = np.asarray(actions, dtype=np.float64).reshape(len(actions), -1)
        low, high = space.low.reshape(-1).astype(float), space.high.reshape(-1).astype(float)
        finite = np.isfinite(low) & np.isfinite(high)
        span = np.where(finite, high - low, 1.0)
        return np.where(finite, 2.0 * (a - np.where(finite, low, 0.0)) / span - 1.0, a)
    if isinstance(space, spaces.Discrete):
        return (np.asarray(actions, dtype=np.int64).reshape(-1, 1) - int(space.start)).astype(float)
    if isinstance(space, spaces.MultiDiscrete):
        idx = np.asarray(actions, dtype=np.int64).reshape(len(actions), -1)
        return (idx - space.start.reshape(-1)).astype(float)
    if isinstance(space, spaces.MultiBinary):
        return np.asarray(actions, dtype=float).reshape(len(actions), -1)
    if isinstance(space, spaces.Dict):
        return np.concatenate(
            [flatten_actions(sub, actions[k]) for k, sub in space.spaces.items()], axis=1
        )
    if isinstance(space, spaces.Tuple):
        return np.concatenate(
            [flatten_actions(sub, actions[i]) for i, sub in enumerate(space.spaces)], axis=1
        )
    raise TypeError(f"action space {space} is not supported")


def _encode(layout: ActionLayout, flat: torch.Tensor) -> torch.Tensor:
    """Action-token inputs ``(..., n_params)``: Box columns as they are, one-hot categories."""
    parts, col = [], 0
    for leaf in layout.leaves:
        if leaf.is_box:
            parts.append(flat[..., col : col + leaf.width])
        else:
            for j, k in enumerate(leaf.categories):
                idx = flat[..., col + j].long().clamp(0, k - 1)
                parts.append(nn.functional.one_hot(idx, k).to(flat.dtype))
        col += leaf.width
    return torch.cat(parts, dim=-1)


# -- the data -----------------------------------------------------------------------------------
@dataclass
class OfflineData:
    """Episodes as arrays: observations, flat actions, the rewards the returns to go are summed
    from (the env's, or relabelled ones), optional task features per episode."""

    observations: list[np.ndarray]  # each (T_i, obs_dim)
    actions: list[np.ndarray]  # each (T_i, width), flat
    rewards: list[np.ndarray]  # each (T_i,)
    action_space: spaces.Space
    tasks: np.ndarray | None = None  # (episodes, task_dim)
    returns_to_go: list[np.ndarray] = field(init=False)
    tokens: list[np.ndarray] = field(init=False)  # what the return token is built from

    def __post_init__(self) -> None:
        n = len(self.observations)
        if n == 0:
            raise ValueError("no episodes")
        if not (len(self.actions) == len(self.rewards) == n):
            raise ValueError("observations, actions and rewards need one entry per episode")
        for i, (o, a, r) in enumerate(zip(self.observations, self.actions, self.rewards)):
            if not (len(o) == len(a) == len(r)):
                raise ValueError(
                    f"episode {i}: {len(o)} observations, {len(a)} actions, {len(r)} rewards"
                )
        if self.tasks is not None and len(self.tasks) != n:
            raise ValueError(f"tasks has {len(self.tasks)} rows for {n} episodes")
        self.returns_to_go = [np.cumsum(r[::-1])[::-1].astype(np.float64) for r in self.rewards]
        self.tokens = self.returns_to_go

    def use_tokens(self, horizon: int, kind: str) -> None:
        """Build the return tokens: the sum (*kind* ``"sum"``) or the mean (``"average"``) of
        the rewards to the end (*horizon* 0) or over the next *horizon* epochs."""
        if kind not in ("sum", "average"):
            raise ValueError(f"return_token(={kind!r}) must be 'sum' or 'average'")
        out = []
        for r in self.rewards:
            T = len(r)
            c = np.concatenate([[0.0], np.cumsum(r, dtype=np.float64)])
            end = np.full(T, T) if horizon == 0 else np.minimum(np.arange(T) + horizon, T)
            total = c[end] - c[:T]
            out.append(total if kind == "sum" else total / (end - np.arange(T)))
        self.tokens = out

    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[Any],
        action_space: spaces.Space,
        rewards: Callable[[Any], np.ndarray] | None = None,
        tasks: Callable[[Any], np.ndarray] | None = None,
    ) -> OfflineData:
        """From :class:`rl.trajectories.Episode` objects; *rewards(ep)* relabels an episode's
        rewards (default: the logged ones), *tasks(ep)* gives its task features."""
        return cls(
            [e.observations.astype(np.float32) for e in episodes],
            [flatten_actions(action_space, e.actions).astype(np.float32) for e in episodes],
            [np.asarray(rewards(e) if rewards else e.rewards, dtype=float) for e in episodes],
            action_space,
            None if tasks is None else np.stack([np.asarray(tasks(e), float) for e in episodes]),
        )

    @property
    def returns(self) -> np.ndarray:
        return np.array([g[0] for g in self.returns_to_go])

    def fingerprint(self) -> list[float]:
        """A few numbers that change with the data (a resumed run checks them)."""
        return [
            float(len(self.observations)),
            float(sum(len(o) for o in self.observations)),
            round(float(self.returns.sum()), 6),
            round(float(sum(float(o.sum()) for o in self.observations)), 3),
        ]

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the observations (std 1 where constant)."""
        allobs = np.concatenate(self.observations).astype(np.float64)
        std = allobs.std(axis=0)
        return allobs.mean(axis=0), np.where(std > 1e-8, std, 1.0)

    def sample(
        self, rng: np.random.Generator, batch: int, context: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """*batch* windows of *context* epochs: (rtg, obs, flat actions, timesteps, task rows).
        Episodes are drawn in proportion to their length, then a window start uniformly."""
        lengths = np.array([len(o) for o in self.observations])
        eps = rng.choice(len(lengths), size=batch, p=lengths / lengths.sum())
        starts = rng.integers(0, lengths[eps] - context + 1)
        sl = [slice(s, s + context) for s in starts]
        rtg = np.stack([self.tokens[e][s] for e, s in zip(eps, sl)])
        obs = np.stack([self.observations[e][s] for e, s in zip(eps, sl)])
        act = np.stack([self.actions[e][s] for e, s in zip(eps, sl)])
        ts = np.stack([np.arange(s.start, s.stop) for s in sl])
        task = self.tasks[eps] if self.tasks is not None else None
        return rtg, obs, act, ts, task


# -- the model ----------------------------------------------------------------------------------
class DecisionTransformer(nn.Module):
    """Return-to-go / state / action tokens, timestep embeddings, a causal transformer and
    action heads for *action_space* (see the module docstring)."""

    def __init__(
        self,
        obs_dim: int,
        action_space: spaces.Space,
        *,
        task_dim: int = 0,
        context: int = 20,
        max_timestep: int = 1000,
        embed_dim: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if embed_dim % n_heads:
            raise ValueError(f"embed_dim(={embed_dim}) must be a multiple of n_heads(={n_heads})")
        self.layout = ActionLayout(action_space)
        self.context, self.max_timestep = int(context), int(max_timestep)
        self.embed_time = nn.Embedding(self.max_timestep, embed_dim)
        self.embed_return = nn.Linear(1, embed_dim)
        self.embed_state = nn.Linear(obs_dim + task_dim, embed_dim)
        self.embed_action = nn.Linear(self.layout.n_params, embed_dim)
        self.embed_norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            embed_dim,
            n_heads,
            4 * embed_dim,
            dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, self.layout.n_params)
        self.log_std = (
            nn.Parameter(torch.zeros(self.layout.box_dims)) if self.layout.box_dims else None
        )

    def forward(
        self,
        rtg: torch.Tensor,
        states: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> torch.Tensor:
        """Action-head outputs at every state token, shape (B, n, n_params).

        *rtg* (B, n, 1) scaled returns to go; *states* (B, n, obs_dim + task_dim) normalised;
        *actions* (B, n, width) flat (the last one may be anything: no state token sees it);
        *timesteps* (B, n) periods."""
        B, n = states.shape[:2]
        time_emb = self.embed_time(timesteps.clamp(0, self.max_timestep - 1))
        tokens = torch.stack(
            [
                self.embed_return(rtg) + time_emb,
                self.embed_state(states) + time_emb,
                self.embed_action(_encode(self.layout, actions)) + time_emb,
            ],
            dim=2,
        )
        x = self.dropout(self.embed_norm(tokens.reshape(B, 3 * n, -1)))
        mask = nn.Transformer.generate_square_subsequent_mask(3 * n, dtype=x.dtype)
        h = self.final_norm(self.blocks(x, mask=mask, is_causal=True))
        return self.head(h[:, 1::3])

    def distribution(self, params: torch.Tensor) -> ActionDistribution:
        """The action distribution of head outputs *params* (rows of n_params)."""
        return ActionDistribution(self.layout, params, self.log_std)


# -- training -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DTConfig:
    """Hyperparameters of a Decision Transformer run."""

    total_steps: int = 5_000
    """gradient steps"""
    batch_size: int = 64
    context: int = 20
    """K: decision epochs in the model's window"""
    embed_dim: int = 64
    n_layers: int = 3
    n_heads: int = 4
    dropout: float = 0.1
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    """linear learning-rate warm-up, then constant (as in the DT paper)"""
    grad_clip: float = 0.25
    return_horizon: int = 0
    """epochs a return token sums over: 0 = to the end of the episode, H = the next H"""
    return_token: str = "sum"
    """"sum" (the original DT) or "average" (mean reward per epoch over the same epochs)"""
    return_scale: float = 0.0
    """sum tokens are divided by this; 0: the data's mean absolute episode return (average
    tokens are standardised by the data's mean and standard deviation)"""
    log_interval: int = 100
    checkpoint_interval: int = 1_000
    seed: int = 1
    torch_threads: int = 1
    """torch CPU threads (0: leave torch's default)"""

    def __post_init__(self) -> None:
        for name in (
            "total_steps",
            "batch_size",
            "context",
            "embed_dim",
            "n_layers",
            "n_heads",
            "log_interval",
            "checkpoint_interval",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}(={getattr(self, name)}) must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout(={self.dropout}) must be in [0, 1)")
        if self.return_horizon < 0:
            raise ValueError(f"return_horizon(={self.return_horizon}) must be >= 0 (0: to the end)")
        if self.return_token not in ("sum", "average"):
            raise ValueError(f"return_token(={self.return_token!r}) must be 'sum' or 'average'")
        if self.return_scale < 0:
            raise ValueError(f"return_scale(={self.return_scale}) must be >= 0 (0: from the data)")


@dataclass
class TrainResult:
    """What :func:`train_dt` leaves: the model as a policy, the step reached, the loss curve."""

    policy: DTPolicy
    global_step: int
    history: list[dict[str, float]]


def _model(
    config: DTConfig, obs_dim: int, task_dim: int, space: spaces.Space, max_timestep: int
) -> DecisionTransformer:
    return DecisionTransformer(
        obs_dim,
        space,
        task_dim=task_dim,
        context=config.context,
        max_timestep=max_timestep,
        embed_dim=config.embed_dim,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        dropout=config.dropout,
    )


def _batch(
    data: OfflineData,
    rng: np.random.Generator,
    config: DTConfig,
    mean: np.ndarray,
    std: np.ndarray,
    shift: float,
    scale: float,
) -> tuple[torch.Tensor, ...]:
    rtg, obs, act, ts, task = data.sample(rng, config.batch_size, config.context)
    states = (obs - mean) / std
    if task is not None:
        states = np.concatenate([states, np.repeat(task[:, None, :], states.shape[1], 1)], -1)
    return (
        torch.as_tensor((rtg[..., None] - shift) / scale, dtype=torch.float32),
        torch.as_tensor(states, dtype=torch.float32),
        torch.as_tensor(act),
        torch.as_tensor(ts, dtype=torch.long),
    )


def _loss(model: DecisionTransformer, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    rtg, states, actions, ts = batch
    params = model(rtg, states, actions, ts)
    flat_params = params.reshape(-1, params.shape[-1])
    return -model.distribution(flat_params).log_prob(actions.reshape(-1, actions.shape[-1])).mean()


def train_dt(
    data: OfflineData,
    config: DTConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Train a Decision Transformer on *data*; files go to *out*.

    Writes ``checkpoint.pt`` every ``checkpoint_interval`` steps and at the end (model,
    optimiser, both random generators, the normalisation, the configuration and *extra*,
    e.g. how to rebuild the env), ``progress.csv`` (mean training loss every
    ``log_interval`` steps) and ``learning_curve.png``.  With *resume* the run continues
    from ``out/checkpoint.pt`` and ends exactly where an uninterrupted run would (same
    weights); the data must be the same (checked) and ``total_steps`` may be raised.
    A progress bar shows when *progress* (on stderr, also when it is not a terminal).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config, checkpoint = load_checkpoint(resume, out, DTConfig, config)
    assert config is not None
    shortest = min(len(o) for o in data.observations)
    if shortest < config.context:
        raise ValueError(
            f"context(={config.context}) is longer than the shortest episode "
            f"({shortest} epochs); lower context or collect longer episodes"
        )
    rng = seed_run(config)
    mean, std = data.stats()
    data.use_tokens(config.return_horizon, config.return_token)
    if config.return_token == "sum":
        shift, scale = 0.0, config.return_scale or float(np.mean(np.abs(data.returns))) or 1.0
    else:
        every = np.concatenate(data.tokens)
        shift, scale = float(every.mean()), float(every.std()) or 1.0
    task_dim = 0 if data.tasks is None else data.tasks.shape[1]
    max_timestep = max(len(o) for o in data.observations)
    model = _model(config, data.observations[0].shape[1], task_dim, data.action_space, max_timestep)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    step, history = 0, []
    if checkpoint is not None:
        if checkpoint["data"] != data.fingerprint():
            raise ValueError(
                f"cannot resume {out}: the data differ from the run's "
                f"({checkpoint['data']} vs {data.fingerprint()})"
            )
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        restore_rngs(checkpoint, rng)
        step = int(checkpoint["global_step"])
        history = [r for r in read_csv(out / "progress.csv") if r["global_step"] <= step]
    log = ProgressLog(out, _COLUMNS, step if checkpoint is not None else None)
    meta = {
        "obs_mean": mean.tolist(),
        "obs_std": std.tolist(),
        "return_scale": scale,
        "return_shift": shift,
        "task_dim": task_dim,
        "max_timestep": max_timestep,
        "obs_dim": int(data.observations[0].shape[1]),
        "action_space": space_to_dict(data.action_space),
        "data_returns": [
            float(data.returns.min()),
            float(np.median(data.returns)),
            float(data.returns.max()),
        ],
        "extra": json.dumps(extra or {}, default=str),
    }

    def save() -> None:
        save_checkpoint(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "config": asdict(config),
                "global_step": step,
                "meta": meta,
                "data": data.fingerprint(),
                "versions": versions(),
                **rng_states(rng),
            },
            out,
        )

    bar = tqdm(
        total=config.total_steps,
        initial=step,
        desc="train DT",
        disable=not progress,
        unit="step",
        dynamic_ncols=True,
    )
    model.train()
    losses: list[float] = []
    t0 = time.perf_counter()
    while step < config.total_steps:
        lr = config.learning_rate * min(1.0, (step + 1) / max(config.warmup_steps, 1))
        for g in optimizer.param_groups:
            g["lr"] = lr
        loss = _loss(model, _batch(data, rng, config, mean, std, shift, scale))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        bar.update()
        if step % config.log_interval == 0 or step == config.total_steps:
            row = {
                "global_step": float(step),
                "loss": float(np.mean(losses)),
                "learning_rate": lr,
                "sps": len(losses) / max(time.perf_counter() - t0, 1e-9),
            }
            history.append(row)
            log.write(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}")
            losses, t0 = [], time.perf_counter()
        if step % config.checkpoint_interval == 0 and step < config.total_steps:
            save()
    bar.close()
    log.close()
    save()
    plot_loss_curve(history, out / "learning_curve.png")
    model.eval()
    return TrainResult(DTPolicy(model, meta, config), step, history)


def plot_loss_curve(history: list[dict[str, float]], path: Path) -> None:
    """Training loss (negative log-likelihood of the logged actions) against gradient steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if history:
        ax.plot([r["global_step"] for r in history], [r["loss"] for r in history])
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("training loss (action NLL)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# -- acting ---------------------------------------------------------------------------------------
class DTPolicy:
    """A trained Decision Transformer with its normalisation and return scale."""

    def __init__(self, model: DecisionTransformer, meta: dict[str, Any], config: DTConfig) -> None:
        self.model, self.meta, self.config = model.eval(), meta, config
        self.mean = np.asarray(meta["obs_mean"], dtype=np.float64)
        self.std = np.asarray(meta["obs_std"], dtype=np.float64)
        self.shift, self.scale = float(meta.get("return_shift", 0.0)), float(meta["return_scale"])
        self.layout = model.layout

    @property
    def extra(self) -> dict[str, Any]:
        return json.loads(self.meta.get("extra", "{}"))

    @torch.no_grad()
    def act(
        self,
        rtg: np.ndarray,
        obs: np.ndarray,
        actions: np.ndarray,
        timesteps: np.ndarray,
        task: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> np.ndarray:
        """Flat actions for a batch of histories (B, n, ...): the last ``K`` epochs are used."""
        K = self.model.context
        rtg, obs, actions, timesteps = rtg[:, -K:], obs[:, -K:], actions[:, -K:], timesteps[:, -K:]
        states = (obs - self.mean) / self.std
        if task is not None:
            states = np.concatenate(
                [states, np.repeat(np.asarray(task)[:, None, :], states.shape[1], 1)], -1
            )
        params = self.model(
            torch.as_tensor((rtg[..., None] - self.shift) / self.scale, dtype=torch.float32),
            torch.as_tensor(states, dtype=torch.float32),
            torch.as_tensor(actions, dtype=torch.float32),
            torch.as_tensor(timesteps, dtype=torch.long),
        )
        dist = self.model.distribution(params[:, -1])
        return (dist.mode() if deterministic else dist.sample()).numpy()


def load_dt(path: str | os.PathLike[str]) -> DTPolicy:
    """The Decision Transformer saved by :func:`train_dt` in *path* (a folder or a file)."""
    path = Path(path)
    state = torch.load(path / "checkpoint.pt" if path.is_dir() else path, weights_only=True)
    config, meta = DTConfig(**state["config"]), state["meta"]
    model = _model(
        config,
        int(meta["obs_dim"]),
        int(meta["task_dim"]),
        space_from_dict(meta["action_space"]),
        int(meta["max_timestep"]),
    )
    model.load_state_dict(state["model"])
    return DTPolicy(model, meta, config)


@dataclass(frozen=True)
class RolloutResult:
    """Episodes of a rollout: mean cost (or profit) per period, the return of the env's
    rewards, the return the model was conditioned on (env rewards, or relabelled ones), and
    the target (a mean reward per epoch)."""

    per_episode: np.ndarray  # mean cost (profit) per period, as rl.evaluation reports it
    returns: np.ndarray  # sum of env rewards
    conditioned_returns: np.ndarray  # sum of the rewards the return tokens were built from
    epochs: int
    target: float

    @property
    def achieved(self) -> float:
        """Mean conditioned reward per epoch: what the target asked for."""
        return float(self.conditioned_returns.mean() / max(self.epochs, 1))


def _token(policy: DTPolicy, target: float, collected: np.ndarray, t: int, T: int) -> np.ndarray:
    """Return tokens at epoch *t* of *T* after *collected* (per episode) for a per-epoch target."""
    H, kind = policy.config.return_horizon, policy.config.return_token
    if H == 0:
        left = target * T - collected
        return left if kind == "sum" else left / max(T - t, 1)
    return np.full_like(collected, target * (min(H, T - t) if kind == "sum" else 1.0))


def rollout(
    policy: DTPolicy,
    make_env: Callable[[], gym.Env],
    target: float,
    *,
    seed: int,
    episodes: int,
    task: np.ndarray | None = None,
    label: Callable[[Any, Any], float] | None = None,
    first_episode: int = 0,
) -> RolloutResult:
    """Run *policy* on episodes ``first_episode ..`` of seed *seed*, all in lockstep, asking
    for a mean reward of *target* per epoch (minus a cost per period, or a profit).

    Episode *k* is ``env.reset(seed=seed, options={"episode": k})``: replication *k* of
    ``simulate(..., seed=seed)`` (common random numbers).  The return tokens follow from the
    target and the rewards received so far (see the module docstring), or the labels
    ``label(env, action)`` (called before the step, with the pending epoch in
    ``env.unwrapped.view``) when the model was trained on relabelled returns.  An episode
    has ``env.unwrapped.periods`` epochs (one decision per period)."""
    if episodes < 1:
        raise ValueError(f"episodes(={episodes}) must be >= 1")
    envs = [make_env() for _ in range(episodes)]
    base: Any = envs[0].unwrapped  # a des_supply env: its engine is base.sim
    objective = base.sim.objective
    T = int(base.periods)
    obs = [
        env.reset(seed=seed, options={"episode": first_episode + k})[0]
        for k, env in enumerate(envs)
    ]
    width = policy.layout.width
    cost, revenue, periods = np.zeros(episodes), np.zeros(episodes), np.zeros(episodes)
    returns, seen = np.zeros(episodes), np.zeros(episodes)
    hist_obs = [np.asarray(obs, dtype=np.float64)]
    hist_rtg = [_token(policy, target, seen, 0, T)]
    hist_act: list[np.ndarray] = []
    tasks = None if task is None else np.repeat(np.asarray(task, float)[None], episodes, 0)
    done, t = False, 0
    while not done:
        K = policy.model.context
        lo = max(0, len(hist_obs) - K)
        acts = np.stack(hist_act[lo:] + [np.zeros((episodes, width))], 1)
        flat = policy.act(
            np.stack(hist_rtg[lo:], 1),
            np.stack(hist_obs[lo:], 1),
            acts,
            np.tile(np.arange(lo, len(hist_obs)), (episodes, 1)),
            tasks,
        )
        new_obs = []
        for i, env in enumerate(envs):
            action = policy.layout.to_single(flat[i])
            lab = None if label is None else label(env, action)
            o, r, terminated, truncated, info = env.step(action)
            cost[i] += info["cost"]["total"]
            revenue[i] += info["revenue"]
            periods[i] += info["dt"]
            returns[i] += r
            seen[i] += r if lab is None else lab
            new_obs.append(o)
            done = terminated or truncated
        t += 1
        hist_act.append(flat.astype(np.float64))
        hist_obs.append(np.asarray(new_obs, dtype=np.float64))
        hist_rtg.append(_token(policy, target, seen, t, T))
    values = (cost if objective == "cost" else revenue - cost) / np.maximum(periods, 1)
    return RolloutResult(values, returns, seen, t, float(target))


def choose_target(
    policy: DTPolicy,
    make_env: Callable[[], gym.Env],
    candidates: Sequence[float],
    *,
    seed: int,
    episodes: int,
    task: np.ndarray | None = None,
    label: Callable[[Any, Any], float] | None = None,
) -> tuple[float, dict[float, float]]:
    """The candidate target with the best mean value on validation episodes (seed *seed*,
    which must not be a test seed), and every candidate's mean value per period."""
    if not candidates:
        raise ValueError("no candidate targets")
    scores: dict[float, float] = {}
    base: Any = make_env().unwrapped  # a des_supply env: its engine is base.sim
    sign = -1.0 if base.sim.objective == "cost" else 1.0
    for target in candidates:
        res = rollout(
            policy, make_env, float(target), seed=seed, episodes=episodes, task=task, label=label
        )
        scores[float(target)] = float(res.per_episode.mean())
    best = max(scores, key=lambda k: sign * scores[k])
    return best, scores
