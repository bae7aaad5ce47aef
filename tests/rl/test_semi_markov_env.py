"""The semi-Markov env: a step per decision event, rewards that sum to the engine's cost,
episodes that are the replications of simulate_continuous, and Gymnasium's checker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import scenarios
from des_supply import RQ, BaseStock
from des_supply.continuous import ContinuousSimulation, simulate_continuous
from des_supply.rng import replication_seed
from rl.semi_markov_env import SemiMarkovEnv, make_semi_markov_env

EPOCHS = ["demand", "arrival", "event", 2.5]


@pytest.fixture(scope="module")
def review():
    return scenarios.make("continuous-review", fixed_cost=20.0)


@pytest.fixture(scope="module")
def owmr():
    return scenarios.make("continuous-owmr")


def run_policy(env, policy, seed=None, options=None):
    """Drive *env* with an engine policy through quantity actions; (rewards, infos)."""
    env.reset(seed=seed, options=options)
    rewards, infos = [], []
    while True:
        *_, reward, terminated, truncated, info = env.step(env.orders_to_action(policy(env)))
        rewards.append(reward)
        infos.append(info)
        assert not terminated
        if truncated:
            return np.array(rewards), infos


def rq_orders(rq):
    """The orders of *rq* at every node reviewing now (answered downstream first by the env:
    the first node's order is computed before it is placed, as run(policy) does)."""
    return lambda env: rq.act(env.view)


@pytest.mark.parametrize("epochs", EPOCHS)
def test_passes_the_gymnasium_checker(review, epochs):
    check_env(make_semi_markov_env(review, horizon=15, epochs=epochs), skip_render_check=True)


@pytest.mark.parametrize("epochs", EPOCHS)
def test_rewards_sum_to_the_engines_total_cost_of_the_same_run(review, epochs):
    """Episode 1 after reset(seed=7) is replication 1 of simulate_continuous(seed=7): the
    rewards of (r, Q) through the env sum to minus the engine's cost of that run."""
    env = make_semi_markov_env(review, horizon=60, epochs=epochs, max_order=32)
    rq = RQ(reorder_point=9, quantity=16)
    env.reset(seed=7)
    rewards, infos = run_policy(env, rq_orders(rq), options={"episode": 1})
    sim = ContinuousSimulation(review.network, 60, replication_seed(7, 1), review=epochs)
    sim.run(rq)
    assert -rewards.sum() == pytest.approx(sim.total_cost, rel=1e-12, abs=1e-9)
    res = simulate_continuous(
        review, rq, horizon=60, replications=2, seed=7, warmup=0, review=epochs
    )
    assert -rewards.sum() / 60 == pytest.approx(res.per_replication[1], rel=1e-12)
    # dt: time between decision events, summing to the horizon
    dts = np.array([i["dt"] for i in infos])
    assert (dts >= 0).all() and dts.sum() == pytest.approx(60.0)
    assert infos[-1]["t"] == 60.0
    assert [i["cost"] for i in infos] == pytest.approx(-rewards)


def test_a_step_is_one_demand_under_continuous_review(review):
    """epochs='demand' on a single stage: one step per customer (plus time 0)."""
    env = make_semi_markov_env(review, horizon=40, max_order=16)
    rewards, _ = run_policy(env, rq_orders(RQ(9, 16)), seed=3)
    ledger = ContinuousSimulation(review.network, 40, replication_seed(3, 0)).run(RQ(9, 16))
    customers = ledger.data["demand"].sum()  # unit demands: one per customer
    assert len(rewards) == customers + 1  # time 0, then one epoch per customer


def test_periodic_epochs_come_every_interval(review):
    env = make_semi_markov_env(review, horizon=20, epochs=2.5)
    _, infos = run_policy(env, rq_orders(RQ(9, 16)), seed=0)
    assert [i["t"] for i in infos] == [2.5 * k for k in range(1, 9)]
    assert all(i["dt"] == 2.5 for i in infos)


def test_default_action_ranges_scale_with_the_demand_between_epochs(review, owmr):
    """max_order: 4 x the mean demand between two epochs (a customer's under demand epochs,
    R time units' under periodic ones); max_level: 4 x the demand over R + lead time."""

    def ranges(problem, epochs):
        env = make_semi_markov_env(problem, epochs=epochs)
        return {n.name: (n.max_order, n.max_level) for n in env.layout.nodes}

    assert ranges(review, "demand") == {"stage": (4.0, 40.0)}  # rate 5, lead time 2
    assert ranges(review, 2.5) == {"stage": (math.ceil(4 * 5 * 2.5), 4 * 5 * 4.5)}
    # the warehouse reviews at each of its retailers' customers (rates 1, 2, 3)
    assert ranges(owmr, "demand")["warehouse"] == (4.0, 4 * 6 * 2)


def test_base_stock_actions_are_the_base_stock_policy(review):
    """A constant level through action_mode='base-stock' is BaseStock(level) run by the
    engine: same cost, bit for bit."""
    env = make_semi_markov_env(
        scenarios.make("continuous-review"), horizon=50, action_mode="base-stock", discrete=True
    )
    env.reset(seed=11)
    total, done = 0.0, False
    while not done:
        _, reward, _, done, _ = env.step(13)
        total -= reward
    sim = ContinuousSimulation(env.network, 50, replication_seed(11, 0))
    sim.run(BaseStock(13))
    assert total == pytest.approx(sim.total_cost, rel=1e-12)


def test_one_warehouse_n_retailers_answers_every_review_of_an_instant(owmr):
    """After a retailer's demand the retailer and the warehouse review at the same instant:
    one step answers both (downstream first), and the mask says who reviews."""
    env = make_semi_markov_env(owmr, horizon=30, action_mode="base-stock", discrete=True)
    levels = {"warehouse": 8, "r1": 3, "r2": 4, "r3": 8}
    action = np.array([levels[n] for n in env.nodes])
    _, info = env.reset(seed=5)
    assert info["action_mask"].all()  # time 0: everyone
    total, masks, done = 0.0, [], False
    while not done:
        _, reward, _, done, info = env.step(action)
        total -= reward
        masks.append(info["action_mask"])
    sim = ContinuousSimulation(owmr.network, 30, replication_seed(5, 0))
    sim.run(BaseStock(levels))
    assert total == pytest.approx(sim.total_cost, rel=1e-12)
    warehouse = env.nodes.index("warehouse")
    assert all(m[warehouse] and m.sum() == 2 for m in masks[:-1])  # a retailer + the warehouse
    assert not masks[-1].any()  # the horizon


def test_reset_with_a_seed_is_reproducible_bit_for_bit(owmr):
    def rollout(env):
        obs, _ = env.reset(seed=42)
        env.action_space.seed(0)
        out = [obs]
        for _ in range(60):
            obs, reward, _, truncated, info = env.step(env.action_space.sample())
            out += [obs, np.array([reward, info["dt"], info["t"]])]
            if truncated:
                obs, _ = env.reset()
        return np.concatenate(out)

    a = rollout(make_semi_markov_env(owmr, horizon=10))
    b = rollout(make_semi_markov_env(owmr, horizon=10))
    assert a.tobytes() == b.tobytes()


def test_episode_numbers_follow_offset_and_stride(review):
    env = make_semi_markov_env(review, horizon=5, episode_offset=2, episode_stride=3)
    seen = []
    for seed in (1, None, None):
        _, info = env.reset(seed=seed)
        seen.append(info["replication"])
    assert seen == [2, 5, 8]


def test_bad_input_is_refused_in_one_line(review):
    periodic = scenarios.make("single-stage")
    with pytest.raises(ValueError, match="not continuous-time"):
        SemiMarkovEnv(periodic.network)
    with pytest.raises(ValueError, match=r"epochs\(='weekly'\)"):
        make_semi_markov_env(review, epochs="weekly")
    with pytest.raises(ValueError, match=r"review\(=-1\)"):
        make_semi_markov_env(review, epochs=-1)
    with pytest.raises(ValueError, match=r"horizon\(=0\)"):
        make_semi_markov_env(review, horizon=0)
    with pytest.raises(ValueError, match="unknown env parameter.*'periods'"):
        make_semi_markov_env(review, periods=5)
    env = make_semi_markov_env(review, horizon=5)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="max_order"):
        env.orders_to_action({"stage": 1e6})


def test_render_ansi(review):
    env = make_semi_markov_env(review, horizon=5, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "stage" in text and "t 0/5" in text


def test_the_gymnasium_id_makes_the_env():
    """Once scenarios/gym_ids.py registers des_supply/ContinuousReview-v0 (application
    layer), gymnasium.make builds this env with scenario and env parameters told apart."""
    import gymnasium as gym

    from scenarios import gym_ids

    if "des_supply/ContinuousReview-v0" not in gym_ids.ENV_IDS:
        pytest.skip("des_supply/ContinuousReview-v0 is not registered in scenarios.gym_ids yet")
    env = gym.make("des_supply/ContinuousReview-v0", fixed_cost=20, horizon=20, epochs="event")
    assert isinstance(env.unwrapped, SemiMarkovEnv) and env.unwrapped.epochs == "event"
    assert env.unwrapped.network.node("stage").fixed_order_cost == 20
    check_env(env.unwrapped, skip_render_check=True)
