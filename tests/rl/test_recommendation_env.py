"""Inventory-with-recommendation envs: checkers, action mappings, CRN against the engine,
reproducible random halves, acting flags of the two-timescale PettingZoo env, errors.

The CRN tests are the contract: episode k of an env driven by a fixed agent earns
exactly what replication k of ``des_supply.evaluate.simulate`` earns with the matching
engine policy, random "other" half included.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pettingzoo.test import parallel_api_test, parallel_seed_test

import rl
import scenarios
import scenarios.gym_ids
from des_supply.evaluate import simulate
from des_supply.policies import BaseStock
from des_supply.recommendation_policies import (
    Popularity,
    RandomOrders,
    RandomRecommender,
    RecommendAndReplenish,
    Uniform,
)
from rl.evaluation import evaluate_agent
from rl.recommendation_env import CONTROLS, RecommendationEnv, recommendation_parallel_env

NAME = "recommendation-small"
SMALL = scenarios.make(NAME)  # the problem every env here is built from
BY_AXIS = {axis: scenarios.make(NAME, axis=axis) for axis in ("customers", "products")}
PERIODS = 30


def _warnings_of(fn, *args, **kwargs) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return {str(w.message) for w in caught}


def episode_profit(env, act, seed, k):
    """Mean profit per period of episode *k* with agent *act*, from the raw ``info["profit"]``."""
    obs, info = env.reset(seed=seed, options={"episode": k})
    total, truncated = info["profit"], False
    while not truncated:
        obs, _, terminated, truncated, info = env.step(act(obs))
        assert terminated is False
        total += info["profit"]
    return total / env.periods


def market():
    return SMALL.new_market()


# -- checkers and registration ----------------------------------------------------------------
@pytest.mark.parametrize("control", CONTROLS)
def test_check_env_every_control(control):
    env = gym.make("des_supply/RecommendationSmall-v0", control=control, periods=12)
    messages = _warnings_of(check_env, env.unwrapped)
    assert all("infinity" in m for m in messages), messages  # unbounded stock levels only
    assert env.observation_space.shape == (len(env.unwrapped.observation_names),)
    assert env.action_space.shape == (len(env.unwrapped.action_names),)


def test_check_env_backlog_long_leads_and_product_axis():
    problem = scenarios.make(NAME, shortage="backlog", lead_time_max=3, seed=1, axis="products")
    env = rl.make_recommendation_env(problem, periods=12)
    messages = _warnings_of(check_env, env, skip_render_check=True)  # no spec: not via make
    assert all("infinity" in m for m in messages), messages
    assert "p0.backlog" in env.observation_names
    leads = [e.lead_time.value for p in env.model.products for e in env.network.suppliers(p)]
    assert [
        len([n for n in env.observation_names if n.startswith(f"{p}.pipeline")])
        for p in env.model.products
    ] == leads
    assert max(leads) > 1


def test_registered_ids_and_sizes():
    assert set(scenarios.gym_ids.RECOMMENDATION_ENV_IDS.values()) == {
        f"recommendation-{s}" for s in ("small", "medium", "large")
    }
    env = gym.make("des_supply/RecommendationLarge-v0", periods=3).unwrapped
    assert env.action_space.shape == (20 + 20 * 100,)
    env.reset(seed=1)
    _, _, _, truncated, info = env.step(env.action_space.sample())
    assert not truncated and info["t"] == 1
    sized = rl.make_recommendation_env(
        scenarios.make(NAME, n_products=4, n_customers=2), control="recommendation"
    )
    assert sized.action_space.shape == (8,)
    made = gym.make(
        "des_supply/RecommendationSmall-v0", n_products=4, n_customers=2, control="recommendation"
    ).unwrapped
    assert made.action_space.shape == (8,) and made.periods == 128
    with pytest.raises(
        ValueError,
        match=r"'lead_tme'.*scenario parameters: .*lead_time.*env "
        r"parameters: .*control",
    ):
        gym.make("des_supply/RecommendationSmall-v0", lead_tme=2)


def test_each_env_gets_its_own_market():
    a, b = (
        rl.make_recommendation_env(SMALL, periods=5),
        rl.recommendation_parallel_env(SMALL, periods=5),
    )
    c = rl.make_recommendation_env(SMALL, periods=5)
    assert len({id(SMALL.market), id(a.market), id(b.market), id(c.market)}) == 4
    assert rl.make_recommendation_env(SMALL).periods == 128  # min(128, problem.periods)


# -- action mapping ---------------------------------------------------------------------------
@given(
    arrays(
        np.float64,
        3 + 15,
        elements=st.one_of(
            st.floats(-1.0, 1.0), st.sampled_from([-1e9, 1e9, -np.inf, np.inf, -1.0, 1.0, 0.0])
        ),
    ),
    st.sampled_from(["customers", "products"]),
)
def test_any_action_gives_valid_intensities_and_orders(action, axis):
    env = rl.make_recommendation_env(BY_AXIS[axis], periods=4)
    env.reset(seed=3)
    for _ in range(2):
        decided = env.decode(action)
        alpha = decided.extra["recommendation"]
        np.testing.assert_allclose(env.model.check(alpha), alpha)  # in [0, 1], sums to 1
        assert all(q >= 0 for q in decided.orders.values())
        assert set(decided.orders) == set(env.model.products)
        env.step(action)


def test_encode_decode_round_trip_and_split_join():
    env = rl.make_recommendation_env(SMALL, periods=4)
    env.reset(seed=0)
    alpha = Popularity().recommend(None, env.model)
    action = env.encode(levels={"p0": 4, "p1": 6, "p2": 0}, recommendation=alpha)
    decided = env.decode(action)
    np.testing.assert_allclose(decided.extra["recommendation"], alpha, rtol=1e-12)
    view = env.view
    assert decided.orders == {
        p: max(0.0, s - view.inventory_position(p)) for p, s in zip(env.model.products, (4, 6, 0))
    }
    order, scores = env.split(action)
    assert order.shape == (3,) and scores.shape == (15,)
    np.testing.assert_array_equal(env.join(order, scores), action)
    # uniform intensities encode to zero scores and decode exactly
    assert not env.encode(levels=5)[3:].any()
    np.testing.assert_array_equal(
        env.decode(env.encode(levels=5)).extra["recommendation"], env.model.uniform()
    )


def test_anchored_actions_start_at_the_heuristic():
    """With min_level/base_scores, u = 0 plays the anchor (mid-window levels, softmax of the
    base scores) and encode/decode still invert each other."""
    from des_supply.recommendation_policies import MarginRecommender, margins_of

    net = SMALL.network
    m = market()
    base = np.log(
        np.maximum(
            MarginRecommender(margins_of(net, m.model.products)).recommend(None, m.model), 0.01
        )
    )
    alpha0 = m.model.from_logits(base)
    top = {"p0": 10, "p1": 12, "p2": 14}
    env = RecommendationEnv(net, m, 4, min_level=[2, 4, 6], max_level=top, base_scores=base)
    env.reset(seed=0)
    decided = env.decode(np.zeros(3 + 15))
    np.testing.assert_allclose(decided.extra["recommendation"], alpha0, rtol=1e-12)
    view = env.view
    assert decided.orders == {
        p: max(0.0, s - view.inventory_position(p)) for p, s in zip(m.model.products, (6, 8, 10))
    }
    alpha = 0.7 * alpha0 + 0.3 * Popularity().recommend(None, m.model)
    action = env.encode(levels=[2, 12, 9], recommendation=alpha)
    np.testing.assert_allclose(env.decode(action).extra["recommendation"], alpha, rtol=1e-10)
    with pytest.raises(ValueError, match="outside \\[min_level=2"):
        env.encode(levels=[1, 5, 7])
    with pytest.raises(ValueError, match="min_level of product 'p1'"):
        RecommendationEnv(net, market(), 4, min_level=[0, 20, 0], max_level=top)
    with pytest.raises(ValueError, match="base_scores must be a finite 3 x 5"):
        RecommendationEnv(net, market(), 4, base_scores=np.zeros((5, 3)))


def test_naive_im_rs_combines_two_agents():
    """The order head of an IM-only agent and the score head of an RS-only agent drive the
    joint env exactly as the joint agent that outputs both."""
    joint = rl.make_recommendation_env(SMALL, periods=PERIODS)
    im = rl.make_recommendation_env(SMALL, control="replenishment")
    rs = rl.make_recommendation_env(SMALL, control="recommendation")
    alpha = Popularity().recommend(None, joint.model)

    def im_agent(obs):
        return im.encode(levels=np.minimum(8.0, 4.0 + obs[::4]))

    def rs_agent(obs):
        return rs.encode(recommendation=alpha)

    both = episode_profit(joint, lambda o: joint.join(im_agent(o), rs_agent(o)), 5, 0)
    jointly = episode_profit(
        joint,
        lambda o: np.concatenate([im_agent(o), joint.layout.encode_recommendation(alpha)]),
        5,
        0,
    )
    assert both == jointly


# -- common random numbers with the engine ----------------------------------------------------
@pytest.mark.parametrize("k", [0, 3])
def test_joint_episode_k_is_replication_k(k):
    env = rl.make_recommendation_env(SMALL, periods=PERIODS)
    level = 7.0
    profit = episode_profit(env, lambda obs: env.encode(levels=level), seed=11, k=k)
    res = simulate(
        env.network,
        RecommendAndReplenish(BaseStock(level), Uniform()),
        periods=PERIODS,
        replications=k + 1,
        seed=11,
        market=market(),
    )
    assert profit == pytest.approx(res.per_replication[k], abs=1e-9)


def test_random_recommender_half_is_the_engines():
    """IM-only: the random recommendation is the one RandomRecommender draws in the engine."""
    env = rl.make_recommendation_env(SMALL, control="replenishment", periods=PERIODS)
    profits = [
        episode_profit(env, lambda obs: env.encode(levels=6.0), seed=2, k=k) for k in range(2)
    ]
    res = simulate(
        env.network,
        RecommendAndReplenish(BaseStock(6.0), RandomRecommender()),
        periods=PERIODS,
        replications=2,
        seed=2,
        market=market(),
    )
    np.testing.assert_allclose(profits, res.per_replication, rtol=0, atol=1e-9)


def test_random_orders_half_is_the_engines():
    """RS-only: the random orders are the ones RandomOrders(high) draws in the engine."""
    env = rl.make_recommendation_env(SMALL, control="recommendation", periods=PERIODS)
    high = env.other_replenishment.high
    assert all(h >= 1 for h in high.values())
    profits = [episode_profit(env, lambda obs: env.encode(), seed=4, k=k) for k in range(2)]
    res = simulate(
        env.network,
        RecommendAndReplenish(RandomOrders(high), Uniform()),
        periods=PERIODS,
        replications=2,
        seed=4,
        market=market(),
    )
    np.testing.assert_allclose(profits, res.per_replication, rtol=0, atol=1e-9)


@pytest.mark.parametrize("control", CONTROLS)
def test_agent_as_engine_policy_matches_the_env(control):
    """``env.policy(agent)`` in ``simulate`` == stepping the env (``evaluate_agent``), per episode."""
    env = rl.make_recommendation_env(SMALL, control=control, periods=PERIODS)
    shape = (env.action_space.shape[0], env.observation_space.shape[0])
    w = np.random.default_rng(0).uniform(-1, 1, shape)

    def agent(obs):  # a fixed, observation-dependent "network"
        return np.tanh(w @ obs - 0.2).astype(np.float32)

    stepped = evaluate_agent(
        lambda: rl.make_recommendation_env(SMALL, control=control, periods=PERIODS),
        agent,
        seed=9,
        episodes=2,
    )
    res = simulate(
        env.network, env.policy(agent), periods=PERIODS, replications=2, seed=9, market=market()
    )
    np.testing.assert_allclose(stepped.per_episode, res.per_replication, rtol=0, atol=1e-9)


# -- reproducibility ----------------------------------------------------------------------------
def _trajectory(env, seed, episode, actions):
    obs, _ = env.reset(seed=seed, options={"episode": episode})
    out = [obs]
    for a in actions:
        if len(out) % 3 == 0:
            env.decode(a)  # asking what an action means must not move any random stream
        obs, reward, _, _, info = env.step(a)
        out += [obs, np.array([reward]), info["orders"], env.market.last_recommendation.copy()]
    return out


@pytest.mark.parametrize("control", ["replenishment", "recommendation"])
def test_same_seed_and_episode_same_everything(control):
    envs = [rl.make_recommendation_env(SMALL, control=control, periods=10) for _ in range(2)]
    space = envs[0].action_space
    space.seed(0)
    actions = [space.sample() for _ in range(10)]
    a = _trajectory(envs[0], 7, 2, actions)
    b = _trajectory(envs[1], 7, 2, actions)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = _trajectory(envs[1], 7, 3, actions)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


# -- the two-agent env ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("periods", [(1, 1), (2, 3)])
def test_parallel_api_and_seed(periods):
    def make():
        return recommendation_parallel_env(
            SMALL, periods=10, replenishment_period=periods[0], recommendation_period=periods[1]
        )

    parallel_api_test(make(), num_cycles=25)
    parallel_seed_test(make)


def test_acting_flags_follow_the_periods():
    env = rl.recommendation_parallel_env(
        SMALL, periods=13, replenishment_period=2, recommendation_period=3
    )
    rng = np.random.default_rng(0)
    obs, infos = env.reset(seed=1)
    assert env.state().shape == env.state_space.shape
    seen = []
    while env.agents:
        t = infos["replenishment"]["t"]
        for agent, period in env.agent_periods.items():
            assert infos[agent]["acting"] == (t % period == 0)
            assert obs[agent][-2] == float(t % period == 0)
            assert obs[agent][-1] == pytest.approx((t % period) / period)
            np.testing.assert_array_equal(obs[agent][:-2], env.state())
        before = env.alpha
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        actions["replenishment"][:] = 1.0  # order up to max_level: an order whenever allowed
        obs, rewards, _, _, infos = env.step(actions)
        assert rewards["replenishment"] == rewards["recommendation"]
        np.testing.assert_array_equal(env.market.last_recommendation, env.alpha)
        seen.append((t, env.alpha is before))
    ordered = env.sim.ledger().data["ordered"].sum(axis=1)
    assert all((ordered[t] > 0) == (t % 2 == 0) for t in range(13))
    assert [kept for _, kept in seen] == [t % 3 != 0 for t in range(13)]


def test_team_policy_matches_the_parallel_env():
    env = rl.recommendation_parallel_env(
        SMALL, periods=PERIODS, replenishment_period=2, recommendation_period=3
    )
    rng = np.random.default_rng(1)
    w = {
        a: rng.uniform(-1, 1, (env.action_space(a).shape[0], env.observation_space(a).shape[0]))
        for a in env.possible_agents
    }
    agents = {a: (lambda obs, a=a: np.tanh(w[a] @ obs)) for a in env.possible_agents}
    per_episode = []
    for k in range(2):
        obs, _ = env.reset(seed=5, options={"episode": k})
        total = 0.0
        while env.agents:
            obs, _, _, _, infos = env.step({a: agents[a](obs[a]) for a in env.agents})
            total += infos["replenishment"]["profit"]
        per_episode.append(total / PERIODS)
    res = simulate(
        env.network, env.policy(**agents), periods=PERIODS, replications=2, seed=5, market=market()
    )
    np.testing.assert_allclose(per_episode, res.per_replication, rtol=0, atol=1e-9)


# -- errors -----------------------------------------------------------------------------------
def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(
        ValueError, match="control.*must be one of joint, replenishment, recommendation"
    ):
        rl.make_recommendation_env(SMALL, control="pricing")
    with pytest.raises(ValueError, match="'single-stage' has no market.*recommendation market"):
        rl.make_recommendation_env(scenarios.make("single-stage"))
    with pytest.raises(ValueError, match="'pricing-a' has a pricing market"):
        rl.recommendation_parallel_env(scenarios.make("pricing-a"))
    with pytest.raises(
        ValueError, match="unknown env parameter.*'lead_tme'.*env parameters: .*control"
    ):
        rl.make_recommendation_env(SMALL, lead_tme=2)
    with pytest.raises(TypeError, match="Problem or a Network"):
        rl.make_recommendation_env(NAME)
    with pytest.raises(
        ValueError, match="other_recommender is used only with control='replenishment'"
    ):
        rl.make_recommendation_env(SMALL, other_recommender=Uniform())
    with pytest.raises(ValueError, match="market must be a RecommendationMarket"):
        RecommendationEnv(SMALL.network, None)
    with pytest.raises(ValueError, match="recommendation_period.*integer >= 1"):
        rl.recommendation_parallel_env(SMALL, recommendation_period=0)
    env = rl.make_recommendation_env(SMALL, periods=3)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(18,\).*3 order-up-to.*3x5"):
        env.step(np.zeros(3))
    bad = np.zeros(18)
    bad[4] = np.nan
    with pytest.raises(ValueError, match=r"action\[4\] \(p0.c1.score\) is NaN"):
        env.step(bad)
    with pytest.raises(ValueError, match="level 1000 of product 'p0' is outside"):
        env.encode(levels=1e3)
    with pytest.raises(ValueError, match=r"score_part: action has shape \(3,\)"):
        env.join(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="raise logit_scale"):
        peaked = np.tile([[0.999, 0.00025, 0.00025, 0.00025, 0.00025]], (3, 1))
        env.encode(levels=1, recommendation=peaked)
    par = rl.recommendation_parallel_env(SMALL, periods=3)
    par.reset(seed=0)
    with pytest.raises(ValueError, match="agent 'recommendation': action has shape"):
        par.step({"replenishment": np.zeros(3), "recommendation": np.zeros(3)})


def test_doctests():
    import doctest

    import rl.recommendation_env

    assert doctest.testmod(rl.recommendation_env, raise_on_error=False).failed == 0
