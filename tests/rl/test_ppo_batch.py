"""PPO on the batch engine: the same rollouts as on the event engine, exact resume, fallback.

The batch runner (:class:`rl.buffers.BatchEnvRunner`) gives sub-env *i* the very episode
seeds that :class:`rl.buffers.EnvRunner` gives it, and the batch engine reproduces the
event engine's draws, so for the same actions both give the same rollouts.
"""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import scenarios
from rl.buffers import BatchEnvRunner, EnvRunner, Rollout, batch_runner_reason, ppo_episode_seed
from rl.env import make_env
from rl.networks import Agent
from rl.ppo import PPOConfig, train
from rl.vector_env import WrappedBatchEnv, why_not_vectorize
from scenarios.presets import make_thunk, preset


def single_stage(L: int = 2, p: float = 9.0, periods: int = 20):
    problem = scenarios.make("single-stage", lead_time=L, penalty=p)
    cfg, spec = preset(problem)
    spec = {**spec, "env": {**spec["env"], "periods": periods}}
    # the engines here, not the preset's selection (tests/rl/test_ppo_selection.py): its
    # warm-up would outlast these short episodes
    cfg = dataclasses.replace(cfg, select_every=0)
    return problem, cfg, make_thunk(problem, spec)


SMALL = {"n_envs": 4, "n_steps": 32, "n_epochs": 2, "n_minibatches": 2, "checkpoint_interval": 100}


def params(agent: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in agent.state_dict().items()}


def assert_same_params(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def rollout_of(runner_cls, thunk, config, steps_seed=0):
    """One rollout of a fresh runner, the agent initialised from torch seed *steps_seed*."""
    torch.manual_seed(steps_seed)
    runner = runner_cls(thunk, config)
    agent = Agent(runner.obs_dim, runner.action_space, (8,), "tanh", 0.0)
    runner.start()
    rollout = Rollout.empty(config.n_steps, config.n_envs, runner.obs_dim, runner.layout.width)
    runner.collect(agent, rollout)
    return runner, rollout


@pytest.mark.parametrize(("L", "p"), [(1, 4.0), (3, 39.0)])
def test_batch_and_event_runners_give_the_same_rollouts(L, p):
    """Same seed, same (sampled) actions: identical observations, rewards, truncations,
    bootstrap values and finished episodes; episodes of 20 periods end inside the rollout."""
    _, cfg, thunk = single_stage(L, p, periods=20)
    config = dataclasses.replace(cfg, total_steps=4 * 48, seed=3, n_envs=4, n_steps=48)
    event, a = rollout_of(EnvRunner, thunk, config)
    batch, b = rollout_of(BatchEnvRunner, thunk, config)
    assert (event.engine, batch.engine) == ("event", "batch")
    for field in ("obs", "actions", "rewards", "truncated", "final_values", "values", "logprobs"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert a.truncated.any()  # two episodes ended in the rollout
    assert event.finished == batch.finished and len(batch.finished) == 8
    assert event.state_dict()["episode"] == batch.state_dict()["episode"] == [3] * 4
    assert np.array_equal(event.raw_obs, batch.raw_obs)


def test_batch_streams_are_the_event_envs_reset_seeds():
    """Sub-env i's episode k on the batch engine runs on the seed the event runner's reset
    gives the env: replay the event env's draws by hand and compare the first periods."""
    _, cfg, thunk = single_stage(2, 9.0, periods=10)
    seed, i, k = 5, 2, 1
    word = int(np.random.SeedSequence(seed, spawn_key=(i, k)).generate_state(1)[0])
    env = thunk()
    env.reset(seed=word)
    actions = np.linspace(-1, 1, 10, dtype=np.float32).reshape(10, 1)
    single = [env.step(a)[1] for a in actions]
    vec = WrappedBatchEnv(thunk(), 3, episode_seeds=lambda j, m: ppo_episode_seed(seed, j, m))
    vec.reset(options={"round": k})
    batch = [vec.step(np.repeat(a[None], 3, axis=0))[1][i] for a in actions]
    assert single == batch


def test_same_seed_same_parameters_and_both_engines_train_alike(tmp_path):
    """Deterministic per seed on the batch engine; on single-stage the batch engine's rewards
    are the event engine's bit for bit, so the trained parameters are too."""
    _, cfg, thunk = single_stage(2, 9.0, periods=16)
    config = dataclasses.replace(cfg, total_steps=512, **SMALL, engine="batch")
    first = train(thunk, config, tmp_path / "a", progress=False)
    second = train(thunk, config, tmp_path / "b", progress=False)
    event = train(
        thunk, dataclasses.replace(config, engine="event"), tmp_path / "c", progress=False
    )
    assert_same_params(params(first.agent), params(second.agent))
    assert_same_params(params(first.agent), params(event.agent))
    assert json.loads((tmp_path / "a" / "config.json").read_text())["engine"] == "batch"
    assert json.loads((tmp_path / "c" / "config.json").read_text())["engine"] == "event"
    other = train(thunk, dataclasses.replace(config, seed=2), tmp_path / "d", progress=False)
    assert not torch.equal(
        params(first.agent)["actor.0.weight"], params(other.agent)["actor.0.weight"]
    )


def test_resume_on_the_batch_engine_is_exact(tmp_path):
    """N steps straight == N/2 steps, stop, resume; 24-period episodes span the checkpoint."""
    _, cfg, thunk = single_stage(2, 9.0, periods=24)
    config = dataclasses.replace(cfg, total_steps=1024, **SMALL, engine="batch")
    straight = train(thunk, config, tmp_path / "straight", progress=False)
    part = train(
        thunk,
        config,
        tmp_path / "parts",
        progress=False,
        callback=lambda row: row["global_step"] < 512,
    )
    assert part.stopped_early and part.global_step == 512
    state = torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=True)
    assert 0 < len(state["runner"]["episode_actions"][0]) < 24  # mid-episode
    resumed = train(thunk, config, tmp_path / "parts", resume=True, progress=False)
    assert resumed.global_step == 1024
    assert_same_params(params(straight.agent), params(resumed.agent))

    def drop_sps(rows):
        return [{k: v for k, v in r.items() if k != "sps"} for r in rows]

    np.testing.assert_equal(drop_sps(resumed.history), drop_sps(straight.history))


def test_resume_refuses_sub_envs_out_of_step(tmp_path):
    _, cfg, thunk = single_stage(2, 9.0, periods=24)
    config = dataclasses.replace(cfg, total_steps=1024, **SMALL)
    runner = BatchEnvRunner(thunk, config)
    runner.start()
    state = runner.state_dict()
    state["episode"] = [1, 2, 1, 1]
    with pytest.raises(ValueError, match="resume with engine='event'"):
        runner.load_state_dict(state)


class Doubling(gym.ObservationWrapper):
    """A wrapper without a batch version."""

    def observation(self, observation):
        return 2 * observation


def test_what_cannot_be_batched_falls_back_to_the_event_engine(tmp_path):
    problem, cfg, thunk = single_stage(2, 9.0, periods=16)
    assert batch_runner_reason(thunk) is None
    assert "one thunk" in batch_runner_reason([thunk] * 4)
    reason = why_not_vectorize(Doubling(make_env(problem, periods=16)))
    assert reason is not None and "Doubling" in reason
    assert "CartPole" in batch_runner_reason(lambda: gym.make("CartPole-v1").unwrapped)
    with pytest.raises(ValueError, match="Doubling"):
        WrappedBatchEnv(Doubling(make_env(problem, periods=16)), 2)

    def doubled():
        return Doubling(make_env(problem, periods=16, action_mode="base-stock"))

    config = PPOConfig(total_steps=256, **{**SMALL, "n_steps": 64}, engine="batch")
    with pytest.warns(UserWarning, match="PPO on the event engine: .*Doubling"):
        run = train(doubled, config, tmp_path / "a", progress=False)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["engine"] == "event"
    assert run.global_step == 256
    auto = train(
        doubled, dataclasses.replace(config, engine="auto"), tmp_path / "b", progress=False
    )
    assert_same_params(params(run.agent), params(auto.agent))
    with pytest.raises(ValueError, match="engine"):
        PPOConfig(engine="gpu")


def test_an_echelon_window_is_not_batched():
    from scenarios.presets import ActionWindow

    problem = scenarios.make("serial")
    env = ActionWindow(
        make_env(problem, periods=10, action_mode="base-stock"), 0.0, 40.0, echelon=True
    )
    assert "echelon" in why_not_vectorize(env)


def test_reset_round_restarts_the_episode_numbering_mid_way():
    """``reset(options={"round": 1})`` begins what the second round of episodes begins
    after playing the first to its end (NEXT_STEP autoreset)."""
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    a = WrappedBatchEnv(make_env(problem, periods=5), 3, seed=7, autoreset_mode="NextStep")
    b = WrappedBatchEnv(make_env(problem, periods=5), 3, seed=7, autoreset_mode="NextStep")
    a.reset()
    for _ in range(5):
        a.step(np.zeros((3, 1)))
    assert a.round == 1
    obs_a, _, _, _, info_a = a.step(np.zeros((3, 1)))  # the autoreset step
    obs_b, info_b = b.reset(options={"round": 1})
    assert np.array_equal(obs_a, obs_b) and b.round == 2
    assert list(info_a["replication"]) == list(info_b["replication"]) == [3, 4, 5]
    with pytest.raises(ValueError, match="round"):
        b.reset(options={"round": -1})
