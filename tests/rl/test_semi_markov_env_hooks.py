"""The semi-Markov env uses rl.env's public hooks (one env base): episode numbering
(EpisodeSeeds) and orders -> action (NetworkLayout.order_action), as InventoryEnv does."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply.rng import replication_seed
from rl.env import EpisodeSeeds, make_env
from rl.semi_markov_env import make_semi_markov_env


def test_episode_seeds_number_episodes_like_simulate_replications():
    seeds = EpisodeSeeds(episode_offset=1, episode_stride=2)
    first = seeds.start(7, None)
    assert seeds.episode == 1
    assert first.entropy == replication_seed(7, 1).entropy
    assert first.spawn_key == replication_seed(7, 1).spawn_key
    seeds.start(None, None)
    assert seeds.episode == 3
    seeds.start(None, {"episode": 0})
    assert seeds.episode == 0 and seeds.next_episode == 2
    with pytest.raises(ValueError, match=r"options\['episode'\]"):
        seeds.start(None, {"episode": -1})
    with pytest.raises(ValueError, match="episode_stride"):
        EpisodeSeeds(0, 0)


def test_both_envs_number_their_episodes_the_same_way():
    smdp = make_semi_markov_env(scenarios.make("continuous-review"), horizon=5, episode_offset=2)
    periodic = make_env(scenarios.make("single-stage"), periods=5, episode_offset=2)
    for env in (smdp, periodic):
        env.reset(seed=3)
        env.reset()
        _, info = env.reset(options={"episode": 9})
        assert info["replication"] == 9
    assert smdp.episode == 9 and smdp.seeds.next_episode == 10
    with pytest.raises(ValueError, match="episode_offset"):
        make_semi_markov_env(scenarios.make("continuous-review"), horizon=5, episode_offset=-1)


@pytest.mark.parametrize("discrete", [False, True])
def test_orders_to_action_is_the_layouts_and_places_those_orders(discrete):
    env = make_semi_markov_env(
        scenarios.make("continuous-owmr"), horizon=5, discrete=discrete, max_order=10
    )
    env.reset(seed=1)
    action = env.orders_to_action({"warehouse": 4, "r2": 3})
    assert np.array_equal(
        np.asarray(action), np.asarray(env.layout.order_action({"warehouse": 4, "r2": 3}))
    )
    assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))
    _, _, _, _, info = env.step(action)
    expected = {"warehouse": 4.0, "r1": 0.0, "r2": 3.0, "r3": 0.0}
    # time 0: every node reviews; it orders what was asked
    assert dict(zip(env.nodes, info["orders"])) == pytest.approx(expected)
    with pytest.raises(ValueError, match="outside"):
        env.orders_to_action({"r1": 11})
    with pytest.raises(ValueError, match="no stocking node"):
        env.orders_to_action({"nowhere": 1})
