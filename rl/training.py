"""What the PPO entry points (:func:`rl.ppo.train`, :func:`rl.mappo.train_mappo`) share.

The seeding block, resuming from a checkpoint (configuration check, RNG states,
atomic writes), progress.csv with its learning curve, and the provenance of a run.
The training loops themselves stay in their modules, CleanRL-style.
"""

from __future__ import annotations

import csv
import math
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import gymnasium as gym
import numpy as np
import torch

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "RESUME_MAY_CHANGE",
    "Adam",
    "CheckpointError",
    "ProgressLog",
    "anneal_fraction",
    "episode_stats",
    "load_checkpoint",
    "plot_learning_curve",
    "read_checkpoint",
    "read_csv",
    "restore_rngs",
    "rng_states",
    "save_checkpoint",
    "seed_run",
    "use_deterministic_algorithms",
    "versions",
]

RESUME_MAY_CHANGE = frozenset({"total_steps", "log_interval", "checkpoint_interval"})
"""configuration fields that may differ between a checkpoint and the run resuming it"""

_TB_CHARTS = ("episodic_return_mean", "episodic_length_mean", "learning_rate", "sps")
_TB_LOSSES = ("value_loss", "policy_loss", "entropy", "approx_kl", "clipfrac", "explained_variance")

_Config = TypeVar("_Config", bound="DataclassInstance")


def seed_run(config: Any) -> np.random.Generator:
    """The seeding block of an entry point; returns the generator of the minibatch permutations.

    Seeds torch's global generator with ``config.seed``, switches on
    ``torch.use_deterministic_algorithms(True)`` and sets the torch thread count unless
    ``config.torch_threads`` is 0.  Envs are not seeded here: they are seeded per episode.
    """
    torch.manual_seed(config.seed)
    use_deterministic_algorithms()
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    return np.random.default_rng(config.seed)


def use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)`` without its import of TorchInductor.

    The public call first imports ``torch._inductor.config`` (and with it TorchDynamo,
    1-3 s of a run's start-up) to set Inductor's own flag, which only ``torch.compile``
    reads; PPO here never compiles.  So the flag of the eager kernels is set directly,
    and Inductor's too if it is loaded already.  Falls back to the public call on a torch
    without that entry point."""
    import sys

    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
        return
    setter(True, warn_only=False)


class Adam:
    """``torch.optim.Adam`` (no weight decay, no AMSGrad) on CPU tensors, bit for bit,
    without TorchDynamo.

    ``torch.optim`` imports TorchDynamo the first time an optimizer is built or stepped
    (its methods are wrapped to be skipped by ``torch.compile``): 1-3 s of a PPO run's
    start-up.  This is the same update as torch's single-tensor CPU path, operation for
    operation (``tests/rl/test_ppo_batch.py`` checks the parameters against
    ``torch.optim.Adam`` after many steps), and its ``state_dict`` has torch's layout,
    so checkpoints written with either load into the other.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.param_groups: list[dict[str, Any]] = [
            {
                "lr": lr,
                "betas": tuple(betas),
                "eps": eps,
                "weight_decay": 0,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "capturable": False,
                "differentiable": False,
                "fused": None,
                "decoupled_weight_decay": False,
                "params": list(range(len(self.params))),
            }
        ]
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {
                    "step": torch.tensor(0.0, dtype=torch.get_default_dtype()),
                    "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
                }
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = state["step"].item()
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        return {
            "state": {i: dict(s) for i, s in self.state.items()},
            "param_groups": [dict(g) for g in self.param_groups],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load :meth:`state_dict` output (this class's or ``torch.optim.Adam``'s)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(
                f"optimizer state for {[len(g['params']) for g in groups]} parameters in "
                f"{len(groups)} group(s), expected one group of {len(self.params)}"
            )
        group = groups[0]
        if group.get("weight_decay", 0) or group.get("amsgrad") or group.get("maximize"):
            raise ValueError("optimizer state uses weight decay, AMSGrad or maximize")
        self.param_groups[0].update(
            {"lr": group["lr"], "betas": tuple(group["betas"]), "eps": group["eps"]}
        )
        ids = group["params"]
        self.state = {}
        for k, i in enumerate(ids):
            saved = state_dict["state"].get(i)
            if saved is None:
                continue
            p = self.params[k]
            self.state[k] = {
                "step": saved["step"].detach().clone().to(torch.get_default_dtype()),
                "exp_avg": saved["exp_avg"].detach().to(p.dtype).clone(),
                "exp_avg_sq": saved["exp_avg_sq"].detach().to(p.dtype).clone(),
            }


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours (the message says which)."""


def read_checkpoint(
    path: str | os.PathLike[str], keys: Sequence[str] = ("config",)
) -> dict[str, Any]:
    """The checkpoint in *path* (a run folder or a ``.pt`` file), with *keys* present.

    Raises :class:`CheckpointError` naming the file when it is missing, truncated,
    corrupt, not a checkpoint (``weights_only`` loading refuses pickled code) or lacks
    one of *keys*.
    """
    path = Path(path)
    file = path / "checkpoint.pt" if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(
            f"{file}: no checkpoint (nothing was saved yet, or the path is wrong)"
        )
    try:
        state = torch.load(file, weights_only=True)
    except Exception as exc:  # torch raises many kinds (pickle, zip, runtime) for a bad file
        raise CheckpointError(
            f"{file}: not a readable checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})"
        ) from None
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{file}: not a training checkpoint (no {', '.join(missing)})")
    return state


@overload
def load_checkpoint(
    resume: bool | str | os.PathLike[str] | None,
    out: Path,
    config_cls: type[_Config],
    config: None,
) -> tuple[_Config | None, dict[str, Any] | None]: ...


@overload
def load_checkpoint(
    resume: bool | str | os.PathLike[str] | None,
    out: Path,
    config_cls: type[_Config],
    config: _Config,
) -> tuple[_Config, dict[str, Any] | None]: ...


def load_checkpoint(
    resume: bool | str | os.PathLike[str] | None,
    out: Path,
    config_cls: type[_Config],
    config: _Config | None,
) -> tuple[_Config | None, dict[str, Any] | None]:
    """(configuration, checkpoint) of a run that may resume.

    Without *resume*: (*config*, None).  Otherwise the checkpoint (``out/checkpoint.pt``
    if *resume* is True, else the file *resume*) and *config*, or the checkpoint's
    configuration if *config* is None.  Raises ValueError if *config* differs from the
    checkpoint's in a field outside :data:`RESUME_MAY_CHANGE`, :class:`CheckpointError` if
    the checkpoint cannot be read.
    """
    if not resume:
        return config, None
    path = out / "checkpoint.pt" if resume is True else Path(resume)
    checkpoint = read_checkpoint(path)
    try:
        saved = config_cls(**checkpoint["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: its configuration does not fit {config_cls.__name__}: {exc}"
        ) from None
    config = saved if config is None else config
    changed = [
        f.name
        for f in fields(config_cls)
        if f.name not in RESUME_MAY_CHANGE and getattr(saved, f.name) != getattr(config, f.name)
    ]
    if changed:
        raise ValueError(f"cannot resume {path} with a different {', '.join(changed)}")
    return config, checkpoint


def rng_states(rng: np.random.Generator) -> dict[str, Any]:
    """The checkpoint entries of torch's global generator and of *rng*."""
    return {"torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state}


def restore_rngs(checkpoint: dict[str, Any], rng: np.random.Generator) -> None:
    """Undo :func:`rng_states`."""
    torch.set_rng_state(checkpoint["torch_rng"])
    rng.bit_generator.state = checkpoint["numpy_rng"]


def save_checkpoint(state: dict[str, Any], out: Path) -> None:
    """Write ``out/checkpoint.pt`` atomically (a crash leaves the previous one)."""
    tmp = out / "checkpoint.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, out / "checkpoint.pt")


def anneal_fraction(iteration: int, num_iterations: int, anneal: bool) -> float:
    """f(i) = 1 − (i − 1) / iterations if *anneal*, else 1: the learning-rate multiplier."""
    return 1.0 - (iteration - 1.0) / num_iterations if anneal else 1.0


def episode_stats(finished: Sequence[tuple[float, int]]) -> dict[str, float]:
    """The episode columns of progress.csv from (return, length) pairs of finished episodes."""
    return {
        "episodes": len(finished),
        "episodic_return_mean": float(np.mean([r for r, _ in finished])) if finished else math.nan,
        "episodic_length_mean": float(np.mean([n for _, n in finished])) if finished else math.nan,
    }


def versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on (stored with every run)."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": str(torch.__version__),
        "gymnasium": str(gym.__version__),
    }


class ProgressLog:
    """progress.csv (and, with *tensorboard* and if installed, TensorBoard scalars in ``tb/``),
    or another CSV log of the run (*name*, e.g. selection.csv).

    On resume (*keep_up_to* = the checkpoint's global step) the rows past the checkpoint go.
    """

    def __init__(
        self,
        out: Path,
        columns: Iterable[str],
        keep_up_to: int | None,
        tensorboard: bool = False,
        name: str = "progress.csv",
    ) -> None:
        path = out / name
        kept = (
            [r for r in read_csv(path) if r["global_step"] <= keep_up_to]
            if keep_up_to is not None
            else []
        )
        self.file = path.open("w", newline="")
        self.writer = csv.DictWriter(
            self.file, fieldnames=list(columns), restval="nan", extrasaction="ignore"
        )  # nan: columns a resumed run lacks
        self.writer.writeheader()
        self.writer.writerows(kept)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"))
            except ImportError:
                pass

    def write(self, row: dict[str, float]) -> None:
        self.writer.writerow(row)
        self.file.flush()
        if self.tb is not None:
            step = int(row["global_step"])
            for key in _TB_CHARTS:
                if not math.isnan(row[key]):
                    self.tb.add_scalar(f"charts/{key}", row[key], step)
            for key in _TB_LOSSES:
                self.tb.add_scalar(f"losses/{key}", row[key], step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def read_csv(path: Path) -> list[dict[str, float]]:
    """The rows of a progress.csv as floats; [] if there is no such file."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_learning_curve(history: list[dict[str, float]], path: Path) -> None:
    """Mean episodic return against environment steps, drawn without pyplot (no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    points = [
        (r["global_step"], r["episodic_return_mean"])
        for r in history
        if not math.isnan(r["episodic_return_mean"])
    ]
    if points:
        ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
    else:
        ax.text(
            0.5, 0.5, "no episode finished yet", ha="center", va="center", transform=ax.transAxes
        )
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episodic return (training reward scale)")
    ax.set_title("PPO training: mean return of finished episodes")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
