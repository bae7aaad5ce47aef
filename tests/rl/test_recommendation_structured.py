"""The structured recommendation action (``score_mode="structured"``): per-product
temperatures and loadings on shared customer scores instead of N x M free scores."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import scenarios
from rl.recommendation_env import make_recommendation_env, recommendation_parallel_env


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", ["customers", "products"])
def test_structured_scores_are_temperatures_and_a_rank_one_term(axis):
    problem = scenarios.make("recommendation-small", axis=axis)
    base = np.random.default_rng(5).normal(size=(3, 5))
    env = make_recommendation_env(
        problem, control="recommendation", base_scores=base, score_mode="structured"
    )
    lay = env.layout
    assert env.action_space.shape == (2 * 3 + 5,)
    assert lay.score_names[0] == "p0.temperature" and lay.score_names[-1].endswith(
        ".customer_score"
    )
    rng = np.random.default_rng(1)
    t, w, c = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 5)
    # by hand: logits[i, j] = 3**t_i base[i, j] + 3 w_i c_j, softmax along the model's axis
    by_hand = np.empty((3, 5))
    for i in range(3):
        for j in range(5):
            by_hand[i, j] = 3.0 ** t[i] * base[i, j] + 3.0 * w[i] * c[j]
    want = _softmax(by_hand, 1 if axis == "customers" else 0)
    np.testing.assert_allclose(lay.intensities(np.concatenate((t, w, c))), want, rtol=1e-12)
    # u = 0 plays the base scores, as the free mode does
    free = make_recommendation_env(problem, control="recommendation", base_scores=base)
    np.testing.assert_allclose(
        lay.intensities(np.zeros(11)), free.layout.intensities(np.zeros(15)), rtol=1e-12
    )


def test_structured_env_plays_what_the_free_env_plays_with_the_same_logits():
    """A structured action whose logits a free action can express gives the same episode."""
    problem = scenarios.make("recommendation-small")
    base = np.random.default_rng(2).normal(scale=0.5, size=(3, 5))
    kw = {"base_scores": base, "periods": 12}
    structured = make_recommendation_env(problem, score_mode="structured", **kw)
    free = make_recommendation_env(problem, **kw)
    check_env(structured, skip_render_check=True)
    rng = np.random.default_rng(3)
    structured.reset(seed=9)
    free.reset(seed=9)
    for _ in range(12):
        u = rng.uniform(-0.3, 0.3, 3 + 11)
        logits = structured.layout.logits(u[3:])
        free_u = (logits - base) / 3.0  # in [-1, 1] for these small actions
        assert np.abs(free_u).max() <= 1.0
        a = structured.step(u)
        b = free.step(np.concatenate((u[:3], free_u.ravel())))
        assert a[1] == pytest.approx(b[1], rel=1e-12)
        np.testing.assert_allclose(a[0], b[0])


def test_structured_mode_errors_name_the_problem():
    problem = scenarios.make("recommendation-small")
    with pytest.raises(ValueError, match="score_mode"):
        make_recommendation_env(problem, score_mode="tiny")
    env = make_recommendation_env(problem, control="recommendation", score_mode="structured")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="3 temperatures, 3 loadings and 5 customer scores"):
        env.step(np.zeros(15))
    with pytest.raises(ValueError, match="cannot encode"):
        env.layout.encode_recommendation(env.model.uniform())
    team = recommendation_parallel_env(problem, score_mode="structured")
    assert team.action_space("recommendation").shape == (11,)
    large = make_recommendation_env(scenarios.make("recommendation-large"), score_mode="structured")
    assert large.action_space.shape == (20 + 2 * 20 + 100,)  # against 20 + 2000 free


def test_finite_horizon_terminates_and_observes_the_time_left():
    """A season env (finite_horizon=True) ends in a termination, not a truncation (no
    bootstrap from leftovers), and its last observation feature is (T - t) / T."""
    problem = scenarios.make("recommendation-fashion-small")
    env = make_recommendation_env(problem, periods=12, finite_horizon=True)
    assert env.observation_names[-1] == "time_left"
    obs, _ = env.reset(seed=3)
    assert obs[-1] == 1.0
    for t in range(1, 13):
        obs, _, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
        assert obs[-1] == pytest.approx((12 - t) / 12)
        assert (terminated, truncated) == (t == 12, False)
    plain = make_recommendation_env(problem, periods=12)
    plain.reset(seed=3)
    for _ in range(12):
        *_, terminated, truncated, _ = plain.step(np.zeros(plain.action_space.shape))
    assert (terminated, truncated) == (False, True)
    team = recommendation_parallel_env(
        problem, periods=12, finite_horizon=True, replenishment_period=12
    )
    team.reset(seed=3)
    for _ in range(12):
        _, _, terms, truncs, _ = team.step(
            {a: np.zeros(team.action_space(a).shape) for a in team.agents}
        )
    assert all(terms.values()) and not any(truncs.values())
