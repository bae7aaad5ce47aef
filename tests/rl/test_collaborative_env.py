"""The collaborative env (rl.collaborative_env): Gymnasium's checker, the zero action is the
reference policy replication by replication, the action's parts do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import scenarios
from des_supply.collaborative_policies import CollaborativeBaseStock
from des_supply.evaluate import simulate
from rl.collaborative_env import CollaborativeEnv, make_collaborative_env

LEVELS = {"i0": 7.0, "i1": 25.0, "i2": 37.0}


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("collaborative")


@pytest.fixture(scope="module")
def reference(problem):
    policy = CollaborativeBaseStock(LEVELS, 1.1)
    return policy, policy.recommendation(problem)


def make(problem, reference, periods=40):
    return make_collaborative_env(
        problem, periods=periods, levels=LEVELS, price_factor=1.1, intensities=reference[1]
    )


def test_passes_gymnasiums_checker(problem, reference):
    env = make(problem, reference)
    check_env(env, skip_render_check=True)
    assert env.action_space.shape == (len(env.action_names),)
    assert env.observation_space.shape == (len(env.observation_names),)


def test_zero_action_plays_the_reference_policy(problem, reference):
    """Episode k after reset(seed=s) is replication k of simulate(seed=s), action 0 = anchor."""
    env = make(problem, reference)
    profits = []
    for k in range(3):
        env.reset(seed=9) if k == 0 else env.reset()
        total, truncated = 0.0, False
        while not truncated:
            _, _, _, truncated, info = env.step(np.zeros(env.action_space.shape))
            total += info["profit"]
        profits.append(total / env.periods)
    res = simulate(problem, reference[0], periods=40, replications=3, seed=9)
    np.testing.assert_allclose(profits, res.per_replication, rtol=1e-12)


def test_action_parts_set_level_price_supplier_use_and_recommendation(problem, reference):
    env = make(problem, reference)
    env.reset(seed=1)
    u = np.zeros(env.action_space.shape)
    names = env.action_names
    u[names.index("i1.price")] = 1.0  # +25% of the anchor price
    u[names.index("i1.i1-batch")] = -1.0  # no batch production
    u[names.index("i2.level")] = -1.0  # order nothing
    action = env.decode(u)
    assert action.prices["i1"] == pytest.approx(1.1 * 1.25 * env.list_prices[1])
    assert "i1-batch" not in action.orders["i1"] and action.orders["i2"] == {}
    assert sum(action.orders["i1"].values()) > 0
    first_score = names.index("i0.s0")
    u[first_score] = 1.0
    alpha = env.decode(u).extra["recommendation"]
    assert alpha[0, 0] > reference[1][0, 0]
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)  # intensities stay valid


def test_bad_actions_and_settings_are_refused_by_name(problem, reference):
    env = make(problem, reference)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    u = np.zeros(env.action_space.shape)
    u[1] = np.nan
    with pytest.raises(ValueError, match=r"i0\.price"):
        env.step(u)
    with pytest.raises(ValueError, match="levels"):
        make_collaborative_env(problem, levels={"i0": 3.0})
    with pytest.raises(ValueError, match="price_range"):
        make_collaborative_env(problem, levels=LEVELS, price_range=1.0)
    with pytest.raises(ValueError, match="collaborative"):
        make_collaborative_env(scenarios.make("recommendation-small"), levels=LEVELS)
    assert isinstance(env, CollaborativeEnv)


def same_action(a, b):
    """Engine actions equal: orders exactly, prices and intensities to float32 precision."""
    strip = lambda orders: {i: {s: q for s, q in p.items() if q} for i, p in orders.items()}
    assert strip(a.orders) == strip(b.orders)
    for i, p in a.prices.items():
        assert b.prices[i] == pytest.approx(p, rel=1e-6)
    np.testing.assert_allclose(b.extra["recommendation"], a.extra["recommendation"], rtol=1e-5)


def test_encode_inverts_decode_on_reference_noisy_and_random_actions(problem, reference):
    """decode(encode(a)) == a for the anchor policy, another base-stock policy inside the
    action's range, noisy anchor actions and uniform random actions, all along an episode."""
    env = make(problem, reference)
    other = CollaborativeBaseStock({"i0": 9.0, "i1": 30.0, "i2": 40.0}, 1.1)  # other levels
    rng = np.random.default_rng(4)
    env.reset(seed=2)
    truncated, checked = False, 0
    while not truncated:
        view = env.view
        actions = [reference[0].act(view), other.act(view)]
        anchor = env.encode(actions[0])
        noisy = np.clip(anchor + 0.3 * rng.standard_normal(anchor.shape), -1, 1)
        actions += [env.decode(noisy.astype(np.float32))]
        actions += [env.decode(rng.uniform(-1, 1, anchor.shape).astype(np.float32))]
        for a in actions:
            same_action(a, env.decode(env.encode(a)))
            checked += 1
        _, _, _, truncated, _ = env.step(rng.uniform(-1, 1, anchor.shape))
    assert checked == 4 * env.periods


def test_the_anchor_encodes_to_levels_at_the_position_and_zero_elsewhere(problem, reference):
    env = make(problem, reference)
    env.reset(seed=3)
    u = env.encode(reference[0].act(env.view))
    names = env.action_names
    for i in env.items:
        position = env.view.inventory_position(i)
        want = max(LEVELS[i], position) / LEVELS[i] - 1.0
        assert u[names.index(f"{i}.level")] == pytest.approx(want, abs=1e-6)
    rest = [j for j, n in enumerate(names) if not n.endswith(".level")]
    np.testing.assert_allclose(u[rest], 0.0, atol=1e-7)


def test_encode_refuses_what_the_action_cannot_place(problem, reference):
    from des_supply.policies import Action

    env = make(problem, reference)
    env.reset(seed=0)
    good = reference[0].act(env.view)
    with pytest.raises(ValueError, match=r"i0\.price"):
        env.encode(Action(good.orders, {**good.prices, "i0": 3 * good.prices["i0"]}, good.extra))
    orders = {**good.orders, "i2": {"nowhere": 4.0}}
    with pytest.raises(ValueError, match="item 'i2'"):
        env.encode(Action(orders, good.prices, good.extra))
    orders = {**good.orders, "i1": {env.rest["i1"]: 2.5}}
    with pytest.raises(ValueError, match="item 'i1'"):
        env.encode(Action(orders, good.prices, good.extra))
    alpha = np.array(good.extra["recommendation"])
    alpha[:, 0] = [1.0, 0.0, 0.0] if alpha.shape[0] == 3 else alpha[:, 0]
    with pytest.raises(ValueError, match="recommendation"):
        env.encode(Action(good.orders, good.prices, {"recommendation": alpha}))
    with pytest.raises(ValueError, match="no price"):
        env.encode(Action(good.orders, {}, good.extra))
    # not strict: the nearest representable action, clipped
    u = env.encode(
        Action(good.orders, {**good.prices, "i0": 3 * good.prices["i0"]}, good.extra),
        strict=False,
    )
    assert u[env.action_names.index("i0.price")] == 1.0
