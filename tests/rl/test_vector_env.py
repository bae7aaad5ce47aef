"""The batch vector env equals N copies of the single env on the same seeds (rl.vector_env)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

import scenarios
from des_supply import BaseStock
from des_supply.evaluate import simulate
from rl.env import make_env
from rl.multi_agent import parallel_env
from rl.vector_env import ArrayPolicy, BatchParallelEnv, BatchVectorEnv, make_batch_vector_env

N = 3
CASES = [
    ("single-stage", {}, "quantity", False),
    ("owmr", {}, "capped-base-stock", False),
    ("random-dag", {"n_nodes": 6, "n_layers": 2, "seed": 3}, "base-stock", False),
    ("beer-game", {}, "quantity", True),
    ("serial", {}, "base-stock", False),
    ("orgym-inventory", {}, "quantity", False),
]


def _singles(problem, **kwargs):
    return [make_env(problem, episode_offset=i, episode_stride=N, **kwargs) for i in range(N)]


def _same(a, b, exact: bool) -> None:
    """Equal units (whole-unit networks), or equal up to summation order (money, continuous)."""
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def _money(a, b) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name,params,mode,discrete", CASES)
def test_batch_vector_env_equals_copies_of_the_single_env(name, params, mode, discrete):
    """Observations, rewards, truncations and infos, over three episodes with autoreset."""
    problem = scenarios.make(name, **params)
    kwargs = dict(action_mode=mode, discrete=discrete, periods=12)
    venv = BatchVectorEnv(problem, N, **kwargs)
    envs = _singles(problem, **kwargs)
    exact = not problem.network.continuous
    assert venv.single_observation_space == envs[0].observation_space
    assert venv.single_action_space == envs[0].action_space
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert isinstance(venv, VectorEnv) and venv.num_envs == N
    obs, info = venv.reset(seed=5)
    first = [e.reset(seed=5) for e in envs]
    _same(obs, np.stack([o for o, _ in first]), exact)
    np.testing.assert_array_equal(info["replication"], [i["replication"] for _, i in first])
    venv.action_space.seed(0)
    for _ in range(3 * (12 + 1)):
        actions = venv.action_space.sample()
        obs, reward, terminated, truncated, info = venv.step(actions)
        outs = [
            e.step(actions[i]) if not e.runner.done else (*e.reset(), None)
            for i, e in enumerate(envs)
        ]
        _same(obs, np.stack([o[0] for o in outs]), exact)
        if len(outs[0]) == 3:  # the autoreset step: new episodes, reward 0
            assert not reward.any() and not truncated.any()
            np.testing.assert_array_equal(info["replication"], [o[1]["replication"] for o in outs])
            continue
        _money(reward, [o[1] for o in outs])
        assert not terminated.any()
        np.testing.assert_array_equal(truncated, [o[3] for o in outs])
        for key in ("t", "dt", "replication"):
            np.testing.assert_array_equal(info[key], [o[4][key] for o in outs], err_msg=key)
        for key in ("orders", "action_mask"):
            _same(info[key], np.stack([o[4][key] for o in outs]), exact)
        _money(info["node_cost"], np.stack([o[4]["node_cost"] for o in outs]))
        for key in ("holding", "shortage", "total"):
            _money(info["cost"][key], [o[4]["cost"][key] for o in outs])


def test_same_step_autoreset_returns_the_next_episode_at_once():
    problem = scenarios.make("single-stage")
    nxt = BatchVectorEnv(problem, N, periods=5)
    same = BatchVectorEnv(problem, N, periods=5, autoreset_mode="SameStep")
    assert same.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    nxt.reset(seed=1)
    same.reset(seed=1)
    action = np.zeros((N, 1), np.float32)
    for _ in range(5):
        a = nxt.step(action)
        b = same.step(action)
    assert a[3].all() and b[3].all()
    np.testing.assert_array_equal(b[4]["final_obs"], a[0])
    np.testing.assert_array_equal(b[1], a[1])
    restart = nxt.step(action)
    np.testing.assert_array_equal(b[0], restart[0])
    np.testing.assert_array_equal(b[4]["replication"], [3, 4, 5])


def test_bad_actions_are_refused():
    venv = BatchVectorEnv(scenarios.make("single-stage"), N, periods=5)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 1\), expected \(3, 1\)"):
        venv.step(np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"actions\[1\]\[0\] \(stage.order\) is NaN"):
        venv.step(np.array([[0.0], [np.nan], [0.0]]))


def test_fallback_for_a_market():
    with pytest.warns(UserWarning, match="batch vector env not used: a market"):
        venv = make_batch_vector_env(scenarios.make("pricing-a"), 2, seed=0, periods=5)
    assert not isinstance(venv, BatchVectorEnv)
    obs, _ = venv.reset()
    assert obs.shape[0] == 2
    with pytest.raises(ValueError, match="does not run a market"):
        BatchVectorEnv(scenarios.make("pricing-a"), 2)


def test_array_policy_runs_in_simulate_as_its_heuristic():
    """An agent acting on [R, obs] arrays: base-stock actions of level 9 are BaseStock(9)."""
    problem = scenarios.make("single-stage")
    env = make_env(problem, action_mode="base-stock", discrete=True)
    policy = ArrayPolicy(lambda obs: np.full(len(obs), 9), env)
    kwargs = dict(periods=100, replications=16, seed=2)
    agent = simulate(problem, policy, **kwargs)
    heuristic = simulate(problem, BaseStock(9), engine="event", **kwargs)
    assert agent.engine == "batch"
    np.testing.assert_array_equal(agent.per_replication, heuristic.per_replication)


def test_gymnasium_vector_wrappers_run_on_it():
    """What PPO code stacks on a vector env: episode statistics, clipping, normalisation."""
    from gymnasium.wrappers.vector import ClipAction, NormalizeObservation, RecordEpisodeStatistics

    venv = BatchVectorEnv(scenarios.make("single-stage"), 4, seed=0, periods=10)
    env = NormalizeObservation(ClipAction(RecordEpisodeStatistics(venv)))
    env.reset()
    returns = []
    for _ in range(21):
        _, reward, _, truncated, info = env.step(env.action_space.sample())
        if "episode" in info:
            returns.append(info["episode"]["r"])
            np.testing.assert_array_equal(info["episode"]["l"], 10)
    assert len(returns) == 2 and all((r < 0).all() for r in returns)


@pytest.mark.parametrize(
    "name,params,mode",
    [
        ("owmr", {}, "base-stock"),
        ("random-dag", {"n_nodes": 6, "n_layers": 2, "seed": 3}, "quantity"),
        ("serial", {}, "capped-base-stock"),
    ],
)
def test_batch_parallel_env_equals_copies_of_the_parallel_env(name, params, mode):
    """The multi-agent equivalent: per-agent observations, team rewards and node costs."""
    problem = scenarios.make(name, **params)
    penv = BatchParallelEnv(problem, N, periods=8, action_mode=mode)
    singles = [
        parallel_env(problem, periods=8, action_mode=mode, episode_offset=i, episode_stride=N)
        for i in range(N)
    ]
    agents = penv.possible_agents
    assert agents == singles[0].possible_agents
    assert all(penv.observation_space(a) == singles[0].observation_space(a) for a in agents)
    assert all(penv.action_space(a) == singles[0].action_space(a) for a in agents)
    exact = not problem.network.continuous
    obs, _ = penv.reset(seed=4)
    first = [e.reset(seed=4)[0] for e in singles]
    for a in agents:
        _same(obs[a], np.stack([o[a] for o in first]), exact)
    _same(penv.state(), np.stack([e.state() for e in singles]), exact)
    for a in agents:
        penv.action_space(a).seed(1)
    for _ in range(2 * (8 + 1)):
        actions = {a: np.stack([penv.action_space(a).sample() for _ in range(N)]) for a in agents}
        obs, rewards, _, truncated, infos = penv.step(actions)
        outs = [
            e.step({a: actions[a][i] for a in agents}) if e.agents else (e.reset()[0], None)
            for i, e in enumerate(singles)
        ]
        for a in agents:
            _same(obs[a], np.stack([o[0][a] for o in outs]), exact)
        if outs[0][1] is None:
            continue
        for a in agents:
            _money(rewards[a], [o[1][a] for o in outs])
            np.testing.assert_array_equal(truncated[a], [o[3][a] for o in outs])
            _money(infos[a]["node_cost"], [o[4][a]["node_cost"] for o in outs])


def test_batch_parallel_env_refuses_what_the_parallel_env_refuses():
    net = scenarios.make("single-stage").network
    with pytest.raises(ValueError, match="market"):
        BatchParallelEnv(scenarios.make("pricing-a"), 2)
    env = BatchParallelEnv(net, 2, periods=5)
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"stage": np.zeros((2, 1))})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="no action for agent"):
        env.step({})
