"""Training beyond one process: seeds and agents as parallel tasks, RLlib PPO, Ray Tune.

* :func:`train_many` / :func:`train_seeds` -- several runs of the project's PPO
  (:func:`rl.ppo.train`) as independent tasks of an executor
  (:mod:`des_supply.executors`: serial, local processes or Ray).  A run is a function of
  its configuration (seeding block, deterministic torch, envs seeded per episode), so
  every run ends with the parameters and learning curve of the same run done serially.
* :func:`rllib_ppo` / :func:`train_rllib` -- RLlib's PPO (new API stack) as an
  alternative trainer on the project's Gymnasium env (:func:`rl.make_env`) or on its
  PettingZoo env (:func:`rl.parallel_env`), with one policy per node or one shared
  policy (observations padded to one length, plus a one-hot of the node).
* :func:`tune_ppo` -- Ray Tune driving :func:`rl.ppo.train` as a trainable: each
  iteration's metrics (the columns of ``progress.csv``) are reported to Tune, checkpoints
  go to Tune as they are written, and a restored trial resumes exactly from the last one.

Ray is imported only by the RLlib and Tune functions and the ray executor
(``pip install 'des-supply[ray]'``).

On a cluster: ``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the
others (each with des-supply installed, same versions), then ``make_executor("ray",
address="auto")`` on the head, or ``address="ray://HEAD:10001"`` from elsewhere
(``des-supply ... --backend ray --address auto``).  A run's files are written on the
machine that ran it: put ``out_dir`` on a shared file system, or use what
:class:`RunSummary` brings back (parameters and learning curve).
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from des_supply.executors import Executor, SerialExecutor
from des_supply.network import Network
from des_supply.problem import Problem, as_problem

from .ppo import PPOConfig, TorchPolicy, load_agent, train

__all__ = [
    "PaddedAgents",
    "RunSummary",
    "TrainTask",
    "rllib_ppo",
    "run_task",
    "train_many",
    "train_rllib",
    "train_seeds",
    "tune_ppo",
]


# -- seeds and agents as tasks ------------------------------------------------------------------
@dataclass(frozen=True)
class TrainTask:
    """One PPO run: what :func:`rl.ppo.train` takes (*make_env* must be picklable by
    cloudpickle: a function, a ``functools.partial`` or a closure)."""

    make_env: Callable[[], gym.Env]
    config: PPOConfig
    out_dir: str
    name: str = ""

    def __repr__(self) -> str:
        return f"training {self.name or self.out_dir} (seed {self.config.seed})"


@dataclass(frozen=True)
class RunSummary:
    """What a run brings back to the process that asked for it."""

    name: str
    seed: int
    out_dir: str
    global_step: int
    history: list[dict[str, float]]  # the rows of progress.csv
    parameters: dict[str, np.ndarray] = field(repr=False)  # the agent's state_dict

    def policy(self) -> TorchPolicy:
        """The policy the run plays (``rl.ppo.load_agent``: the selected one when it kept
        its best, while ``parameters`` are the last iteration's), read from ``out_dir`` (on
        the machine that ran it)."""
        return load_agent(self.out_dir)


def run_task(task: TrainTask) -> RunSummary:
    """Run one :class:`TrainTask` (the body of each executor task)."""
    result = train(task.make_env, task.config, task.out_dir, progress=False)
    params = {k: v.detach().cpu().numpy().copy() for k, v in result.agent.state_dict().items()}
    return RunSummary(
        task.name or Path(task.out_dir).name,
        task.config.seed,
        str(task.out_dir),
        result.global_step,
        result.history,
        params,
    )


def train_many(tasks: Sequence[TrainTask], executor: Executor | None = None) -> list[RunSummary]:
    """Every task on *executor* (default serial); summaries in task order."""
    outs = [str(Path(t.out_dir).resolve()) for t in tasks]
    if len(set(outs)) != len(outs):
        raise ValueError(f"two training tasks write to the same out_dir: {outs}")
    return (executor or SerialExecutor()).map(run_task, tasks)


def train_seeds(
    make_env: Callable[[], gym.Env],
    config: PPOConfig,
    seeds: Sequence[int],
    out_dir: str | Path,
    executor: Executor | None = None,
) -> list[RunSummary]:
    """*config* trained once per seed (``out_dir/seed-<s>``), the seeds in parallel."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    tasks = [
        TrainTask(
            make_env, replace(config, seed=int(s)), str(Path(out_dir) / f"seed-{s}"), f"seed-{s}"
        )
        for s in seeds
    ]
    return train_many(tasks, executor)


# -- RLlib -----------------------------------------------------------------------------------------
class PaddedAgents:
    """A PettingZoo ParallelEnv whose agents all have one observation space, for a shared
    policy: each agent's observation padded with zeros to the longest, followed by a
    one-hot of the agent (so the shared policy knows which node it sets)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.possible_agents = list(env.possible_agents)
        self.metadata = getattr(env, "metadata", {})
        self.render_mode = getattr(env, "render_mode", None)
        boxes = [env.observation_space(a) for a in self.possible_agents]
        if not all(isinstance(b, spaces.Box) and len(b.shape) == 1 for b in boxes):
            raise ValueError(f"a shared policy needs flat Box observations, got {boxes}")
        acts = {str(env.action_space(a)) for a in self.possible_agents}
        if len(acts) != 1:
            raise ValueError(
                f"a shared policy needs one action space for every agent, got "
                f"{sorted(acts)}; use one policy per node"
            )
        self.width = max(b.shape[0] for b in boxes)
        n = len(self.possible_agents)
        low = np.concatenate([np.full(self.width, -np.inf), np.zeros(n)]).astype(np.float32)
        high = np.concatenate([np.full(self.width, np.inf), np.ones(n)]).astype(np.float32)
        low[: self.width] = np.min([np.pad(b.low, (0, self.width - b.shape[0])) for b in boxes], 0)
        high[: self.width] = np.max(
            [np.pad(b.high, (0, self.width - b.shape[0])) for b in boxes], 0
        )
        self._space = spaces.Box(low, high, dtype=np.float32)

    @property
    def agents(self) -> list[str]:
        return list(self.env.agents)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._space

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space(agent)

    def _pad(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for a, o in obs.items():
            hot = np.zeros(len(self.possible_agents), dtype=np.float32)
            hot[self.possible_agents.index(a)] = 1.0
            out[a] = np.concatenate(
                [np.pad(np.asarray(o, dtype=np.float32), (0, self.width - len(o))), hot]
            )
        return out

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._pad(obs), infos

    def step(self, actions: Mapping[str, Any]) -> tuple:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        return self._pad(obs), rewards, terminated, truncated, infos

    def close(self) -> None:
        self.env.close()

    def render(self) -> Any:
        return self.env.render()


def _gym_env(problem: Problem, env_kwargs: Mapping[str, Any], config: Any = None) -> gym.Env:
    from . import make_env
    from .wrappers import scale_observation

    return scale_observation(make_env(problem, **dict(env_kwargs)))


def _multi_agent_env(
    problem: Problem, env_kwargs: Mapping[str, Any], shared: bool, config: Any = None
) -> Any:
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from .multi_agent import parallel_env

    env = parallel_env(problem, **dict(env_kwargs))
    return ParallelPettingZooEnv(PaddedAgents(env) if shared else env)


def _shared(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return "shared"


def _own(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return str(agent_id)


def rllib_ppo(
    problem: Problem | Network,
    *,
    agents: str = "single",
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    train_batch: int = 4_000,
    minibatch: int = 128,
    epochs: int = 10,
    lr: float = 3e-4,
    gamma: float = 0.99,
    hidden: Sequence[int] = (64, 64),
    env_runners: int = 0,
) -> Any:
    """RLlib's PPO (new API stack) configured for *problem*; ``.build_algo()`` builds it.

    *agents*: ``"single"`` (the Gymnasium env, observations scaled), ``"per-node"`` (the
    PettingZoo parallel env, one policy per stocking node) or ``"shared"`` (one policy for
    every node, on :class:`PaddedAgents`).  *env_runners* 0 samples in the driver; more
    spread sampling over the Ray cluster.
    """
    from ray.rllib.algorithms.ppo import PPOConfig as RLlibPPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune.registry import register_env

    if agents not in ("single", "per-node", "shared"):
        raise ValueError(f"agents(={agents!r}) must be 'single', 'per-node' or 'shared'")
    if train_batch < minibatch or minibatch < 1:
        raise ValueError(f"minibatch(={minibatch}) must be in [1, train_batch={train_batch}]")
    problem = as_problem(problem)
    kwargs = dict(env_kwargs or {})
    name = f"des_supply-{problem.name}-{agents}-{abs(hash(repr(sorted(kwargs.items()))))}"
    if agents == "single":
        register_env(name, partial(_gym_env, problem, kwargs))
    else:
        register_env(name, partial(_multi_agent_env, problem, kwargs, agents == "shared"))
    config = (
        RLlibPPOConfig()
        .environment(env=name)
        .env_runners(num_env_runners=env_runners)
        .training(
            train_batch_size_per_learner=train_batch,
            minibatch_size=minibatch,
            num_epochs=epochs,
            lr=lr,
            gamma=gamma,
        )
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(hidden)))
        .debugging(seed=seed)
    )
    if agents != "single":
        from .multi_agent import parallel_env

        ids = list(parallel_env(problem, **kwargs).possible_agents)
        policies = {"shared"} if agents == "shared" else set(ids)
        config = config.multi_agent(
            policies=policies, policy_mapping_fn=_shared if agents == "shared" else _own
        ).rl_module(
            rl_module_spec=MultiRLModuleSpec(rl_module_specs={p: RLModuleSpec() for p in policies})
        )
    return config


def train_rllib(config: Any, iterations: int = 1) -> list[dict[str, Any]]:
    """Build the algorithm of *config* (an RLlib ``AlgorithmConfig``), train *iterations*
    iterations and stop it; one summary per iteration (steps, mean episode return)."""
    if iterations < 1:
        raise ValueError(f"iterations(={iterations}) must be >= 1")
    algo = config.build_algo()
    out = []
    try:
        for _ in range(iterations):
            result = algo.train()
            runners = result.get("env_runners", {})
            out.append(
                {
                    "training_iteration": result["training_iteration"],
                    "env_steps": runners.get("num_env_steps_sampled_lifetime"),
                    "episode_return_mean": runners.get("episode_return_mean"),
                    "result": result,
                }
            )
    finally:
        algo.stop()
    return out


# -- Ray Tune over the project's PPO -------------------------------------------------------------
def _ppo_trainable(
    params: dict[str, Any], *, make_env: Callable[[], gym.Env], base: PPOConfig
) -> None:
    """A Tune function trainable: :func:`rl.ppo.train` with *base* changed by *params*."""
    from ray import tune

    config = replace(base, **params)
    out = Path(tune.get_context().get_trial_dir()) / "ppo"
    out.mkdir(parents=True, exist_ok=True)
    resume = None
    restored = tune.get_checkpoint()
    if restored is not None:  # a restored trial: exactly where its checkpoint was
        with restored.as_directory() as d:
            shutil.copy(Path(d) / "checkpoint.pt", out / "checkpoint.pt")
        resume = True

    def report(row: dict[str, float]) -> None:
        # checkpoint.pt of iteration i is written just after iteration i's callback,
        # so the callback of i + 1 hands it to Tune
        done = row["iteration"] - 1
        if done >= 1 and done % config.checkpoint_interval == 0:
            with tempfile.TemporaryDirectory() as d:
                shutil.copy(out / "checkpoint.pt", Path(d) / "checkpoint.pt")
                tune.report(dict(row), checkpoint=tune.Checkpoint.from_directory(d))
        else:
            tune.report(dict(row))

    result = train(make_env, config, out, resume=resume, progress=False, callback=report)
    with tempfile.TemporaryDirectory() as d:  # the final checkpoint, with the last row again
        shutil.copy(out / "checkpoint.pt", Path(d) / "checkpoint.pt")
        tune.report(
            {**result.history[-1], "done": True}, checkpoint=tune.Checkpoint.from_directory(d)
        )


def tune_ppo(
    make_env: Callable[[], gym.Env],
    base: PPOConfig,
    param_space: Mapping[str, Any],
    *,
    storage_path: str | Path,
    name: str = "tune-ppo",
    num_samples: int = 1,
    metric: str = "episodic_return_mean",
    mode: str = "max",
    max_concurrent: int | None = None,
    scheduler: Any = None,
) -> Any:
    """Ray Tune over :func:`rl.ppo.train`: *param_space* maps :class:`PPOConfig` fields to
    Tune search spaces (``tune.grid_search([...])``, ``tune.loguniform(...)``); returns
    Tune's ``ResultGrid`` (each result's ``metrics`` are the last progress.csv row and its
    ``checkpoint`` the run's ``checkpoint.pt``).  Trials take one CPU each."""
    from ray import tune

    known = {f.name for f in fields(PPOConfig)}
    unknown = sorted(set(param_space) - known)
    if unknown:
        raise ValueError(
            f"PPOConfig has no field(s) {', '.join(unknown)} (fields: {', '.join(sorted(known))})"
        )
    trainable = tune.with_resources(
        tune.with_parameters(partial(_ppo_trainable, make_env=make_env, base=base)), {"cpu": 1}
    )
    tuner = tune.Tuner(
        trainable,
        param_space=dict(param_space),
        tune_config=tune.TuneConfig(
            num_samples=num_samples,
            metric=metric,
            mode=mode,
            max_concurrent_trials=max_concurrent,
            scheduler=scheduler,
        ),
        run_config=tune.RunConfig(
            storage_path=str(Path(storage_path).resolve()), name=name, verbose=0
        ),
    )
    # Tune installs its own SIGINT (and SIGUSR1) handler for the run and leaves it behind:
    # the caller's Ctrl-C would only set a flag of a finished run.  Put the caller's back.
    handlers = {sig: signal.getsignal(sig) for sig in _TUNE_SIGNALS}
    try:
        return tuner.fit()
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)


#: The signals Ray Tune takes over during ``Tuner.fit`` (SIGUSR1 where the platform has it).
_TUNE_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGUSR1") if hasattr(signal, name)
)
