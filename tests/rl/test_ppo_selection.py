"""PPO keeps its best policy (``PPOConfig.select_every``): judged on fixed batch-engine
episodes at iteration 0 and every k iterations, saved with its normaliser in best.pt,
reproducible, resumable, and without any effect on training itself."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import pytest
import torch

import scenarios
from rl.env import make_env
from rl.evaluation import evaluate_agent
from rl.ppo import PPOConfig, load_agent, train
from rl.selection import PolicySelector
from rl.training import CheckpointError
from scenarios.presets import make_thunk, preset

TINY = dict(
    total_steps=512,
    n_envs=2,
    n_steps=32,
    n_minibatches=2,
    n_epochs=2,
    seed=3,
    checkpoint_interval=1000,
    reward_scale=0.1,
)
SELECT = dict(select_every=2, select_episodes=4, select_warmup=5)


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("single-stage")


def thunk(problem, periods=20):
    return lambda: make_env(problem, periods=periods)


def rows(path):
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_best_is_the_max_of_the_logged_scores_and_reloads(tmp_path, problem):
    config = PPOConfig(**TINY, **SELECT)
    result = train(thunk(problem), config, tmp_path, progress=False, select_env=thunk(problem, 40))
    log = rows(tmp_path / "selection.csv")
    assert [r["iteration"] for r in log] == [0, 2, 4, 6, 8]  # 8 iterations: the last is judged
    best = max(log, key=lambda r: r["score"])
    assert result.best is not None
    assert result.best["score"] == best["score"] == log[-1]["best_score"]
    assert result.best["iteration"] == best["iteration"] == log[-1]["best_iteration"]
    assert json.loads((tmp_path / "best.json").read_text()) == result.best
    # best.pt holds the weights and the normaliser of that moment: scoring it again on the
    # same episodes gives the logged score exactly
    selector = PolicySelector(thunk(problem, 40), episodes=4, seed=config.select_seed, warmup=5)
    policy = load_agent(tmp_path, best=True)
    assert selector.score(policy.agent, policy.obs_rms) == best["score"]
    assert result.best_policy is not None
    assert selector.score(result.best_policy.agent, result.best_policy.obs_rms) == best["score"]
    # an out_dir gives the policy the run plays: the selected one; best=False the last one
    played, last = load_agent(tmp_path), load_agent(tmp_path, best=False)
    assert selector.score(played.agent, played.obs_rms) == best["score"]
    for key, value in last.agent.state_dict().items():
        assert torch.equal(value, result.agent.state_dict()[key]), key


def test_the_starting_policy_is_kept_when_training_makes_it_worse(tmp_path, problem):
    """The preset's env starts at the best base-stock level (action 0); a learning rate
    of 0.05 moves the policy away from it at once: every later score is lower."""
    _, spec = preset(problem)
    make = make_thunk(problem, {**spec, "env": {**spec["env"], "periods": 20}})
    config = PPOConfig(**{**TINY, "learning_rate": 0.05, "anneal_lr": False}, **SELECT)
    result = train(make, config, tmp_path, progress=False)
    log = rows(tmp_path / "selection.csv")
    assert all(r["score"] < log[0]["score"] for r in log[1:]), log
    assert result.best is not None and result.best["iteration"] == 0
    assert result.best["global_step"] == 0
    start = torch.load(tmp_path / "best.pt", weights_only=True)
    assert start["iteration"] == 0 and start["select_score"] == log[0]["score"]


def test_selection_changes_nothing_in_training(tmp_path, problem):
    plain = train(thunk(problem), PPOConfig(**TINY), tmp_path / "plain", progress=False)
    chosen = train(thunk(problem), PPOConfig(**TINY, **SELECT), tmp_path / "sel", progress=False)
    for key, value in plain.agent.state_dict().items():
        assert torch.equal(value, chosen.agent.state_dict()[key]), key
    assert plain.best is None and plain.best_policy is None
    assert not (tmp_path / "plain" / "best.pt").exists()
    with pytest.raises(CheckpointError, match="no best policy"):
        load_agent(tmp_path / "plain", best=True)


def test_same_seed_same_best_and_resume_keeps_it(tmp_path, problem):
    config = PPOConfig(**TINY, **SELECT)
    a = train(thunk(problem), config, tmp_path / "a", progress=False)
    b = train(thunk(problem), config, tmp_path / "b", progress=False)
    best_a = (tmp_path / "a" / "best.pt").read_bytes()
    assert best_a == (tmp_path / "b" / "best.pt").read_bytes()
    assert a.best == b.best

    part = train(
        thunk(problem),
        config,
        tmp_path / "c",
        progress=False,
        callback=lambda row: row["iteration"] < 5,  # stops after iteration 5 (not judged)
    )
    assert part.stopped_early
    # a best.pt newer than the checkpoint (a crash between the two) is replaced on resume
    (tmp_path / "c" / "best.pt").write_bytes(b"not this one")
    resumed = train(thunk(problem), config, tmp_path / "c", resume=True, progress=False)
    assert resumed.best == a.best
    assert (tmp_path / "c" / "best.pt").read_bytes() == best_a
    assert rows(tmp_path / "c" / "selection.csv") == rows(tmp_path / "a" / "selection.csv")
    for key, value in a.agent.state_dict().items():
        assert torch.equal(value, resumed.agent.state_dict()[key]), key


def test_bad_settings_say_what_is_wrong(tmp_path, problem):
    with pytest.raises(ValueError, match=r"select_every\(=-1\) must be >= 0"):
        PPOConfig(select_every=-1)
    with pytest.raises(ValueError, match=r"select_episodes\(=0\) must be >= 1"):
        PPOConfig(select_episodes=0)
    config = PPOConfig(**TINY, **SELECT)
    with pytest.raises(ValueError, match="batch engine runs; it cannot run"):
        train(lambda: gym.make("Pendulum-v1"), config, tmp_path / "p", progress=False)
    late = PPOConfig(**{**TINY, **SELECT, "select_warmup": 20})
    with pytest.raises(ValueError, match=r"select_warmup\(=20\) leaves nothing"):
        train(thunk(problem), late, tmp_path / "w", progress=False)
    with pytest.raises(ValueError, match="pass select_env"):
        train([thunk(problem)] * 2, config, tmp_path / "s", progress=False)


def test_score_is_minus_the_engine_cost_on_the_episodes_of_its_seed(tmp_path, problem):
    """Selection episode k is replication k of the seed: the score is minus the mean cost
    per period that rl.evaluation.evaluate_agent measures on the event engine."""
    train(thunk(problem), PPOConfig(**TINY), tmp_path, progress=False)
    policy = load_agent(tmp_path)
    selector = PolicySelector(thunk(problem), episodes=3, seed=7)
    score = selector.score(policy.agent, policy.obs_rms)
    selector.close()
    event = evaluate_agent(thunk(problem), policy, seed=7, episodes=3)
    assert score == pytest.approx(-event.mean, rel=1e-12)
