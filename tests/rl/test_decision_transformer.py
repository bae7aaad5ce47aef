"""Decision Transformer, BC and expected-return labels: causality, learning, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

import rl
import scenarios
from optimization.lost_sales import solve_lost_sales
from rl.decision_transformer import (
    DecisionTransformer,
    DTConfig,
    OfflineData,
    choose_target,
    flatten_actions,
    load_dt,
    rollout,
    train_dt,
)
from rl.networks import ActionLayout
from rl.offline import ExpectedReturnLabels, load_bc, orders_of, top_episodes, train_bc

MIXED = spaces.Dict({"order": spaces.MultiDiscrete([4, 3]), "price": spaces.Box(-1.0, 1.0, (1,))})


@pytest.mark.parametrize(
    "space", [spaces.Discrete(7), spaces.Box(0.0, 5.0, (2,)), spaces.MultiDiscrete([3, 5]), MIXED]
)
def test_flatten_actions_inverts_the_layout(space):
    space.seed(0)
    layout = ActionLayout(space)
    flat = np.stack(
        [
            np.concatenate(
                [
                    np.atleast_1d(np.asarray(v, float))
                    for v in ([s[k] for k in ("order", "price")] if isinstance(s, dict) else [s])
                ]
            )
            for s in (space.sample() for _ in range(5))
        ]
    )
    if isinstance(space, spaces.Box):
        flat = 2.0 * flat / 5.0 - 1.0
    env_actions = layout.to_env(flat)
    np.testing.assert_allclose(flatten_actions(space, env_actions), flat, atol=1e-6)


@pytest.mark.parametrize("space", [spaces.Discrete(5), spaces.Box(-1.0, 1.0, (2,)), MIXED])
def test_output_at_t_does_not_depend_on_later_tokens(space):
    torch.manual_seed(0)
    model = DecisionTransformer(
        3,
        space,
        task_dim=1,
        context=6,
        max_timestep=50,
        embed_dim=16,
        n_layers=2,
        n_heads=2,
        dropout=0.0,
    ).eval()
    width = ActionLayout(space).width
    rtg, obs, ts = torch.randn(2, 6, 1), torch.randn(2, 6, 4), torch.arange(6).repeat(2, 1)
    act = torch.zeros(2, 6, width)
    base = model(rtg, obs, act, ts)
    t = 3
    rtg2, obs2, act2 = rtg.clone(), obs.clone(), act.clone()
    rtg2[:, t + 1 :] += 5.0
    obs2[:, t + 1 :] -= 3.0
    act2[:, t:] = 1.0  # the action at t itself is not seen by the state token at t
    changed = model(rtg2, obs2, act2, ts)
    torch.testing.assert_close(changed[:, : t + 1], base[:, : t + 1])
    assert not torch.allclose(changed[:, t + 1 :], base[:, t + 1 :])
    obs3 = obs.clone()
    obs3[:, t] += 1.0
    assert not torch.allclose(model(rtg, obs3, act, ts)[:, t], base[:, t])


def _toy_data(n: int = 24, T: int = 12, seed: int = 0) -> OfflineData:
    """Episodes where the right action is 2 when the state's first feature is positive, else 0,
    and the return counts the right actions."""
    rng = np.random.default_rng(seed)
    obs, acts, rews = [], [], []
    for _ in range(n):
        o = rng.standard_normal((T, 2)).astype(np.float32)
        good = rng.random() < 0.5
        right = np.where(o[:, 0] > 0, 2, 0)
        a = right if good else rng.integers(0, 3, T)
        obs.append(o)
        acts.append(a.reshape(-1, 1).astype(np.float32))
        rews.append((a == right).astype(float))
    return OfflineData(obs, acts, rews, spaces.Discrete(3))


def test_training_reduces_the_loss_and_resume_is_exact(tmp_path):
    data = _toy_data()
    cfg = DTConfig(
        total_steps=120,
        batch_size=32,
        context=4,
        embed_dim=16,
        n_layers=1,
        n_heads=2,
        dropout=0.0,
        warmup_steps=10,
        log_interval=20,
        checkpoint_interval=60,
        learning_rate=3e-3,
    )
    full = train_dt(data, cfg, tmp_path / "full")
    losses = [h["loss"] for h in full.history]
    assert losses[-1] < 0.8 * losses[0]
    assert (tmp_path / "full" / "learning_curve.png").exists()
    half = DTConfig(**{**cfg.__dict__, "total_steps": 60})
    train_dt(data, half, tmp_path / "split")
    resumed = train_dt(data, cfg, tmp_path / "split", resume=True)
    a, b = full.policy.model.state_dict(), resumed.policy.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in resumed.history] == losses
    loaded = load_dt(tmp_path / "full")
    assert all(torch.equal(loaded.model.state_dict()[k], a[k]) for k in a)
    with pytest.raises(ValueError, match="data differ"):
        train_dt(_toy_data(seed=1), cfg, tmp_path / "split", resume=True)
    with pytest.raises(ValueError, match="context"):
        train_dt(data, DTConfig(context=50, total_steps=1), tmp_path / "long")


def test_filtered_bc_keeps_the_top_episodes_and_clones_them(tmp_path):
    data = _toy_data(n=40)
    top = top_episodes(data, 0.1)
    assert len(top.observations) == 4
    assert min(top.returns) >= np.quantile(data.returns, 0.85)
    policy = train_bc(
        top,
        __import__("rl.offline", fromlist=["BCConfig"]).BCConfig(
            total_steps=300, batch_size=32, hidden_sizes=(32,), learning_rate=3e-3
        ),
        tmp_path,
    )
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    assert [int(policy(o)) for o in x] == [2, 0]
    assert [int(load_bc(tmp_path)(o)) for o in x] == [2, 0]
    with pytest.raises(ValueError, match="fraction"):
        top_episodes(data, 0.0)


def test_expected_return_labels_are_minus_g_on_optimal_actions():
    """r~ = -(g* + regret): exactly -g* for the DP's own orders, below it otherwise, and
    the same whatever demand came."""
    sol = solve_lost_sales(2, 1.0, 9.0)
    labels = ExpectedReturnLabels(sol)
    for x0, x1 in [(0, 0), (5, 3), (12, 2), (3, 9)]:
        z = sol.policy.order(x0, (x1,))
        assert labels.reward(x0, (x1,), z) == pytest.approx(-sol.average_cost, abs=1e-9)
        assert labels.reward(x0, (x1,), z + 3) < -sol.average_cost - 1e-6
    problem = scenarios.make("single-stage", lead_time=2, penalty=9)
    env = rl.make_env(problem, periods=10, discrete=True, max_order=30)
    env.reset(seed=0)
    assert labels.step(env, 25) < labels.step(
        env, sol.policy.order(env.view.on_hand("stage"), env.view.pipeline("stage", 1))
    )
    np.testing.assert_array_equal(orders_of(env, np.array([3, 4])), [3, 4])


def test_rollout_and_target_choice_on_the_engine(tmp_path):
    problem = scenarios.make("single-stage", lead_time=1, penalty=4)
    make = lambda: rl.make_env(problem, periods=12, discrete=True, max_order=20)
    env = make()
    rng = np.random.default_rng(0)
    obs, acts, rews = [], [], []
    for k in range(6):
        o, _ = env.reset(seed=0, options={"episode": k})
        os_, as_, rs = [], [], []
        for _ in range(12):
            a = int(rng.integers(0, 10))
            os_.append(o)
            as_.append([a])
            o, r, *_ = env.step(a)
            rs.append(r)
        obs.append(np.array(os_, np.float32))
        acts.append(np.array(as_, np.float32))
        rews.append(np.array(rs))
    data = OfflineData(obs, acts, rews, env.action_space)
    res = train_dt(
        data,
        DTConfig(total_steps=5, batch_size=4, context=4, embed_dim=16, n_layers=1, n_heads=2),
        tmp_path,
    )
    out = rollout(res.policy, make, -5.0, seed=3, episodes=3)
    assert out.per_episode.shape == (3,) and out.target == -5.0 and out.epochs == 12
    np.testing.assert_allclose(out.per_episode, -out.returns / 12)
    assert out.achieved == pytest.approx(out.returns.mean() / 12)
    again = rollout(res.policy, make, -5.0, seed=3, episodes=3)
    np.testing.assert_array_equal(out.per_episode, again.per_episode)
    best, scores = choose_target(res.policy, make, [-8.0, -4.0], seed=9, episodes=2)
    assert best in scores and scores[best] == min(scores.values())
