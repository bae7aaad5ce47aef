"""Datasets of a collaborative problem: every decision (orders per supplier, prices,
recommendation) logged in the collaborative env's action space, Minari round trip, common
random numbers with ``simulate``, replay, and the four kinds of behaviour."""

from __future__ import annotations

import numpy as np
import pytest

minari = pytest.importorskip("minari")

import scenarios  # noqa: E402
from des_supply.collaborative_policies import CollaborativeBaseStock  # noqa: E402
from des_supply.evaluate import simulate  # noqa: E402
from rl.collaborative_env import make_collaborative_env  # noqa: E402
from rl.trajectories import (  # noqa: E402
    EnginePolicy,
    MirroredAgent,
    NoisyPolicy,
    RandomOrders,
    collect,
    load,
    load_episodes,
    merge,
    run_behaviour,
)

PERIODS = 20
LEVELS = {"i0": 7.0, "i1": 25.0, "i2": 37.0}


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("collaborative")


@pytest.fixture(scope="module")
def anchor(problem):
    return CollaborativeBaseStock(LEVELS, 1.1)


def make(problem, anchor, levels=LEVELS):
    return make_collaborative_env(
        problem,
        periods=PERIODS,
        levels=levels,
        price_factor=1.1,
        intensities=anchor.recommendation(problem),
    )


def test_minari_round_trip_and_the_engine_replications(problem, anchor, tmp_path):
    """A tiny dataset of the reference policy: Minari reads it, episode k is replication k of
    simulate(seed=s) (same profit), and the stored actions replay to the stored rewards."""
    env = make(problem, anchor)
    out = collect(
        env,
        EnginePolicy(anchor, "collab-base-stock", {"level": LEVELS, "price_factor": 1.1}),
        episodes=3,
        seed=7,
        out=tmp_path / "ref",
        problem={"scenario": "collaborative", "params": {}},
    )
    ds = minari.MinariDataset(out / "data")
    assert ds.total_episodes == 3 and ds.total_steps == 3 * PERIODS
    assert ds.action_space == env.action_space and ds.observation_space == env.observation_space
    assert load(out).total_episodes == 3
    eps = load_episodes(out)
    sim = simulate(problem, anchor, periods=PERIODS, replications=3, seed=7)
    np.testing.assert_allclose([e.meta["value"] for e in eps], sim.per_replication, rtol=1e-9)
    assert all(e.actions.shape == (PERIODS, len(env.action_names)) for e in eps)
    np.testing.assert_allclose(eps[0].actions[:, 1], 0.0)  # the anchor's own price
    env.reset(seed=7, options={"episode": 2})
    replay = [env.step(a)[1] for a in eps[2].actions]
    np.testing.assert_array_equal(replay, eps[2].rewards)


@pytest.mark.parametrize("kind", ["noisy", "random"])
def test_noisy_and_random_datasets_replay_and_are_seeded(problem, anchor, tmp_path, kind):
    env = make(problem, anchor)
    base = EnginePolicy(anchor, "collab-base-stock")
    who = (lambda: NoisyPolicy(base, 0.2)) if kind == "noisy" else RandomOrders
    out = collect(env, who(), episodes=2, seed=3, out=tmp_path / kind)
    eps = load_episodes(out)
    env.reset(seed=3, options={"episode": 1})
    replay = [env.step(a)[1] for a in eps[1].actions]
    np.testing.assert_array_equal(replay, eps[1].rewards)
    again = run_behaviour(env, who(), episodes=2, seed=3)
    np.testing.assert_array_equal(again, [e.meta["value"] for e in eps])
    plain = run_behaviour(env, base, episodes=2, seed=3)
    assert np.all(again < plain)  # noise costs money here
    assert eps[0].actions.std(axis=0).min() > 0  # every component moves


def test_a_mirrored_agent_logs_what_it_did_in_its_own_env(problem, anchor, tmp_path):
    """An agent acting in an env of its own (other anchor levels: other encoding) logs the
    engine actions it placed; with the zero action it is that env's anchor policy."""
    other_levels = {"i0": 9.0, "i1": 30.0, "i2": 40.0}

    agent = MirroredAgent(
        lambda: make(problem, anchor, other_levels), lambda obs: np.zeros(24, np.float32), "zero"
    )
    env = make(problem, anchor)
    np.testing.assert_allclose(
        run_behaviour(env, agent, episodes=2, seed=1),
        simulate(
            problem,
            CollaborativeBaseStock(other_levels, 1.1),
            periods=PERIODS,
            replications=2,
            seed=1,
        ).per_replication,
        rtol=1e-9,
    )


def test_merge_mixes_behaviours_and_unrepresentable_actions_stop_the_collect(
    problem, anchor, tmp_path
):
    env = make(problem, anchor)
    a = collect(env, EnginePolicy(anchor, "ref"), episodes=1, seed=0, out=tmp_path / "a")
    b = collect(env, RandomOrders(), episodes=1, seed=0, out=tmp_path / "b")
    mixed = load_episodes(merge([a, b], tmp_path / "mix"))
    assert [e.meta["behaviour"] for e in mixed] == ["ref", "random"]
    far = CollaborativeBaseStock(LEVELS, 2.0)  # prices outside the env's +-25 %
    with pytest.raises(ValueError, match=r"i0\.price"):
        collect(env, EnginePolicy(far, "far"), episodes=1, seed=0, out=tmp_path / "c")
    assert not (tmp_path / "c").exists()
