"""rl.distributed: seeds as parallel tasks (the serial numbers, bit for bit), RLlib PPO
smoke runs, Ray Tune over the project's PPO.  The Ray tests share one local 2-CPU cluster
and skip without Ray."""

from __future__ import annotations

import inspect
import signal
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from ray_cluster import ray_cluster_fixture  # noqa: F401  (the module's Ray cluster)

import rl
import scenarios
from des_supply.executors import ProcessExecutor, make_executor
from rl.distributed import PaddedAgents, TrainTask, run_task, train_many, train_seeds
from rl.evaluation import evaluate_agent
from rl.ppo import PPOConfig, train

SERIAL = scenarios.make("serial")  # three stages, one agent per stage
TINY = PPOConfig(
    total_steps=128,
    n_envs=2,
    n_steps=32,
    n_minibatches=2,
    n_epochs=2,
    hidden_sizes=(16,),
    checkpoint_interval=1,
)
MAKE_ENV = partial(rl.make_env, SERIAL, periods=16, action_mode="base-stock")


def same_runs(a, b) -> bool:
    """Equal parameters and learning curves (all but the wall-clock speed column)."""

    def curve(run):
        return [{k: v for k, v in row.items() if k != "sps"} for row in run.history]

    return all(
        x.seed == y.seed
        and x.global_step == y.global_step
        and curve(x) == curve(y)
        and x.parameters.keys() == y.parameters.keys()
        and all(np.array_equal(x.parameters[k], y.parameters[k]) for k in x.parameters)
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def serial_runs(tmp_path_factory):
    return train_seeds(MAKE_ENV, TINY, [1, 2], tmp_path_factory.mktemp("serial"))


def test_seeds_differ_and_processes_give_the_serial_runs(serial_runs, tmp_path) -> None:
    one, two = serial_runs
    assert one.global_step == two.global_step == 128 and len(one.history) == 2
    assert not all(
        np.array_equal(one.parameters[k], two.parameters[k])  # seeds matter
        for k in one.parameters
    )
    with ProcessExecutor(2) as ex:
        parallel = train_seeds(MAKE_ENV, TINY, [1, 2], tmp_path, executor=ex)
    assert same_runs(parallel, serial_runs)
    assert (tmp_path / "seed-2" / "checkpoint.pt").exists()
    assert parallel[0].policy()(MAKE_ENV().reset(seed=0)[0]).shape == (3,)


def test_bad_requests_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="seeds must be distinct"):
        train_seeds(MAKE_ENV, TINY, [1, 1], tmp_path)
    task = TrainTask(MAKE_ENV, TINY, str(tmp_path / "a"))
    with pytest.raises(ValueError, match="same out_dir"):
        train_many([task, task])
    assert repr(task) == f"training {tmp_path / 'a'} (seed 1)"
    assert run_task(task).name == "a"


def test_padded_agents_share_one_space() -> None:
    env = PaddedAgents(rl.parallel_env(SERIAL, periods=8))
    spaces_ = {str(env.observation_space(a)) for a in env.possible_agents}
    assert len(spaces_) == 1
    obs, _ = env.reset(seed=3)
    raw, _ = env.env.reset(seed=3)
    n = len(env.possible_agents)
    for i, a in enumerate(env.possible_agents):
        assert obs[a].shape == (env.width + n,)
        assert np.array_equal(obs[a][: len(raw[a])], raw[a])
        assert np.array_equal(obs[a][env.width :], np.eye(n)[i])
        assert env.observation_space(a).contains(obs[a])


needs_wiring = pytest.mark.skipif(
    "executor" not in inspect.signature(evaluate_agent).parameters,
    reason="rl.evaluation.evaluate_agent takes no executor yet",
)


def evaluations(executor, run) -> np.ndarray:
    return evaluate_agent(MAKE_ENV, run.policy(), seed=3, episodes=5, executor=executor).per_episode


@needs_wiring
def test_agent_evaluation_on_processes(serial_runs) -> None:
    with ProcessExecutor(2) as ex:
        assert np.array_equal(evaluations(ex, serial_runs[0]), evaluations(None, serial_runs[0]))


# -- Ray ------------------------------------------------------------------------------------------
@needs_wiring
def test_agent_evaluation_on_ray(ray_cluster, serial_runs) -> None:
    with make_executor("ray") as ex:
        assert np.array_equal(evaluations(ex, serial_runs[0]), evaluations(None, serial_runs[0]))


def test_ray_gives_the_serial_runs(ray_cluster, serial_runs, tmp_path) -> None:
    with make_executor("ray") as ex:
        assert same_runs(train_seeds(MAKE_ENV, TINY, [1, 2], tmp_path, executor=ex), serial_runs)


@pytest.mark.parametrize("agents", ["single", "per-node", "shared"])
def test_rllib_ppo_one_iteration(ray_cluster, agents) -> None:
    from rl.distributed import rllib_ppo, train_rllib

    config = rllib_ppo(
        SERIAL,
        agents=agents,
        env_kwargs={"periods": 16},
        train_batch=64,
        minibatch=32,
        epochs=1,
        hidden=(16,),
    )
    (it,) = train_rllib(config, iterations=1)
    assert it["training_iteration"] == 1 and it["env_steps"] >= 64
    assert np.isfinite(it["episode_return_mean"]) and it["episode_return_mean"] < 0  # costs
    modules = set(it["result"]["learners"]) - {"__all_modules__"}
    expected = {
        "single": {"default_policy"},
        "shared": {"shared"},
        "per-node": set(rl.parallel_env(SERIAL).possible_agents),
    }[agents]
    assert modules == expected


def test_tune_drives_the_projects_ppo(ray_cluster, serial_runs, tmp_path) -> None:
    from ray import tune

    from rl.distributed import tune_ppo

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGUSR1)}
    grid = tune_ppo(
        MAKE_ENV,
        TINY,
        {"seed": tune.grid_search([1, 2])},
        storage_path=tmp_path,
        metric="episodic_return_mean",
        mode="max",
    )
    assert grid.num_errors == 0 and len(grid) == 2
    # Tune's own Ctrl-C handler is gone: the caller's handlers are back
    assert {sig: signal.getsignal(sig) for sig in before} == before
    by_seed = {r.config["seed"]: r for r in grid}
    for run in serial_runs:  # a Tune trial is the same run as a serial one
        result = by_seed[run.seed]
        last = run.history[-1]
        assert result.metrics["global_step"] == 128 and result.metrics["done"]
        for key in ("value_loss", "policy_loss", "approx_kl"):
            assert result.metrics[key] == last[key]
        assert result.checkpoint is not None
        # iteration 1's checkpoint went to Tune with iteration 2's report, the final one last
        (mid, mid_metrics), (final, _) = result.best_checkpoints
        assert mid_metrics["iteration"] == 2
        with mid.as_directory() as d:
            saved = torch.load(Path(d) / "checkpoint.pt", weights_only=True)
            assert saved["iteration"] == 1
            # a trial restored from it resumes exactly: the serial run's parameters
            resumed = train(
                MAKE_ENV,
                replace(TINY, seed=run.seed),
                tmp_path / f"resumed-{run.seed}",
                resume=Path(d) / "checkpoint.pt",
                progress=False,
            )
        assert all(
            np.array_equal(v.numpy(), run.parameters[k])
            for k, v in resumed.agent.state_dict().items()
        )
