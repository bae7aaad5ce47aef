"""Keep the best policy seen during PPO training, judged on fixed selection episodes.

PPO's last policy is not always its best: the updates of a run move the policy both
ways, and near an optimum as much the wrong way as the right way.
:class:`PolicySelector` scores the *deterministic* policy (and the observation
normaliser as it is at that moment) on the same ``select_episodes`` episodes each
time (common random numbers: episode k runs on
``des_supply.rng.replication_seed(select_seed, k)``, as replication k of
``des_supply.evaluate.simulate``), all stepped at once on the batch engine
(:class:`rl.vector_env.WrappedBatchEnv`), and keeps the best (Stable-Baselines3's
``EvalCallback(best_model_save_path=...)``).  The score is the engine's own accounting,
not the (scaled, shifted) training reward: minus the mean cost per period on a cost
problem, the mean profit per period on a profit problem; higher is better.

:func:`rl.ppo.train` runs it when ``PPOConfig.select_every`` > 0 and writes ``best.pt``
(loadable by ``rl.ppo.load_agent(out_dir, best=True)``), ``best.json`` and
``selection.csv``.  The selection seed must differ from every seed the policy is
finally evaluated on, or the evaluation is biased by the selection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from .buffers import CLIP_OBS, RunningMeanStd
from .networks import Agent
from .vector_env import WrappedBatchEnv, why_not_vectorize

__all__ = ["SELECTION_FIELDS", "PolicySelector"]

#: columns of selection.csv: one row per judgement
SELECTION_FIELDS = ("global_step", "iteration", "score", "best_score", "best_iteration")


class PolicySelector:
    """Scores policies on fixed episodes of ``make_env()`` and holds the best one so far.

    Parameters
    ----------
    make_env : callable
        A thunk building the (wrapped) env of the selection episodes; it must be one the
        batch engine runs (:func:`rl.vector_env.why_not_vectorize`), else ValueError.
    episodes, seed, warmup : int
        Episodes per judgement, their root seed, and the leading steps of each episode
        left out of the score (the start-up transient).
    """

    def __init__(
        self, make_env: Callable[[], gym.Env], *, episodes: int, seed: int, warmup: int = 0
    ) -> None:
        env = make_env()
        reason = why_not_vectorize(env)
        if reason is not None:
            env.close()
            raise ValueError(
                f"select_every needs selection episodes the batch engine runs; it cannot run {reason}"
            )
        self.envs = WrappedBatchEnv(
            env, episodes, seed=seed, autoreset_mode=AutoresetMode.NEXT_STEP
        )
        self.seed, self.warmup = seed, warmup
        self.profit = self.envs.vec.objective != "cost"
        self.best: dict[str, Any] | None = None  # score, iteration, global_step, agent, obs_rms

    def score(self, agent: Agent, obs_rms: RunningMeanStd | None) -> float:
        """Minus the mean cost (or the mean profit) per period of *agent*'s deterministic
        actions over the selection episodes, after the warm-up; the normaliser is only read."""
        obs, _ = self.envs.reset(seed=self.seed)  # the same episodes every time
        n = self.envs.num_envs
        value, periods, step = np.zeros(n), np.zeros(n), 0
        with torch.no_grad():
            while True:
                x = np.asarray(obs, dtype=np.float64).reshape(n, -1)
                if obs_rms is not None:
                    x = obs_rms.normalize(x, CLIP_OBS)
                flat = agent.act(torch.as_tensor(x, dtype=torch.float32), True).numpy()
                obs, _, _, truncated, info = self.envs.step(agent.layout.to_env(flat))
                step += 1
                if step > self.warmup:
                    cost = info["cost"]["total"]
                    value += info["revenue"] - cost if self.profit else -cost
                    periods += info["dt"]
                if truncated.all():
                    break
        if not periods.all():
            raise ValueError(
                f"select_warmup(={self.warmup}) leaves nothing to score: the selection "
                f"episodes last {step} steps"
            )
        return float(np.mean(value / periods))

    def judge(
        self, agent: Agent, obs_rms: RunningMeanStd | None, iteration: int, global_step: int
    ) -> dict[str, float]:
        """Score the policy; keep it (a copy of its weights and normaliser) if it beats the
        best so far (ties keep the earlier one).  Returns the row of selection.csv."""
        score = self.score(agent, obs_rms)
        if self.best is None or score > self.best["score"]:
            self.best = {
                "score": score,
                "iteration": iteration,
                "global_step": global_step,
                "agent": {k: v.detach().clone() for k, v in agent.state_dict().items()},
                "obs_rms": obs_rms.state_dict() if obs_rms is not None else None,
            }
        return {
            "global_step": global_step,
            "iteration": iteration,
            "score": score,
            "best_score": self.best["score"],
            "best_iteration": self.best["iteration"],
        }

    def summary(self) -> dict[str, Any]:
        """The best policy's score, iteration and step (what best.json holds)."""
        if self.best is None:
            raise RuntimeError("no policy judged yet")
        return {
            "score": self.best["score"],
            "score_is": "minus mean cost per period"
            if not self.profit
            else "mean profit per period",
            "iteration": self.best["iteration"],
            "global_step": self.best["global_step"],
            "episodes": self.envs.num_envs,
            "seed": self.seed,
            "warmup": self.warmup,
        }

    def write(self, out: Path, checkpoint: dict[str, Any]) -> None:
        """``best.pt`` (the best agent and normaliser in *checkpoint*'s layout, so
        ``rl.ppo.load_agent`` reads it) and ``best.json``, both written atomically."""
        assert self.best is not None
        state = {
            **checkpoint,
            "agent": self.best["agent"],
            "runner": {"obs_rms": self.best["obs_rms"]},
            "iteration": self.best["iteration"],
            "global_step": self.best["global_step"],
            "select_score": self.best["score"],
        }
        tmp = out / "best.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(out / "best.pt")
        tmp = out / "best.json.tmp"
        tmp.write_text(json.dumps(self.summary(), indent=2) + "\n")
        tmp.replace(out / "best.json")

    def close(self) -> None:
        self.envs.close()
