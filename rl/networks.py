"""Actor-critic networks for PPO over Gymnasium action spaces.

The agent follows CleanRL (``ppo.py``, ``ppo_continuous_action.py``,
``ppo_multidiscrete.py``): separate actor and critic MLPs with orthogonal
initialisation, gain 0.01 on the policy output and 1 on the value output.

An action space is cut into *leaves*, visited depth first through ``Tuple`` and
``Dict`` (in the order of ``space.spaces``):

=============  ===========================================  ==================
leaf           distribution                                 flat columns
=============  ===========================================  ==================
Box            diagonal Gaussian, state-independent log-std  one per dimension
Discrete       categorical                                  1 (the index)
MultiDiscrete  one categorical per component                one per component
MultiBinary    one two-way categorical per bit              one per bit
=============  ===========================================  ==================

The agent works on *flat actions*: one float32 row per sample, the columns of
the leaves side by side. Log-probabilities and entropies of a composite space
are sums over its leaves. :meth:`ActionLayout.to_env` turns flat rows into the
batched action that a Gymnasium vector env expects.

**Box actions are sampled unbounded and clipped**, not tanh-squashed. The
Gaussian lives in a unit scale: a sample *u* is clipped to [-1, 1] and mapped
affinely onto [low, high] on each dimension where both bounds are finite
(dimensions with an infinite bound are only clipped to their bounds). The PPO
ratio uses the density of the unclipped *u*, as in CleanRL; no Jacobian term
is needed, and the deterministic action is the clipped mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Normal

__all__ = [
    "ActionDistribution",
    "ActionLayout",
    "Agent",
    "layer_init",
    "space_from_dict",
    "space_to_dict",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def layer_init(
    layer: nn.Linear, std: float = float(np.sqrt(2)), bias_const: float = 0.0
) -> nn.Linear:
    """Orthogonal weights with gain *std* and constant bias (CleanRL's ``layer_init``)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def mlp(
    in_dim: int, hidden_sizes: tuple[int, ...], activation: str, out_dim: int, out_std: float
) -> nn.Sequential:
    """Hidden layers with gain sqrt(2), then a linear output layer with gain *out_std*."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation(={activation!r}) must be one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for size in hidden_sizes:
        layers += [layer_init(nn.Linear(in_dim, size)), ACTIVATIONS[activation]()]
        in_dim = size
    layers.append(layer_init(nn.Linear(in_dim, out_dim), std=out_std))
    return nn.Sequential(*layers)


# -- action spaces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    space: spaces.Space[Any]
    n_params: int  # actor outputs used: means (Box) or logits (categorical)
    width: int  # columns in the flat action
    categories: tuple[int, ...] = ()  # categorical leaves: number of categories per column

    @property
    def is_box(self) -> bool:
        return isinstance(self.space, spaces.Box)


def _leaves(space: spaces.Space[Any]) -> list[_Leaf]:
    if isinstance(space, spaces.Box):
        dim = int(np.prod(space.shape))
        return [_Leaf(space, dim, dim)]
    if isinstance(space, spaces.Discrete):
        return [_Leaf(space, int(space.n), 1, (int(space.n),))]
    if isinstance(space, spaces.MultiDiscrete):
        nvec = tuple(int(n) for n in space.nvec.flat)
        return [_Leaf(space, sum(nvec), len(nvec), nvec)]
    if isinstance(space, spaces.MultiBinary):
        bits = int(np.prod(space.shape))
        return [_Leaf(space, 2 * bits, bits, (2,) * bits)]
    if isinstance(space, spaces.Tuple):
        return [leaf for sub in space.spaces for leaf in _leaves(sub)]
    if isinstance(space, spaces.Dict):
        return [leaf for sub in space.spaces.values() for leaf in _leaves(sub)]
    raise TypeError(
        f"action space {space} is not supported (Box, Discrete, MultiDiscrete, "
        "MultiBinary, or a Tuple/Dict of those)"
    )


class ActionLayout:
    """How a Gymnasium action space maps onto flat action rows.

    Parameters
    ----------
    space : gymnasium.spaces.Space
        The action space of one (not vectorised) environment.

    Examples
    --------
    >>> from gymnasium import spaces
    >>> layout = ActionLayout(spaces.Tuple((spaces.Box(0.0, 10.0, (2,)), spaces.Discrete(3))))
    >>> layout.width, layout.n_params, layout.box_dims
    (3, 5, 2)
    >>> box, index = layout.to_env(np.array([[-1.0, 0.5, 2.0]], dtype=np.float32))
    >>> box.tolist(), index.tolist()
    ([[0.0, 7.5]], [2])

    """

    def __init__(self, space: spaces.Space[Any]) -> None:
        self.space = space
        self.leaves = _leaves(space)
        self.width = sum(leaf.width for leaf in self.leaves)
        self.n_params = sum(leaf.n_params for leaf in self.leaves)
        self.box_dims = sum(leaf.n_params for leaf in self.leaves if leaf.is_box)

    def to_env(self, flat: np.ndarray) -> Any:
        """Batched env action (as ``SyncVectorEnv.step`` takes it) from flat rows (B, width)."""
        flat = np.asarray(flat)
        if flat.ndim != 2 or flat.shape[1] != self.width:
            raise ValueError(f"flat actions of shape {flat.shape} do not match width {self.width}")
        value, end = _to_env(self.space, flat, 0)
        assert end == self.width
        return value

    def to_single(self, flat_row: np.ndarray) -> Any:
        """The action of one environment from one flat row."""
        return _unbatch(self.space, self.to_env(np.asarray(flat_row).reshape(1, -1)), 0)


def _to_env(space: spaces.Space[Any], flat: np.ndarray, col: int) -> tuple[Any, int]:
    n = flat.shape[0]
    if isinstance(space, spaces.Box):
        dim = int(np.prod(space.shape))
        u = flat[:, col : col + dim].astype(np.float64)
        low, high = (
            space.low.reshape(-1).astype(np.float64),
            space.high.reshape(-1).astype(np.float64),
        )
        finite = np.isfinite(low) & np.isfinite(high)
        scaled = np.where(
            finite, low + 0.5 * (np.clip(u, -1.0, 1.0) + 1.0) * np.where(finite, high - low, 0.0), u
        )
        action = np.clip(scaled, low, high).reshape(n, *space.shape).astype(space.dtype)
        return action, col + dim
    if isinstance(space, spaces.Discrete):
        return flat[:, col].astype(np.int64) + np.int64(space.start), col + 1
    if isinstance(space, spaces.MultiDiscrete):
        k = space.nvec.size
        idx = flat[:, col : col + k].astype(space.dtype).reshape(n, *space.nvec.shape)
        return idx + space.start, col + k
    if isinstance(space, spaces.MultiBinary):
        k = int(np.prod(space.shape))
        return flat[:, col : col + k].astype(space.dtype).reshape(n, *space.shape), col + k
    if isinstance(space, spaces.Tuple):
        parts = []
        for sub in space.spaces:
            part, col = _to_env(sub, flat, col)
            parts.append(part)
        return tuple(parts), col
    if isinstance(space, spaces.Dict):
        parts_by_key = {}
        for key, sub in space.spaces.items():
            parts_by_key[key], col = _to_env(sub, flat, col)
        return parts_by_key, col
    raise TypeError(f"unsupported action space {space}")


def _unbatch(space: spaces.Space[Any], batched: Any, i: int) -> Any:
    if isinstance(space, spaces.Tuple):
        return tuple(
            _unbatch(sub, part, i) for sub, part in zip(space.spaces, batched, strict=True)
        )
    if isinstance(space, spaces.Dict):
        return {key: _unbatch(sub, batched[key], i) for key, sub in space.spaces.items()}
    return batched[i]


class ActionDistribution:
    """The policy's distribution over flat actions, for a batch of actor outputs.

    Parameters
    ----------
    layout : ActionLayout
    params : torch.Tensor
        Actor outputs, shape (B, layout.n_params): Gaussian means, then logits, leaf by leaf.
    log_std : torch.Tensor or None
        State-independent log standard deviations of all Box dimensions, shape (layout.box_dims,).
    """

    def __init__(
        self, layout: ActionLayout, params: torch.Tensor, log_std: torch.Tensor | None
    ) -> None:
        # Each part is (distribution, first column, last column + 1, is_gaussian).
        self.parts: list[tuple[Normal | Categorical, int, int, bool]] = []
        p = col = b = 0
        for leaf in layout.leaves:
            if leaf.is_box:
                assert log_std is not None
                mean = params[:, p : p + leaf.n_params]
                std = log_std[b : b + leaf.n_params].exp().expand_as(mean)
                self.parts.append(
                    (Normal(mean, std, validate_args=False), col, col + leaf.width, True)
                )
                p, col, b = p + leaf.n_params, col + leaf.width, b + leaf.n_params
            else:
                for k in leaf.categories:
                    logits = params[:, p : p + k]
                    self.parts.append(
                        (Categorical(logits=logits, validate_args=False), col, col + 1, False)
                    )
                    p, col = p + k, col + 1

    def sample(self) -> torch.Tensor:
        """One flat action per row, shape (B, width), float32."""
        return torch.cat(
            [
                d.sample() if gauss else d.sample().unsqueeze(-1).float()
                for d, _, _, gauss in self.parts
            ],
            dim=-1,
        )

    def mode(self) -> torch.Tensor:
        """The most likely flat action: Gaussian means and categorical argmaxes."""
        return torch.cat(
            [
                d.mean if gauss else cast(Categorical, d).logits.argmax(-1, keepdim=True).float()
                for d, _, _, gauss in self.parts
            ],
            dim=-1,
        )

    def log_prob(self, flat: torch.Tensor) -> torch.Tensor:
        """Log-density of flat actions (sum over leaves and dimensions), shape (B,)."""
        terms = [
            d.log_prob(flat[:, a:z]).sum(-1) if gauss else d.log_prob(flat[:, a].long())
            for d, a, z, gauss in self.parts
        ]
        return torch.stack(terms, dim=-1).sum(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy (sum over leaves and dimensions), shape (B,)."""
        terms = [d.entropy().sum(-1) if gauss else d.entropy() for d, _, _, gauss in self.parts]
        return torch.stack(terms, dim=-1).sum(-1)


# -- the agent --------------------------------------------------------------------------------


class Agent(nn.Module):
    """Actor-critic MLPs over flat observations, with action heads for *action_space*.

    Parameters
    ----------
    obs_dim : int
        Length of the (flattened, normalised) observation vector.
    action_space : gymnasium.spaces.Space
        Action space of one environment (see the module docstring for the supported spaces).
    hidden_sizes : tuple of int
        Widths of the hidden layers, the same for actor and critic.
    activation : {"tanh", "relu"}
    log_std_init : float
        Initial log standard deviation of the Box heads.
    """

    def __init__(
        self,
        obs_dim: int,
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.layout = ActionLayout(action_space)
        self.critic = mlp(obs_dim, tuple(hidden_sizes), activation, 1, out_std=1.0)
        self.actor = mlp(
            obs_dim, tuple(hidden_sizes), activation, self.layout.n_params, out_std=0.01
        )
        self.log_std = (
            nn.Parameter(torch.full((self.layout.box_dims,), float(log_std_init)))
            if self.layout.box_dims
            else None
        )

    def distribution(self, obs: torch.Tensor) -> ActionDistribution:
        """The action distribution at each observation of the batch *obs* (B, obs_dim)."""
        return ActionDistribution(self.layout, self.actor(obs), self.log_std)

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, shape (B,)."""
        return self.critic(obs).squeeze(-1)

    def get_action_and_value(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flat action (sampled if *action* is None), its log-probability, entropy, value."""
        dist = self.distribution(obs)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.get_value(obs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Flat actions for evaluation: the mode (mean / argmax) if *deterministic*."""
        dist = self.distribution(obs)
        return dist.mode() if deterministic else dist.sample()


# -- spaces as plain data (checkpoints load with torch.load(weights_only=True)) ----------------


def space_to_dict(space: spaces.Space[Any]) -> dict[str, Any]:
    """A plain-data description of a Box/Discrete/MultiDiscrete/MultiBinary/Tuple/Dict space."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "low": space.low.tolist(),
            "high": space.high.tolist(),
            "shape": list(space.shape),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": space.nvec.tolist(),
            "start": space.start.tolist(),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": list(space.shape)}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_dict(s) for s in space.spaces]}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": [[k, space_to_dict(s)] for k, s in space.spaces.items()]}
    raise TypeError(f"cannot describe space {space}")


def space_from_dict(d: dict[str, Any]) -> spaces.Space[Any]:
    """Inverse of :func:`space_to_dict`."""
    kind = d["type"]
    if kind == "Box":
        dtype = np.dtype(d["dtype"])
        return spaces.Box(
            np.array(d["low"], dtype=dtype).reshape(d["shape"]),
            np.array(d["high"], dtype=dtype).reshape(d["shape"]),
            dtype=dtype,
        )
    if kind == "Discrete":
        return spaces.Discrete(d["n"], start=d["start"])
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(d["nvec"], dtype=np.dtype(d["dtype"]), start=d["start"])
    if kind == "MultiBinary":
        return spaces.MultiBinary(d["n"])
    if kind == "Tuple":
        return spaces.Tuple([space_from_dict(s) for s in d["spaces"]])
    if kind == "Dict":
        return spaces.Dict({k: space_from_dict(s) for k, s in d["spaces"]})
    raise ValueError(f"unknown space type {kind!r}")
