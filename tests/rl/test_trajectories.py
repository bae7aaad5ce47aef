"""Trajectory datasets: Minari round trip, common random numbers, behaviours, merging."""

from __future__ import annotations

import json

import numpy as np
import pytest

minari = pytest.importorskip("minari")

import rl  # noqa: E402
import scenarios  # noqa: E402
from des_supply.evaluate import simulate  # noqa: E402
from des_supply.policies import BaseStock  # noqa: E402
from rl.trajectories import (  # noqa: E402
    EnginePolicy,
    MirroredAgent,
    NoisyPolicy,
    RandomOrders,
    collect,
    info,
    load,
    load_episodes,
    merge,
    run_behaviour,
)

PERIODS = 25


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("single-stage", lead_time=2, penalty=9)


def make(problem, **kw):
    return rl.make_env(problem, periods=PERIODS, discrete=True, max_order=30, **kw)


def test_minari_reads_the_dataset_by_path_and_by_id(problem, tmp_path, monkeypatch):
    root = tmp_path / "root"
    out = root / "des-supply" / "bs-v0"
    collect(
        make(problem),
        EnginePolicy(BaseStock(17), "base-stock", {"level": 17}),
        episodes=3,
        seed=5,
        out=out,
        problem={"scenario": "single-stage", "params": problem.params},
        env_kwargs={"periods": PERIODS},
        dataset_id="des-supply/bs-v0",
    )
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    ds = minari.load_dataset("des-supply/bs-v0")
    assert ds.total_episodes == 3 and ds.total_steps == 3 * PERIODS
    assert ds.action_space == make(problem).action_space
    ep = next(ds.iterate_episodes())
    assert ep.observations.shape == (PERIODS + 1, len(make(problem).observation_names))
    assert bool(ep.truncations[-1]) and not ep.terminations.any()
    meta = next(iter(ds.storage.get_episode_metadata([2])))
    assert meta["behaviour"] == "base-stock" and int(meta["episode"]) == 2
    assert int(meta["seed"]) == 5 and json.loads(meta["behaviour_params"]) == {"level": 17}
    assert json.loads(meta["problem"])["scenario"] == "single-stage"
    assert load(out).total_episodes == 3 and info(out)["env"] == {"periods": PERIODS}


def test_logged_episodes_are_the_engine_replications(problem, tmp_path):
    """Episode k of seed s is replication k of simulate(seed=s): same costs, and the
    stored actions replay to the same rewards."""
    env = make(problem)
    collect(env, EnginePolicy(BaseStock(16), "base-stock"), episodes=3, seed=7, out=tmp_path / "d")
    eps = load_episodes(tmp_path / "d")
    sim = simulate(problem, BaseStock(16), periods=PERIODS, replications=3, seed=7)
    np.testing.assert_allclose([e.meta["value"] for e in eps], sim.per_replication)
    np.testing.assert_allclose([-e.rewards.mean() for e in eps], sim.per_replication)
    env.reset(seed=7, options={"episode": 1})
    replay = [env.step(int(a))[1] for a in eps[1].actions]
    np.testing.assert_array_equal(replay, eps[1].rewards)


def test_noisy_and_random_behaviours_are_seeded(problem):
    env = make(problem)
    noisy = lambda: NoisyPolicy(EnginePolicy(BaseStock(16), "base-stock"), 3.0)
    a = run_behaviour(env, noisy(), episodes=2, seed=3)
    b = run_behaviour(env, noisy(), episodes=2, seed=3)
    plain = run_behaviour(env, EnginePolicy(BaseStock(16), "base-stock"), episodes=2, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, plain)
    r1 = run_behaviour(env, RandomOrders(), episodes=2, seed=3)
    np.testing.assert_array_equal(r1, run_behaviour(env, RandomOrders(), episodes=2, seed=3))
    with pytest.raises(ValueError, match="noise std"):
        NoisyPolicy(EnginePolicy(BaseStock(16), "b"), -1.0)


def test_mirrored_agent_stays_in_lockstep(problem):
    """An agent acting in an env of its own (here one in base-stock mode, action = level)
    logs the same orders as the engine policy it mimics."""

    def level_env():
        return rl.make_env(problem, periods=PERIODS, action_mode="base-stock", max_level=40)

    agent = MirroredAgent(level_env, lambda obs: np.array([2 * 16 / 40 - 1.0]), "levels")
    env = make(problem)
    np.testing.assert_allclose(
        run_behaviour(env, agent, episodes=2, seed=1),
        run_behaviour(env, EnginePolicy(BaseStock(16), "bs"), episodes=2, seed=1),
    )
    other = MirroredAgent(
        lambda: rl.make_env(
            scenarios.make("single-stage", lead_time=1), periods=PERIODS, action_mode="base-stock"
        ),
        lambda obs: np.array([0.0]),
        "other",
    )
    with pytest.raises(RuntimeError, match="lockstep"):
        run_behaviour(env, other, episodes=1, seed=1)


def test_merge_keeps_episodes_and_metadata_and_refuses_other_spaces(problem, tmp_path):
    env = make(problem)
    collect(env, EnginePolicy(BaseStock(16), "base-stock"), episodes=2, seed=1, out=tmp_path / "a")
    collect(env, RandomOrders(), episodes=3, seed=2, out=tmp_path / "b")
    merge([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    eps = load_episodes(tmp_path / "m")
    assert [e.meta["behaviour"] for e in eps] == ["base-stock"] * 2 + ["random"] * 3
    assert [e.meta["seed"] for e in eps] == [1, 1, 2, 2, 2]
    np.testing.assert_array_equal(eps[3].rewards, load_episodes(tmp_path / "b")[1].rewards)
    assert info(tmp_path / "m")["behaviours"] == ["base-stock", "random"]
    collect(
        rl.make_env(problem, periods=PERIODS, discrete=True, max_order=10),
        RandomOrders(),
        episodes=1,
        seed=1,
        out=tmp_path / "c",
    )
    with pytest.raises(ValueError, match="action_space"):
        merge([tmp_path / "a", tmp_path / "c"], tmp_path / "m2")
    with pytest.raises(ValueError, match="not empty"):
        collect(env, RandomOrders(), episodes=1, seed=1, out=tmp_path / "a")
    assert not list(tmp_path.glob("*.partial"))


def test_an_interrupted_collect_leaves_no_dataset(problem, tmp_path):
    class Failing(RandomOrders):
        def orders(self, env):
            if env.view.t == 5:
                raise KeyboardInterrupt
            return super().orders(env)

    with pytest.raises(KeyboardInterrupt):
        collect(make(problem), Failing(), episodes=2, seed=0, out=tmp_path / "d")
    assert not (tmp_path / "d").exists()
    collect(make(problem), RandomOrders(), episodes=1, seed=0, out=tmp_path / "d")
    assert len(load_episodes(tmp_path / "d")) == 1 and not (tmp_path / "d.partial").exists()


def test_collect_needs_a_quantity_env(problem, tmp_path):
    env = rl.make_env(problem, periods=PERIODS, action_mode="base-stock")
    with pytest.raises(ValueError, match="quantity"):
        collect(env, RandomOrders(), episodes=1, seed=0, out=tmp_path / "x")
