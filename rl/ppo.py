"""Proximal Policy Optimisation (PPO, clipped objective) as a library, after CleanRL.

``train(make_env, PPOConfig(...), out_dir)`` runs PPO on ``n_envs`` copies of an
environment and writes to *out_dir*:

================  ========================================================================
checkpoint.pt     model, optimiser, normalisers, RNG states, env episode state (resumable)
progress.csv      one row per ``log_interval`` iterations (losses, returns, SPS)
config.json       the :class:`PPOConfig` and library versions
best.pt           with ``select_every`` > 0: the best policy judged on the selection episodes
best.json         its score, iteration and step (``selection.csv``: every judgement)
learning_curve    ``learning_curve.png``: mean episodic return against environment steps
tb/               TensorBoard scalars, only if ``tensorboard`` is installed
================  ========================================================================

``load_agent(out_dir)`` gives back the :class:`TorchPolicy` the run plays (the selected
one when it kept its best; ``best=False`` / ``True`` ask for the last / the selected one).

*Keeping the best policy.* With ``select_every=k`` the deterministic policy is judged
before the first update and every k iterations (and after the last) on the same
``select_episodes`` episodes of root seed ``select_seed``, stepped at once on the batch
engine (:class:`rl.selection.PolicySelector`; score: minus the engine's mean cost per
period, or its mean profit); the best, with the observation normaliser of that moment,
is kept in ``best.pt``.  Judging changes nothing in training (it reads the agent and
draws no random number), so the last policy is the one a run without selection ends with.

Design choices
--------------
*Episode ends.* The vector env runs in Gymnasium's ``AutoresetMode.SAME_STEP``:
when a sub-env ends, ``step`` returns the first observation of the next episode
and the last one in ``info["final_obs"]``. A truncated step bootstraps from
V(final obs), a terminated one does not (see :func:`rl.buffers.compute_gae`).
Unlike the default NEXT_STEP mode, no transition is wasted on a reset step and
nothing needs masking, and after every step each sub-env is inside an episode,
which keeps checkpoints simple.

*Exact resume.* Sub-env *i* starts its episode *k* with ``reset(seed=s_ik)``,
``s_ik`` drawn from ``SeedSequence(seed, spawn_key=(i, k))``. The checkpoint holds,
per sub-env, *k* and the actions taken since that reset; resuming rebuilds each
env by resetting it with ``s_ik`` and replaying the actions. This needs an env
whose trajectory is a function of its reset seed and the actions (what
``check_env`` tests) and no wrapper that keeps state across episodes (use
``norm_obs``/``norm_reward`` here, not Gymnasium's normalisation wrappers). A
resumed run then gives the same parameters, bit for bit, as one that never stopped.

*Actions.* Box actions are Gaussian samples clipped to the bounds, not
tanh-squashed; see :mod:`rl.networks`.

*Continuous time.* On a semi-Markov env (a step is a decision event lasting
``info["dt"]`` time units, ``metadata["semi_markov"]``: :mod:`rl.semi_markov_env`)
``discount="auto"`` discounts step t by ``gamma ** dt_t``, gamma being per unit time,
in the GAE recursion and in the truncation bootstrap; periodic envs keep one gamma per
step, exactly as before.  ``average_cost=True`` trains on differential rewards
``r_t - rate * dt_t`` (``rate``: a running estimate of the reward per unit time, or
per step), the average-cost criterion.  Within a step the cost is not discounted (it is
booked at the step's start).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from tqdm import tqdm

from .buffers import (
    CLIP_OBS,
    DISCOUNTS,
    BatchEnvRunner,
    EnvRunner,
    Rollout,
    RunningMeanStd,
    batch_runner_reason,
    compute_gae,
)
from .networks import Agent, space_from_dict, space_to_dict
from .selection import SELECTION_FIELDS, PolicySelector
from .training import (
    Adam,
    CheckpointError,
    ProgressLog,
    anneal_fraction,
    episode_stats,
    load_checkpoint,
    plot_learning_curve,
    read_checkpoint,
    read_csv,
    restore_rngs,
    rng_states,
    save_checkpoint,
    seed_run,
    versions,
)

__all__ = ["Agent", "PPOConfig", "TorchPolicy", "TrainResult", "compute_gae", "load_agent", "train"]

CHECKPOINT_FORMAT = 1
#: PPOConfig.engine values
ENGINES = ("auto", "batch", "event")
CSV_FIELDS = (
    *("global_step", "iteration", "episodes", "episodic_return_mean", "episodic_length_mean"),
    *("value_loss", "policy_loss", "entropy", "approx_kl", "clipfrac", "explained_variance"),
    *("learning_rate", "sps"),
)


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of a PPO run (CleanRL's ``Args``; its defaults where they apply)."""

    total_steps: int = 100_000
    """environment steps to train for, summed over the sub-environments"""
    n_envs: int = 4
    """number of environment copies stepped together (``SyncVectorEnv``)"""
    n_steps: int = 128
    """rollout length per sub-environment; one iteration collects n_envs * n_steps steps"""
    gamma: float = 0.99
    """discount factor per decision epoch, or per unit time when discounting by time"""
    discount: str = "auto"
    """"step": gamma per step; "time": gamma ** info["dt"] per step (semi-Markov: a step
    lasts dt time units; bootstrap and GAE); "auto": "time" on envs whose metadata says
    ``semi_markov`` (rl.semi_markov_env), "step" otherwise (periodic envs train as before)"""
    average_cost: bool = False
    """differential returns: rewards minus a running estimate of the reward rate times dt
    (the average-cost criterion; pair with gamma at or near 1)"""
    rate_step: float = 0.1
    """step size of that running reward-rate estimate (per iteration)"""
    gae_lambda: float = 0.95
    """λ of generalised advantage estimation"""
    n_epochs: int = 4
    """passes over each rollout"""
    n_minibatches: int = 4
    """minibatches per pass; must divide n_envs * n_steps"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient ε"""
    clip_vloss: bool = True
    """clip the value loss around the rollout's values, as in the PPO paper's code"""
    ent_coef: float = 0.0
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    learning_rate: float = 3e-4
    """Adam step size (initial value when annealed)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over total_steps"""
    norm_obs: bool = True
    """normalise observations by a running mean/std (its state is checkpointed)"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    reward_scale: float = 1.0
    """fixed multiplier on rewards before any normalisation (e.g. 0.01 for costs in dollars)"""
    norm_reward: bool = False
    """divide rewards by a running std of the discounted return (Gymnasium's NormalizeReward)"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layer widths of the actor and of the critic"""
    activation: str = "tanh"
    """hidden activation: "tanh" or "relu\""""
    log_std_init: float = 0.0
    """initial log standard deviation of Box action heads (exploration at the start)"""
    seed: int = 1
    """seed of the network initialisation, the action sampling, the minibatches and the envs"""
    target_kl: float | None = None
    """stop the epochs of an iteration early once the approximate KL exceeds this"""
    log_interval: int = 1
    """iterations between rows of progress.csv"""
    checkpoint_interval: int = 10
    """iterations between checkpoints (one is always written at the end)"""
    torch_threads: int = 1
    """torch.set_num_threads at the start of training; 0 leaves torch's default"""
    engine: str = "event"
    """"event": a SyncVectorEnv of event-engine envs; "batch": the n_envs copies run in
    lockstep on the batch engine (rl.vector_env.WrappedBatchEnv: the same episodes and
    draws, so the same rollouts for the same actions; ``benchmarks/zipkin_ppo.py --speed``
    measures the CPU it saves); "auto": "batch" where the env can be batched (one
    thunk building an InventoryEnv of a problem the batch engine runs, wrappers with batch
    versions), "event" otherwise.  "batch" on an env that cannot be batched falls back to
    "event" with a warning saying why.  The default stays "event": on single-stage both
    engines train bit for bit alike, but on networks with fractional orders the batch
    engine's quantities may differ from the event engine's in the last bit (summation
    order), and that changes the trained parameters of published runs"""
    select_every: int = 0
    """judge the deterministic policy every this many iterations (and before the first
    update, and after the last) on the selection episodes and keep the best in best.pt;
    0: off (rl.selection.PolicySelector).  A stop by the callback is not judged, so a
    resumed run keeps the best an uninterrupted one keeps"""
    select_episodes: int = 16
    """episodes per judgement, all stepped at once on the batch engine"""
    select_seed: int = 30_000
    """root seed of the selection episodes (the same episodes at every judgement); keep it
    apart from the seeds the policy is finally evaluated on"""
    select_warmup: int = 0
    """leading steps of each selection episode left out of the score"""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        for name in ("select_every", "select_warmup", "select_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}(={getattr(self, name)}) must be >= 0")
        for name in (
            "select_episodes",
            "total_steps",
            "n_envs",
            "n_steps",
            "n_epochs",
            "n_minibatches",
            "log_interval",
            "checkpoint_interval",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}(={getattr(self, name)}) must be >= 1")
        if self.batch_size % self.n_minibatches:
            raise ValueError(
                f"n_minibatches(={self.n_minibatches}) must divide n_envs * n_steps "
                f"(={self.batch_size})"
            )
        if self.total_steps < self.batch_size:
            raise ValueError(
                f"total_steps(={self.total_steps}) must be >= n_envs * n_steps (={self.batch_size})"
            )
        if not (0.0 < self.gamma <= 1.0 and 0.0 <= self.gae_lambda <= 1.0):
            raise ValueError(
                f"gamma(={self.gamma}) must be in (0, 1], gae_lambda(={self.gae_lambda}) in [0, 1]"
            )
        if self.discount not in DISCOUNTS:
            raise ValueError(f"discount(={self.discount!r}) must be one of {', '.join(DISCOUNTS)}")
        if not 0.0 < self.rate_step <= 1.0:
            raise ValueError(f"rate_step(={self.rate_step}) must be in (0, 1]")
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f"activation(={self.activation!r}) must be 'tanh' or 'relu'")
        if self.seed < 0:
            raise ValueError(f"seed(={self.seed}) must be >= 0")
        if self.engine not in ENGINES:
            raise ValueError(f"engine(={self.engine!r}) must be one of {', '.join(ENGINES)}")

    @property
    def batch_size(self) -> int:
        """Environment steps per iteration."""
        return self.n_envs * self.n_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.n_minibatches

    @property
    def num_iterations(self) -> int:
        """Iterations in the run (total_steps rounded down to whole rollouts)."""
        return self.total_steps // self.batch_size


@dataclass
class TrainResult:
    """What :func:`train` returns: ``agent`` and ``policy`` are the last policy (after the
    last iteration); with ``select_every`` > 0, ``best_policy`` is the selected one and
    ``best`` its score, iteration and step (best.json), else both are None."""

    agent: Agent
    policy: TorchPolicy
    config: PPOConfig
    out_dir: Path
    global_step: int
    history: list[dict[str, float]] = field(default_factory=list)  # the rows of progress.csv
    stopped_early: bool = False  # the callback asked to stop
    best_policy: TorchPolicy | None = None
    best: dict[str, Any] | None = None


# -- the PPO update ---------------------------------------------------------------------------


def _update(
    agent: Agent,
    optimizer: Adam,
    rollout: Rollout,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    config: PPOConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    """n_epochs passes of clipped-surrogate minibatch updates (CleanRL's inner loop)."""
    b_obs = rollout.obs.reshape(config.batch_size, -1)
    b_actions = rollout.actions.reshape(config.batch_size, -1)
    b_logprobs, b_values = rollout.logprobs.reshape(-1), rollout.values.reshape(-1)
    b_advantages, b_returns = advantages.reshape(-1), returns.reshape(-1)
    sums = dict.fromkeys(("value_loss", "policy_loss", "entropy", "approx_kl", "clipfrac"), 0.0)
    n_minibatches = 0
    for _epoch in range(config.n_epochs):
        b_inds = torch.as_tensor(rng.permutation(config.batch_size))
        for start in range(0, config.batch_size, config.minibatch_size):
            mb_inds = b_inds[start : start + config.minibatch_size]
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                b_obs[mb_inds], b_actions[mb_inds]
            )
            logratio = newlogprob - b_logprobs[mb_inds]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > config.clip_coef).float().mean()

            mb_advantages = b_advantages[mb_inds]
            if config.norm_adv and mb_advantages.numel() > 1:
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                    mb_advantages.std() + 1e-8
                )
            pg_loss = torch.max(
                -mb_advantages * ratio,
                -mb_advantages * torch.clamp(ratio, 1 - config.clip_coef, 1 + config.clip_coef),
            ).mean()

            if config.clip_vloss:
                v_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(
                    newvalue - b_values[mb_inds], -config.clip_coef, config.clip_coef
                )
                v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb_inds]) ** 2).mean()
            else:
                v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

            entropy_loss = entropy.mean()
            loss = pg_loss - config.ent_coef * entropy_loss + v_loss * config.vf_coef
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()

            for key, value in (
                ("value_loss", v_loss),
                ("policy_loss", pg_loss),
                ("entropy", entropy_loss),
                ("approx_kl", approx_kl),
                ("clipfrac", clipfrac),
            ):
                sums[key] += value.item()
            n_minibatches += 1
        if config.target_kl is not None and float(approx_kl) > config.target_kl:
            break
    stats = {key: total / n_minibatches for key, total in sums.items()}
    var_returns = float(b_returns.var())
    stats["explained_variance"] = (
        math.nan if var_returns == 0 else 1.0 - float((b_returns - b_values).var()) / var_returns
    )
    return stats


# -- training ---------------------------------------------------------------------------------


def make_runner(
    make_env: Callable[[], gym.Env] | Sequence[Callable[[], gym.Env]],
    config: PPOConfig,
    progress: bool = False,
) -> EnvRunner:
    """The rollout collector of ``config.engine`` (its ``engine`` attribute says which runs:
    ``"batch"`` or ``"event"``).  Falling back to the event engine says why in one line: a
    warning when ``engine="batch"`` was asked for, a progress line under ``"auto"``."""
    if config.engine != "event":
        reason = batch_runner_reason(make_env)
        if reason is None:
            return BatchEnvRunner(make_env, config)  # type: ignore[arg-type]  # one thunk
        line = f"PPO on the event engine: the batch engine cannot run {reason}"
        if config.engine == "batch":
            warnings.warn(line, stacklevel=3)
        elif progress:
            tqdm.write(line)
    return EnvRunner(make_env, config)


def train(
    make_env: Callable[[], gym.Env] | Sequence[Callable[[], gym.Env]],
    config: PPOConfig | None,
    out_dir: str | os.PathLike[str],
    resume: bool | str | os.PathLike[str] | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
    select_env: Callable[[], gym.Env] | None = None,
) -> TrainResult:
    """Train a PPO agent and write checkpoint, CSV log, config and learning curve to *out_dir*.

    Parameters
    ----------
    make_env : callable or sequence of callables
        A thunk returning a fresh ``gymnasium.Env`` (called ``n_envs`` times), or one
        thunk per sub-env. Non-Box observations are flattened (``FlattenObservation``).
    config : PPOConfig or None
        None means the checkpoint's configuration when resuming, the defaults otherwise.
        When resuming only total_steps, log_interval and checkpoint_interval may differ
        from the checkpoint's (a new total_steps also moves the learning-rate schedule).
    out_dir : path
        Output directory, created if missing; a fresh run overwrites what is there.
    resume : bool or path, optional
        True resumes from ``out_dir/checkpoint.pt``; a path resumes from that file.
    progress : bool
        Show a tqdm bar over environment steps.
    callback : callable, optional
        Called after every iteration with that iteration's metrics (the columns of
        progress.csv); returning False stops training after writing a checkpoint.
    select_env : callable, optional
        With ``config.select_every`` > 0: a thunk building the env of the selection
        episodes (default *make_env*, which must then be one thunk), e.g. the training env
        with longer episodes.  It must be one the batch engine runs.

    Returns
    -------
    TrainResult

    Notes
    -----
    This is an entry point, so it holds the seeding block: it seeds torch's global
    generator and switches on ``torch.use_deterministic_algorithms(True)`` (and sets
    the torch thread count unless ``config.torch_threads`` is 0) for the process.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config, checkpoint = load_checkpoint(resume, out, PPOConfig, config)
    config = config or PPOConfig()

    # TRY NOT TO MODIFY: seeding (rl.training.seed_run)
    rng = seed_run(config)  # minibatch permutations; envs are seeded per episode

    runner = make_runner(make_env, config, progress)
    agent = Agent(
        runner.obs_dim,
        runner.action_space,
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
    )
    optimizer = Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)
    selector = None  # built after the agent: nothing of it touches training's RNGs
    if config.select_every:
        if select_env is None and not callable(make_env):
            raise ValueError("select_every with one env factory per sub-env: pass select_env")
        selector = PolicySelector(
            select_env or make_env,  # type: ignore[arg-type]  # callable, checked above
            episodes=config.select_episodes,
            seed=config.select_seed,
            warmup=config.select_warmup,
        )
    iteration, global_step = 0, 0
    if checkpoint is None:
        runner.start()
    else:
        agent.load_state_dict(checkpoint["agent"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        runner.load_state_dict(checkpoint["runner"])
        iteration, global_step = checkpoint["iteration"], checkpoint["global_step"]
        restore_rngs(checkpoint, rng)
        if selector is not None:
            selector.best = checkpoint["best"]
    (out / "config.json").write_text(
        json.dumps(
            {"config": asdict(config), "engine": runner.engine, "versions": versions()}, indent=2
        )
    )

    header = {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(config),
        "versions": versions(),
        "observation_space": space_to_dict(runner.observation_space),
        "action_space": space_to_dict(runner.action_space),
    }

    def save() -> None:
        state = {
            **header,
            "agent": agent.state_dict(),
            "optimizer": optimizer.state_dict(),
            "iteration": iteration,
            "global_step": global_step,
            **rng_states(rng),
            "runner": runner.state_dict(),
        }
        if selector is not None:
            state["best"] = selector.best
        save_checkpoint(state, out)

    def judge() -> None:
        """Score the current policy on the selection episodes; best.pt if it is the best."""
        assert selector is not None and select_log is not None
        before = selector.best
        select_log.write(selector.judge(agent, runner.obs_rms, iteration, global_step))
        if selector.best is not before:
            selector.write(out, header)

    log = ProgressLog(
        out,
        CSV_FIELDS,
        keep_up_to=global_step if checkpoint is not None else None,
        tensorboard=True,
    )
    select_log = None
    if selector is not None:
        select_log = ProgressLog(
            out,
            SELECTION_FIELDS,
            keep_up_to=global_step if checkpoint is not None else None,
            name="selection.csv",
        )
        if checkpoint is None:
            judge()  # the starting policy is a candidate
        else:
            selector.write(out, header)  # the best as of the checkpoint (best.pt may be newer)
    rollout = Rollout.empty(
        config.n_steps, config.n_envs, runner.obs_dim, runner.layout.width, runner.timed
    )
    num_iterations = config.num_iterations
    bar = tqdm(
        desc="PPO training",
        total=num_iterations * config.batch_size,
        initial=global_step,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    start_time, start_step, stopped = time.perf_counter(), global_step, False
    try:
        while iteration < num_iterations and not stopped:
            iteration += 1
            lr = config.learning_rate * anneal_fraction(iteration, num_iterations, config.anneal_lr)
            optimizer.param_groups[0]["lr"] = lr

            runner.collect(agent, rollout)
            global_step += config.batch_size
            with torch.no_grad():
                advantages, returns = rollout.advantages(
                    agent.get_value(runner.next_obs),
                    config.gamma,
                    config.gae_lambda,
                    runner.differential(rollout) if config.average_cost else None,
                )
            stats = _update(agent, optimizer, rollout, advantages, returns, config, rng)
            if not all(math.isfinite(stats[k]) for k in ("value_loss", "policy_loss")):
                raise FloatingPointError(
                    f"PPO diverged at iteration {iteration} (step {global_step}): non-finite "
                    f"losses { ({k: stats[k] for k in ('value_loss', 'policy_loss')}) }; lower "
                    f"learning_rate(={config.learning_rate:g}) or set target_kl; the last "
                    f"checkpoint in {out} is from before the divergence"
                )

            row = {
                "global_step": global_step,
                "iteration": iteration,
                **episode_stats(runner.finished),
                **stats,
                "learning_rate": lr,
                "sps": (global_step - start_step) / max(time.perf_counter() - start_time, 1e-9),
            }
            if iteration % config.log_interval == 0 or iteration == num_iterations:
                log.write(row)
                runner.finished = []
            bar.update(config.batch_size)
            if row["episodes"]:
                bar.set_postfix(ret=f"{row['episodic_return_mean']:.4g}")
            stopped = callback is not None and callback(row) is False
            if selector is not None and (
                iteration % config.select_every == 0 or iteration == num_iterations
            ):  # not at a stop by the callback: a resumed run judges what an unstopped one does
                judge()
            if (
                iteration % config.checkpoint_interval == 0
                or iteration == num_iterations
                or stopped
            ):
                save()
    finally:
        bar.close()
        log.close()
        runner.envs.close()
        if selector is not None:
            assert select_log is not None
            select_log.close()
            selector.close()
    history = read_csv(out / "progress.csv")
    plot_learning_curve(history, out / "learning_curve.png")
    agent.eval()
    policy = TorchPolicy(agent, runner.observation_space, runner.obs_rms)
    result = TrainResult(agent, policy, config, out, global_step, history, stopped)
    if selector is not None:
        result.best_policy, result.best = load_agent(out, best=True), selector.summary()
    return result


# -- evaluation -------------------------------------------------------------------------------


class TorchPolicy:
    """A trained agent as a policy: one raw observation in, one env action out.

    Applies the training-time observation flattening and (frozen) normaliser.

    Parameters
    ----------
    agent : Agent
    observation_space : gymnasium.spaces.Space
        The env's observation space as the env declares it (before flattening).
    obs_rms : RunningMeanStd or None
        The observation normaliser saved with the agent.
    """

    def __init__(
        self,
        agent: Agent,
        observation_space: spaces.Space[Any],
        obs_rms: RunningMeanStd | None = None,
    ) -> None:
        self.agent, self.observation_space, self.obs_rms = agent, observation_space, obs_rms
        self.action_space = agent.layout.space

    def _flatten(self, obs: Any) -> np.ndarray:
        if isinstance(self.observation_space, spaces.Box):
            return np.asarray(obs, dtype=np.float64).reshape(-1)
        return np.asarray(spaces.flatten(self.observation_space, obs), dtype=np.float64)

    def __call__(self, obs: Any, deterministic: bool = True) -> Any:
        """The action at *obs*: mean / argmax if *deterministic*, else a sample."""
        flat = self._flatten(obs)[None]
        if self.obs_rms is not None:
            flat = self.obs_rms.normalize(flat, CLIP_OBS)
        row = self.agent.act(torch.as_tensor(flat, dtype=torch.float32), deterministic)
        return self.agent.layout.to_single(row.numpy()[0])

    act = __call__


def load_agent(path: str | os.PathLike[str], best: bool | None = None) -> TorchPolicy:
    """The policy saved by :func:`train` in *path* (an out_dir or a checkpoint file).

    For an out_dir, *best* None gives the policy the run plays: the one selected on the
    selection episodes (``best.pt``) when it was trained with ``select_every`` > 0, else
    the last one; True and False ask for one of them.  A file path loads that file.

    Raises :class:`rl.training.CheckpointError` for a missing or unreadable checkpoint
    (and for the selected policy of a run without ``best.pt``).
    """
    if best is None and Path(path).is_dir():
        config = read_checkpoint(path, ("config",))["config"]
        best = bool(config.get("select_every"))
    if best and Path(path).is_dir():
        path = Path(path) / "best.pt"
        if not path.is_file():
            raise CheckpointError(f"{path}: no best policy (train with select_every > 0)")
    state = read_checkpoint(
        path, ("config", "observation_space", "action_space", "agent", "runner")
    )
    try:
        config = PPOConfig(**state["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a PPO checkpoint ({exc})") from None
    observation_space = space_from_dict(state["observation_space"])
    obs_dim = spaces.flatdim(observation_space)
    agent = Agent(
        obs_dim,
        space_from_dict(state["action_space"]),
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
    )
    agent.load_state_dict(state["agent"])
    agent.eval()
    obs_rms = None
    if state["runner"]["obs_rms"] is not None:
        obs_rms = RunningMeanStd((obs_dim,))
        obs_rms.load_state_dict(state["runner"]["obs_rms"])
    return TorchPolicy(agent, observation_space, obs_rms)
