"""rl.presets: a valid PPO config and env spec for every registered scenario, and a thunk
whose env survives a short rollout (fast: no training here)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import scenarios
from rl.env import InventoryEnv
from rl.ppo import PPOConfig
from rl.presets import ActionWindow, make_thunk, preset
from rl.recommendation_env import RecommendationEnv

SCENARIOS = scenarios.names()
# small instances where the default one would be slow to build
SMALL = {"random-dag": {"n_nodes": 6, "n_layers": 3}}


def _wrapper(env: gym.Env, cls: type) -> gym.Env | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, cls):
            return env
        env = env.env
    return None


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_preset_is_valid(scenario: str) -> None:
    cfg, spec = preset(scenario, SMALL.get(scenario, {}))
    assert isinstance(cfg, PPOConfig)
    # PPOConfig validates itself; a replace() round trip re-runs the checks
    dataclasses.replace(cfg)
    assert cfg.batch_size % cfg.n_minibatches == 0
    assert cfg.total_steps >= cfg.batch_size
    assert set(spec) >= {"env", "scale_observation", "scale_reward"}
    env = spec["env"]
    if scenario.startswith("recommendation-"):  # the Joint IM-RS agent's env
        assert env["control"] == "joint"
    else:
        assert env["action_mode"] in ("quantity", "base-stock", "capped-base-stock")
        assert isinstance(env["discrete"], bool)
    assert int(env["periods"]) >= 1


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_thunk_rollout(scenario: str) -> None:
    params = SMALL.get(scenario, {})
    _, spec = preset(scenario, params)
    env = make_thunk(scenario, params, spec)()
    assert isinstance(env.unwrapped, RecommendationEnv if scenario.startswith("recommendation-")
                      else InventoryEnv)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(40):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward)
        assert not terminated
        if truncated:
            obs, _ = env.reset()
    if spec["scale_observation"]:
        assert np.all(np.abs(obs) < 100.0)  # order-1 features after the fixed scaling


def test_single_stage_presets_follow_the_case() -> None:
    _, a = preset("single-stage", {"lead_time": 2, "penalty": 9.0})
    _, b = preset("single-stage", {"lead_time": 4, "penalty": 39.0})
    lo_a, hi_a = a["action_window"]
    lo_b, hi_b = b["action_window"]
    # the window brackets the best base-stock level (19 and 33, Zipkin 2008)
    assert lo_a < 19 < hi_a and lo_b < 33 < hi_b
    assert 5.0 < a["reward_shift"] < 8.0 and 9.0 < b["reward_shift"] < 13.0


def test_same_env_for_training_and_evaluation() -> None:
    params = {"lead_time": 2, "penalty": 9.0}
    _, spec = preset("single-stage", params)
    e1, e2 = make_thunk("single-stage", params, spec)(), make_thunk("single-stage", params, spec)()
    o1, _ = e1.reset(seed=5, options={"episode": 2})
    o2, _ = e2.reset(seed=5, options={"episode": 2})
    np.testing.assert_array_equal(o1, o2)
    for a in np.linspace(-1.0, 1.0, 10):
        r1 = e1.step(np.array([a], np.float32))
        r2 = e2.step(np.array([a], np.float32))
        np.testing.assert_array_equal(r1[0], r2[0])
        assert r1[1] == r2[1]


def test_action_window_maps_onto_levels() -> None:
    params = {"lead_time": 2, "penalty": 9.0}
    _, spec = preset("single-stage", params)
    env = make_thunk("single-stage", params, spec)()
    window = _wrapper(env, ActionWindow)
    assert window is not None
    lo, hi = spec["action_window"]
    base = env.unwrapped
    for u, level in ((-1.0, lo), (0.0, (lo + hi) / 2), (1.0, hi), (5.0, hi)):
        a = window.action(np.array([u], np.float32))
        got = base.layout.parse(a, base.layout.nodes, base.action_space)
        assert got[0] == pytest.approx(level)


def test_unknown_scenario_or_parameter() -> None:
    with pytest.raises(ValueError):
        preset("no-such-scenario", {})
    with pytest.raises(ValueError):
        preset("single-stage", {"no_such_parameter": 1})
