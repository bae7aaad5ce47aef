"""scenarios.presets: a preset for every kind of problem (chosen by kind, not by name), envs
whose zero action plays the anchor policy, and run records that rebuild problems (fast: no
training here)."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from networks import TINY_COLLABORATIVE, TINY_SEARCH, two_echelon

import scenarios
from des_supply import Edge, Network, Node, Poisson
from des_supply.evaluate import simulate
from des_supply.problem import Problem, as_problem
from rl.collaborative_env import CollaborativeEnv
from rl.env import InventoryEnv
from rl.evaluation import evaluate_agent
from rl.ppo import PPOConfig
from rl.recommendation_env import RecommendationEnv
from scenarios.presets import (
    ActionWindow,
    Anchor,
    make_thunk,
    preset,
    problem_from_record,
    problem_record,
    search_anchor,
    with_steps,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "examples" / "two_echelon_stochastic.json"
# RL envs: periodic, one order per node (dual sourcing has no preset: test_compare_dual_sourcing)
SCENARIOS = [
    n for n in scenarios.names() if scenarios.get(n).time == "periodic" and n != "dual-sourcing"
]
# small instances where the default one would be slow to build or to search
SMALL = {
    "random-dag": {"n_nodes": 6, "n_layers": 3},
    "pricing-a": {"price_step": 5.0, "comp_step": 5.0, "ref_step": 5.0},
}


@pytest.fixture
def cheap_searches(monkeypatch):
    """Short simulations in the searches the presets (and optimize) run; the searches
    themselves are tested in tests/optimization."""
    import optimization.collaborative as oc
    import optimization.recommendation_optimize as ro
    import optimization.search as search

    monkeypatch.setattr(
        oc,
        "optimize_collaborative",
        functools.partial(oc.optimize_collaborative, **TINY_COLLABORATIVE),
    )

    monkeypatch.setattr(
        search, "search_base_stock", functools.partial(search.search_base_stock, **TINY_SEARCH)
    )
    monkeypatch.setattr(
        ro,
        "base_stock_levels",
        functools.partial(ro.base_stock_levels, periods=60, replications=1, quantiles=(0.7, 0.9)),
    )


def _wrapper(env: gym.Env, cls: type) -> gym.Env | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, cls):
            return env
        env = env.env
    return None


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_preset_and_thunk_for_every_scenario(scenario: str, cheap_searches) -> None:
    problem = scenarios.make(scenario, **SMALL.get(scenario, {}))
    cfg, spec = preset(problem, search=TINY_SEARCH)
    assert isinstance(cfg, PPOConfig)
    dataclasses.replace(cfg)  # PPOConfig validates itself
    assert cfg.batch_size % cfg.n_minibatches == 0 and cfg.total_steps >= cfg.batch_size
    assert set(spec) >= {"env", "scale_observation", "scale_reward"}
    json.dumps(spec)  # run.json takes it as it is
    env_kwargs = spec["env"]
    if problem.kind.market == "recommendation":  # the Joint IM-RS agent's env
        assert env_kwargs["control"] == "joint"
    elif problem.kind.market == "collaborative":  # anchored on the searched reference policy
        assert set(env_kwargs) >= {"levels", "price_factor", "intensities"}
    else:
        assert env_kwargs["action_mode"] == "base-stock" and env_kwargs["discrete"] is False
    assert 1 <= int(env_kwargs["periods"]) <= problem.periods
    env = make_thunk(problem, spec)()
    envs = {"recommendation": RecommendationEnv, "collaborative": CollaborativeEnv}
    assert isinstance(env.unwrapped, envs.get(problem.kind.market, InventoryEnv))
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(30):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward) and not terminated
        if truncated:
            obs, _ = env.reset()
    if spec["scale_observation"]:
        assert np.all(np.abs(obs) < 100.0)  # order-1 features after the fixed scaling


def test_preset_is_chosen_by_kind_not_by_name(cheap_searches) -> None:
    single = Network(
        nodes=(
            Node("s", kind="supply"),
            Node("x", holding_cost=1, shortage="lost", shortage_cost=9, demand=Poisson(5)),
        ),
        edges=(Edge("s", "x", lead_time=2),),
        name="pricing-a",
    )  # a misleading name
    _, spec = preset(single)
    # Zipkin's case: the single-stage window, centred on a searched base-stock level,
    # ceil(2 sd) = 8 units of the demand over L + 1 = 3 periods each side
    window = spec["action_window"]
    (lo,), (center,), (hi,) = window["low"], window["center"], window["high"]
    assert center - lo == 8 and hi - center == 8 and "anchor" not in spec
    _, spec = preset(two_echelon(), search=TINY_SEARCH)
    assert "anchor" in spec and spec["action_window"]["center"] is not None
    renamed = dataclasses.replace(scenarios.make("pricing-b", **SMALL["pricing-a"]), name="serial")
    _, spec = preset(renamed)
    assert "action_window" not in spec
    assert spec["env"]["max_level"] == renamed.network.stock_nodes[0].storage_capacity


@pytest.mark.parametrize("target", ["serial", "owmr", "beer-game", "example", "python"])
def test_zero_action_plays_the_anchor_policy(target: str, cheap_searches) -> None:
    """An untrained agent's action u = 0 is the searched base-stock policy itself (installation
    or echelon), so training starts there: same cost as simulate on the same episodes."""
    build = {
        "example": lambda: Problem.from_json(EXAMPLE),
        "python": lambda: as_problem(two_echelon()),
    }
    problem = build.get(target, lambda: scenarios.make(target))()
    anchor = search_anchor(problem, search=TINY_SEARCH)
    _, spec = preset(problem, anchor=anchor)
    assert spec["anchor"]["family"] == anchor.family
    spec = {**spec, "env": {**spec["env"], "periods": 60}}
    thunk = make_thunk(problem, spec)
    zero = np.zeros(thunk().action_space.shape, np.float32)
    agent = evaluate_agent(thunk, lambda obs: zero, seed=11, episodes=4)
    engine = simulate(problem, anchor.policy(), periods=60, replications=4, seed=11)
    np.testing.assert_allclose(agent.per_episode, engine.per_replication, rtol=1e-12)


def test_rewards_are_measured_against_the_anchor(cheap_searches) -> None:
    """reward = (c_ref - cost) / c_ref per period: u = 0 on the episodes c_ref was measured
    on (seed 0, episodes 0..31) earns exactly 0 on average."""
    problem = as_problem(two_echelon())
    _, spec = preset(problem, search=TINY_SEARCH)
    c_ref, periods = spec["anchor"]["reference_cost"], spec["env"]["periods"]
    assert spec["reward_shift"] == pytest.approx(c_ref)
    assert spec["reward_scale"] == pytest.approx(c_ref)
    env = make_thunk(problem, spec)()
    zero = np.zeros(env.action_space.shape, np.float32)
    total = 0.0
    for k in range(32):
        env.reset(seed=0, options={"episode": k})
        truncated = False
        while not truncated:
            _, reward, _, truncated, _ = env.step(zero)
            total += reward
    assert total / (32 * periods) == pytest.approx(0.0, abs=1e-9)


def test_action_window_maps_onto_levels() -> None:
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    env = make_thunk(problem, spec)()
    window = _wrapper(env, ActionWindow)
    assert window is not None
    (lo,), (hi,) = spec["action_window"]["low"], spec["action_window"]["high"]
    base = env.unwrapped
    for u, level in ((-1.0, lo), (0.0, (lo + hi) / 2), (1.0, hi), (5.0, hi)):
        got = base.layout.parse(
            window.action(np.array([u], np.float32)), base.layout.nodes, base.action_space
        )
        assert got[0] == pytest.approx(level)


def test_action_window_with_a_center_and_echelon_levels() -> None:
    net = Network(
        nodes=(
            Node("s", kind="supply"),
            Node("up", holding_cost=0.5),
            Node("down", holding_cost=1, shortage_cost=9, demand=Poisson(5), initial_on_hand=7),
        ),
        edges=(Edge("s", "up", lead_time=1), Edge("up", "down", lead_time=1)),
    )
    from rl.env import make_env

    env = ActionWindow(
        make_env(net, action_mode="base-stock", max_level=100),
        low=[0, 10],
        high=[40, 20],
        center=[10, 18],
        echelon=True,
    )
    env.reset(seed=0)
    np.testing.assert_allclose(env.levels(np.array([-1, -1])), [0, 10])
    np.testing.assert_allclose(env.levels(np.array([0, 0])), [10, 18])
    np.testing.assert_allclose(env.levels(np.array([0.5, 0.5])), [25, 19])
    # echelon: installation level = echelon level - (echelon IP - IP); down's echelon is itself
    view = env.unwrapped.view
    gap = view.echelon_inventory_position("up") - view.inventory_position("up")
    assert gap == pytest.approx(7.0)
    action = env.action(np.array([0.0, 0.0]))
    np.testing.assert_allclose((action + 1) / 2 * 100, [10 - 7, 18])
    with pytest.raises(ValueError, match="center"):
        ActionWindow(
            make_env(net, action_mode="base-stock", max_level=100), [0, 0], [10, 10], center=[11, 5]
        )


def _numpy_window(window: ActionWindow, action: np.ndarray) -> np.ndarray:
    """ActionWindow's map on numpy arrays (its definition, written out)."""
    u = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    low, high, center = window.low, window.high, window.center
    if center is None:
        value = low + (u + 1.0) * 0.5 * (high - low)
    else:
        value = np.where(u < 0, center + u * (center - low), center + u * (high - center))
    if window.echelon:
        view = window.unwrapped.view
        gap = np.array(
            [view.echelon_inventory_position(n) - view.inventory_position(n) for n in window.nodes]
        )
        value = np.clip(value - gap, 0.0, window.maxima)
    return 2.0 * value / window.maxima - 1.0


@pytest.mark.parametrize(
    "window",
    [
        {"low": [1, 2, 3], "high": [10, 20, 30]},
        {"low": [1, 2, 3], "high": [10, 20, 30], "center": [5, 6.5, 7]},
        {"low": [1, 2, 3], "high": [10, 20, 30], "echelon": True},
        {"low": 0.5, "high": 25.25, "center": 9.75, "echelon": True},
    ],
)
def test_action_window_on_python_floats_is_the_numpy_map(window) -> None:
    """The per-step path (Python floats) gives numpy's map bit for bit, NaN and -0.0 too."""
    from rl.env import make_env

    env = ActionWindow(
        make_env(scenarios.make("serial"), periods=30, action_mode="base-stock"), **window
    )
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    special = [np.nan, -0.0, 0.0, -1.0, 1.0, -np.inf, np.inf, 1e-300, -0.5, 2.0]
    for k in range(150):
        a = rng.choice(special, 3) if k % 3 == 0 else rng.uniform(-1.3, 1.3, 3)
        for dtype in (np.float32, np.float64):
            got = env.action(a.astype(dtype))
            expected = _numpy_window(env, a.astype(dtype))
            assert got.dtype == np.float64 and got.tobytes() == expected.tobytes(), a
        if not np.isnan(a).any() and env.step(a.astype(np.float32))[3]:
            env.reset()


def test_same_env_for_training_and_evaluation() -> None:
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    e1, e2 = make_thunk(problem, spec)(), make_thunk(problem, spec)()
    o1, _ = e1.reset(seed=5, options={"episode": 2})
    o2, _ = e2.reset(seed=5, options={"episode": 2})
    np.testing.assert_array_equal(o1, o2)
    for a in np.linspace(-1.0, 1.0, 10):
        r1, r2 = e1.step(np.array([a], np.float32)), e2.step(np.array([a], np.float32))
        np.testing.assert_array_equal(r1[0], r2[0])
        assert r1[1] == r2[1]


def test_every_env_gets_its_own_market() -> None:
    problem = scenarios.make("pricing-b", **SMALL["pricing-a"])
    _, spec = preset(problem)
    thunk = make_thunk(problem, spec)
    m1, m2 = thunk().unwrapped.sim.market, thunk().unwrapped.sim.market
    assert m1 is not m2 and m1 is not problem.market


@pytest.fixture
def window_only(monkeypatch):
    """The single-stage preset's order-up-to window at every lead time (no level-and-cap
    actions at SINGLE_STAGE_CAPPED_LEADS): what the window tests below look at."""
    import scenarios.presets as presets

    monkeypatch.setattr(presets, "SINGLE_STAGE_CAPPED_LEADS", (99, 99))


def test_single_stage_presets_follow_the_case(window_only) -> None:
    _, a = preset(scenarios.make("single-stage", lead_time=2, penalty=9.0))
    _, b = preset(scenarios.make("single-stage", lead_time=4, penalty=39.0))
    (lo_a,), (hi_a,) = a["action_window"]["low"], a["action_window"]["high"]
    (lo_b,), (hi_b,) = b["action_window"]["low"], b["action_window"]["high"]
    # the window brackets the best base-stock level (19 and 33, Zipkin 2008)
    assert lo_a < 19 < hi_a and lo_b < 33 < hi_b
    assert 5.0 < a["reward_shift"] < 8.0 and 9.0 < b["reward_shift"] < 13.0


@pytest.mark.parametrize("lead_time, penalty", [(4, 4.0), (2, 9.0), (4, 39.0)])
def test_single_stage_window_holds_every_level_the_dp_uses(lead_time, penalty, window_only) -> None:
    """The window brackets the DP's implied order-up-to levels (inventory position + optimal
    order, over the states of its stationary law where it orders) and centres on the best
    base-stock level of the exact chain search (within one unit: the preset searches by
    simulation); u = 0 plays that centre.  The old newsvendor-centred window [19, 39] at
    (4, 4) missed the DP's lowest levels (18) and started the agent at 29, above all of
    them (the DP's 99 % level is 27)."""
    from optimization.lost_sales import heuristics, solve_lost_sales
    from optimization.lost_sales_model import StateSpace, evaluate_orders

    sol = solve_lost_sales(lead_time, 1.0, penalty)
    space = StateSpace.build(lead_time, sol.truncation)
    orders = sol.table[tuple(space.states.T)]
    _, pi = evaluate_orders(sol.model, space, orders)
    used = (orders > 0) & (pi > 1e-6)
    levels = (space.states.sum(axis=1) + orders)[used]
    best = heuristics(lead_time, 1.0, penalty, names=("best-base-stock",))["best-base-stock"]

    problem = scenarios.make("single-stage", lead_time=lead_time, penalty=penalty)
    _, spec = preset(problem)
    window = spec["action_window"]
    (lo,), (center,), (hi,) = window["low"], window["center"], window["high"]
    assert lo <= levels.min() and levels.max() < hi
    assert abs(center - best.params["level"]) <= 1
    env = make_thunk(problem, spec)()
    wrapper = _wrapper(env, ActionWindow)
    assert wrapper is not None and wrapper.levels(np.zeros(1))[0] == center


@pytest.mark.parametrize(
    "lead_time, params, mode",
    [
        (2, {"penalty": 39.0}, "base-stock"),
        (3, {"penalty": 4.0}, "capped-base-stock"),
        (5, {"penalty": 4.0}, "base-stock"),  # beyond the validated range: the window
        (4, {"penalty": 4.0, "shortage": "backlog"}, "base-stock"),
        (4, {"penalty": 4.0, "demand": "normal", "demand_std": 2.0}, "base-stock"),
    ],
)
def test_single_stage_sets_a_level_and_a_cap_at_lead_times_3_and_4(lead_time, params, mode) -> None:
    """Lost sales with L in SINGLE_STAGE_CAPPED_LEADS (3, 4), where the exact best capped
    base-stock policy is known (Poisson demand): the agent sets a level and a cap around it
    (u = 0 plays it, rewards against its exact cost), the level with the window's
    half-widths, the cap within CAP_WINDOW.  Elsewhere the order-up-to window."""
    from optimization.optimize import best_capped_base_stock
    from scenarios.presets import CAP_WINDOW, SINGLE_STAGE_CAPPED_LEADS

    assert SINGLE_STAGE_CAPPED_LEADS == (3, 4)
    problem = scenarios.make("single-stage", lead_time=lead_time, **params)
    _, spec = preset(problem)
    assert spec["env"]["action_mode"] == mode
    if mode == "base-stock":
        assert len(spec["action_window"]["center"]) == 1
        return
    best = best_capped_base_stock(problem)
    level, cap = best.params["level"], best.params["cap"]  # (21, 5) at (3, 4)
    window = spec["action_window"]
    assert window["center"] == [level, cap] and spec["reward_shift"] == best.value
    assert window["low"] == [level - 9, cap - CAP_WINDOW[0]]  # ceil(2 sd), sd = sqrt(20)
    assert window["high"] == [level + 9, cap + CAP_WINDOW[1]]
    assert spec["env"]["max_level"] == level + 9 and spec["env"]["max_order"] == cap + 4
    wrapper = _wrapper(make_thunk(problem, spec)(), ActionWindow)
    assert wrapper is not None and list(wrapper.levels(np.zeros(2))) == [level, cap]


def test_check_steps_runs_no_search_for_single_stage(monkeypatch) -> None:
    """check_steps runs before training: the single-stage settings need no base-stock
    search (the preset's window does)."""
    import optimization.search as search
    from scenarios.presets import check_steps

    def refuse(*args, **kwargs):
        raise AssertionError("check_steps searched")

    monkeypatch.setattr(search, "search_base_stock", refuse)
    problem = scenarios.make("single-stage", lead_time=4, penalty=39.0)
    check_steps(problem, 4096)
    with pytest.raises(ValueError, match="total_steps"):
        check_steps(problem, 10)
    with pytest.raises(AssertionError, match="searched"):
        preset(problem)


def test_with_steps_shrinks_rollouts_for_tiny_budgets() -> None:
    cfg, _ = preset(scenarios.make("single-stage"))
    small = with_steps(cfg, 512)
    assert small.total_steps == 512 and small.batch_size <= 512 and small.n_envs == cfg.n_envs
    assert with_steps(cfg, None) == cfg and with_steps(cfg, 10**6).n_steps == cfg.n_steps
    with pytest.raises(ValueError, match="total_steps"):
        with_steps(cfg, 10)


def test_problem_records_rebuild_problems(tmp_path) -> None:
    problem = scenarios.make("owmr", n_retailers=2, penalty=19.0)
    record = json.loads(json.dumps(problem_record(problem)))
    assert record == {"scenario": "owmr", "params": {"n_retailers": 2, "penalty": 19.0}}
    assert problem_from_record(record).network == problem.network
    # a network file: the path and the network inline; the inline one is what is rebuilt
    path = tmp_path / "net.json"
    two_echelon().to_json(path)
    from_file = Problem.from_json(path)
    record = json.loads(json.dumps(problem_record(from_file)))
    assert record["source"] == str(path) and record["network"]["name"] == "two-echelon"
    path.unlink()
    again = problem_from_record(record)
    assert again.network == from_file.network and again.source == str(path)
    assert again.name == from_file.name and again.periods == from_file.periods
    # a network built in Python
    record = json.loads(json.dumps(problem_record(two_echelon())))
    assert problem_from_record(record).network == two_echelon()
    # a market no scenario builds cannot be written down
    custom = Problem(two_echelon(), scenarios.make("pricing-a").market, name="mine")
    with pytest.raises(ValueError, match="market"):
        problem_record(custom)
    with pytest.raises(ValueError, match="scenario"):
        problem_from_record({"nothing": 1})


def test_anchor_picks_the_cheaper_family(cheap_searches) -> None:
    problem = scenarios.make("serial", decisions="simultaneous")  # sequential: installation only
    anchor = search_anchor(problem, search=TINY_SEARCH)
    assert set(anchor.values) == {"base-stock", "echelon-base-stock"}
    assert anchor.values[anchor.family] == min(anchor.values.values()) == anchor.search_value
    # given levels are evaluated on the search's seeds, not searched again
    given = search_anchor(problem, levels=anchor.candidates, search=TINY_SEARCH)
    assert given.family == anchor.family and given.levels == anchor.levels
    assert given.values == pytest.approx(anchor.values)
    assert isinstance(Anchor("base-stock", {"a": 1.0}, 0.0, {}).policy().level, dict)


def test_unknown_market_kind_is_refused() -> None:
    class Odd:
        kind = "auction"

        def reset(self, rng):
            pass

        def draw(self, t, action, obs):
            return {}

    with pytest.raises(ValueError, match="auction"):
        preset(Problem(two_echelon(), Odd()))


def test_single_stage_keeps_its_best_policy_at_lead_times_2_to_4() -> None:
    """Lost sales, L in SINGLE_STAGE_SELECT_LEADS (2, 3, 4; the window at L = 2, level and cap
    above): PPO keeps the best policy judged on 2000-period selection episodes
    (selection_thunk); L = 1 does not."""
    from scenarios.presets import SINGLE_STAGE_SELECT, SINGLE_STAGE_SELECT_LEADS, selection_thunk

    assert SINGLE_STAGE_SELECT_LEADS == (2, 3, 4)
    for L, mode in ((2, "base-stock"), (3, "capped-base-stock"), (4, "capped-base-stock")):
        problem = scenarios.make("single-stage", lead_time=L, penalty=9.0)
        cfg, spec = preset(problem)
        assert spec["env"]["action_mode"] == mode
        assert {k: getattr(cfg, k) for k in SINGLE_STAGE_SELECT} == SINGLE_STAGE_SELECT
        assert cfg.select_seed == 30_000 and cfg.select_every == 10
        assert selection_thunk(problem, spec)().unwrapped.periods == 2000
        assert make_thunk(problem, spec)().unwrapped.periods == 128
    cfg1, spec1 = preset(scenarios.make("single-stage", lead_time=1, penalty=9.0))
    assert cfg1.select_every == 0 and selection_thunk(problem, spec1) is None
