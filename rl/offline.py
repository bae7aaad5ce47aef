"""Offline baselines and return relabelling on logged trajectories.

* :func:`train_bc` -- behaviour cloning: an MLP from the (normalised) observation, with the
  task's features appended for a multi-task dataset, to the logged action, trained by the
  negative log-likelihood of the same action heads as PPO and the Decision Transformer.
  :func:`top_episodes` keeps the best fraction of episodes by return: *filtered* BC (10 %
  by default, as in Emmons et al. 2022 "RvS").
* :class:`ExpectedReturnLabels` -- returns to go without the luck of demand, for the
  single-stage lost-sales problem, exact from the DP's relative value function.

Why relabel.  A realised return partly measures luck: a good policy hit by high demand
earns a poor return, and a return-conditioned model then learns that "poor return"
goes with good actions (Paster et al. 2022, "You Can't Count on Luck"; Yang et al. 2023,
"Dichotomy of Control").  On the lost-sales model the average-cost Bellman equation
``g* + h*(x) = min_z Q*(x, z)`` with ``Q*(x, z) = c(x_0) + K 1{z > 0} + E h*(x')`` gives
every step a label that does not depend on the demand drawn: ``r~(x, z) = -(g* + A*(x, z))``
with the regret ``A*(x, z) = Q*(x, z) - min Q*(x, .) >= 0``.  Along any trajectory the
realised return equals ``sum r~`` plus a zero-mean noise term (the luck: ``c - E c`` and
``h*(x') - E h*(x')`` at each step) plus ``h*(x_T) - h*(x_0)``; in the long run the mean of
``r~`` under a policy is exactly minus its average cost.  So ``sum r~`` ranks episodes by
the quality of their decisions only, and a target on it asks for a regret, not for luck.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from optimization.lost_sales import LostSalesSolution
from optimization.lost_sales_heuristics import order_grid_costs
from optimization.lost_sales_model import expect_next

from .decision_transformer import OfflineData
from .networks import ActionDistribution, ActionLayout, mlp, space_from_dict, space_to_dict
from .training import seed_run

__all__ = [
    "BCConfig",
    "BCPolicy",
    "ExpectedReturnLabels",
    "load_bc",
    "orders_of",
    "relabel",
    "top_episodes",
    "train_bc",
]


# -- behaviour cloning ------------------------------------------------------------------------
def top_episodes(data: OfflineData, fraction: float = 0.1) -> OfflineData:
    """The best *fraction* of *data*'s episodes by return (at least one): filtered BC's data."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction(={fraction}) must be in (0, 1]")
    count = max(1, math.ceil(fraction * len(data.returns)))
    keep = np.argsort(-data.returns, kind="stable")[:count]
    keep = np.sort(keep)
    return OfflineData(
        [data.observations[i] for i in keep],
        [data.actions[i] for i in keep],
        [data.rewards[i] for i in keep],
        data.action_space,
        None if data.tasks is None else data.tasks[keep],
    )


@dataclass(frozen=True)
class BCConfig:
    """Hyperparameters of behaviour cloning."""

    total_steps: int = 3_000
    batch_size: int = 256
    hidden_sizes: tuple[int, ...] = (128, 128)
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 1
    torch_threads: int = 1

    def __post_init__(self) -> None:
        for name in ("total_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}(={getattr(self, name)}) must be >= 1")


class BCPolicy:
    """An MLP policy with its observation normalisation (``policy(obs)`` -> env action)."""

    def __init__(
        self,
        net: nn.Module,
        layout: ActionLayout,
        log_std: torch.Tensor | None,
        mean: np.ndarray,
        std: np.ndarray,
        task: np.ndarray | None = None,
    ) -> None:
        self.net, self.layout, self.log_std = net.eval(), layout, log_std
        self.mean, self.std, self.task = mean, std, task

    def with_task(self, task: np.ndarray | None) -> BCPolicy:
        """The same policy acting for the task with features *task*."""
        return BCPolicy(
            self.net,
            self.layout,
            self.log_std,
            self.mean,
            self.std,
            None if task is None else np.asarray(task, float),
        )

    def _inputs(self, obs: np.ndarray) -> torch.Tensor:
        x = (np.asarray(obs, dtype=np.float64).reshape(len(obs), -1) - self.mean) / self.std
        if self.task is not None:
            x = np.concatenate([x, np.repeat(self.task[None], len(x), 0)], 1)
        return torch.as_tensor(x, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, obs: Any) -> Any:
        params = self.net(self._inputs(np.asarray(obs)[None]))
        flat = ActionDistribution(self.layout, params, self.log_std).mode().numpy()
        return self.layout.to_single(flat[0])


def train_bc(
    data: OfflineData, config: BCConfig, out: str | os.PathLike[str] | None = None
) -> BCPolicy:
    """Behaviour cloning on every step of *data*; saves ``bc.pt`` in *out* if given."""
    rng = seed_run(config)
    mean, std = data.stats()
    X = (np.concatenate(data.observations).astype(np.float64) - mean) / std
    if data.tasks is not None:
        X = np.concatenate([X, np.repeat(data.tasks, [len(o) for o in data.observations], 0)], 1)
    A = torch.as_tensor(np.concatenate(data.actions), dtype=torch.float32)
    X_t = torch.as_tensor(X, dtype=torch.float32)
    layout = ActionLayout(data.action_space)
    net = mlp(X.shape[1], tuple(config.hidden_sizes), "relu", layout.n_params, out_std=0.01)
    log_std = nn.Parameter(torch.zeros(layout.box_dims)) if layout.box_dims else None
    params = list(net.parameters()) + ([log_std] if log_std is not None else [])
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    for _ in range(config.total_steps):
        idx = torch.as_tensor(rng.integers(0, len(X_t), config.batch_size))
        dist = ActionDistribution(layout, net(X_t[idx]), log_std)
        loss = -dist.log_prob(A[idx]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy = BCPolicy(net, layout, None if log_std is None else log_std.detach(), mean, std)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "net": net.state_dict(),
                "log_std": policy.log_std,
                "config": asdict(config),
                "mean": mean.tolist(),
                "std": std.tolist(),
                "in_dim": int(X.shape[1]),
                "action_space": space_to_dict(data.action_space),
            },
            Path(out) / "bc.pt",
        )
    return policy


def load_bc(path: str | os.PathLike[str]) -> BCPolicy:
    """The policy :func:`train_bc` saved (a folder with ``bc.pt``, or the file)."""
    path = Path(path)
    state = torch.load(path / "bc.pt" if path.is_dir() else path, weights_only=True)
    saved: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in state["config"].items()
    }
    config = BCConfig(**saved)
    layout = ActionLayout(space_from_dict(state["action_space"]))
    net = mlp(int(state["in_dim"]), tuple(config.hidden_sizes), "relu", layout.n_params, 0.01)
    net.load_state_dict(state["net"])
    return BCPolicy(
        net, layout, state["log_std"], np.asarray(state["mean"]), np.asarray(state["std"])
    )


# -- expected-return relabelling ----------------------------------------------------------------
class ExpectedReturnLabels:
    """Luck-free step labels ``r~(x, z) = -(g* + A*(x, z))`` on the single-stage lost-sales
    problem of *solution* (see the module docstring), for a dataset env in
    ``action_mode="quantity"`` (the action is the order, in units or on [-1, 1]).

    ``x = (on hand, pipeline[1..L-1])`` is read from the observation by name (node *node*);
    states outside the DP's truncated grid are clipped onto it, and an order past the
    grid's position cap gets the regret of the largest order the grid holds there.
    """

    def __init__(self, solution: LostSalesSolution, *, node: str = "stage") -> None:
        if solution.values is None:
            raise ValueError("the solution carries no value function (solve_lost_sales sets it)")
        model, trunc = solution.model, solution.truncation
        if model.lead_time < 1:
            raise ValueError("expected-return labels need lead_time >= 1")
        S, Z, L = trunc.max_position, trunc.max_order, model.lead_time
        M, c = model.outcomes(S + 1), model.period_cost(S + 1)
        q = expect_next(solution.values, M, Z).reshape(S + 1, (Z + 1) ** (L - 1), Z + 1)
        q = q + order_grid_costs(model, trunc) + c[:, None, None]
        with np.errstate(invalid="ignore"):  # inf - inf where no order fits the grid
            regret = q - q.min(axis=2, keepdims=True)
        # orders past the grid: the regret of the largest feasible order (a lower bound)
        feasible = np.isfinite(regret)
        last = np.where(feasible, np.arange(Z + 1), -1).max(axis=2, keepdims=True)
        fill = np.take_along_axis(np.where(feasible, regret, 0.0), np.maximum(last, 0), axis=2)
        self.regret = np.where(feasible, regret, fill)
        self.g = float(solution.average_cost)
        self.node, self.L, self.S, self.Z = node, L, S, Z

    def reward(self, on_hand: float, pipeline: Sequence[float], order: float) -> float:
        """The label of ordering *order* with *on_hand* and *pipeline* (next L-1 arrivals)."""
        x0 = min(max(int(round(on_hand)), 0), self.S)
        rest = [min(max(int(round(v)), 0), self.Z) for v in list(pipeline)[: self.L - 1]]
        rest += [0] * (self.L - 1 - len(rest))
        r = int(np.ravel_multi_index(tuple(rest), (self.Z + 1,) * (self.L - 1))) if rest else 0
        z = min(max(int(round(order)), 0), self.Z)
        return -(self.g + float(self.regret[x0, r, z]))

    def episode_rewards(
        self, observations: np.ndarray, orders: np.ndarray, observation_names: Sequence[str]
    ) -> np.ndarray:
        """Labels of a logged episode: *observations* (T, d) named *observation_names*,
        *orders* (T,) in units."""
        names = list(observation_names)
        col = names.index(f"{self.node}.on_hand")
        pipe = [names.index(f"{self.node}.pipeline[{k}]") for k in range(1, self.L)]
        return np.array(
            [self.reward(o[col], [o[j] for j in pipe], q) for o, q in zip(observations, orders)]
        )

    def step(self, env: gym.Env, action: Any) -> float:
        """The label of *action* at *env*'s pending epoch (``label`` of
        :func:`rl.decision_transformer.rollout`)."""
        base: Any = env.unwrapped  # an InventoryEnv
        view = base.view
        orders, _ = base.decode_action(action)
        return self.reward(
            view.on_hand(self.node),
            view.pipeline(self.node, self.L - 1),
            orders.get(self.node, 0.0),
        )


def orders_of(env: gym.Env, actions: np.ndarray) -> np.ndarray:
    """Order quantities (units) of logged ``"quantity"`` actions of a one-node env."""
    base: Any = env.unwrapped  # an InventoryEnv
    node = base.layout.nodes[0]
    a = np.asarray(actions, dtype=float).reshape(len(actions), -1)[:, 0]
    return a if base.discrete else (np.clip(a, -1, 1) + 1.0) * 0.5 * node.max_order


def relabel(
    episodes: Sequence[Any], labels: ExpectedReturnLabels, env: gym.Env
) -> Callable[[Any], np.ndarray]:
    """``rewards(ep)`` for :meth:`OfflineData.from_episodes`: the episodes' expected-return
    labels, read with *env*'s observation names and action encoding."""
    base: Any = env.unwrapped  # an InventoryEnv
    names = base.observation_names
    cache = {
        id(ep): labels.episode_rewards(ep.observations, orders_of(env, ep.actions), names)
        for ep in episodes
    }
    return lambda ep: cache[id(ep)]
