"""recommendation-fashion: a selling season with one buy (scenarios/recommendation.py), the
market's popularity trends, the season policies (des_supply.recommendation_policies) and
the exact static benchmark and bound (optimization.recommendation_season)."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply.evaluate import paired_difference, simulate
from des_supply.policies import Action, BaseStock
from des_supply.policy_registry import PolicyError, make_policy
from des_supply.recommendation import KEY, RecommendationMarket
from des_supply.recommendation_policies import (
    Fixed,
    Popularity,
    RecommendAndReplenish,
    SeasonResolve,
    scores_gradient,
    season_economics,
    season_profit,
)
from des_supply.rng import replication_seed
from des_supply.sim import Simulation
from optimization.recommendation_mip import perfect_information_bound
from optimization.recommendation_season import (
    best_static,
    is_season,
    static_season_profit,
)
from scenarios.registry import ScenarioError


def fashion(**params):
    problem = scenarios.make("recommendation-fashion-small", **params)
    model = problem.market.model
    return problem, model, season_economics(problem.network, model.products)


def test_registered_sizes_and_season_network():
    assert {"recommendation-fashion-small", "recommendation-fashion-medium"} <= set(
        scenarios.names()
    )
    for size, (n, m, season) in scenarios.recommendation.FASHION_SIZES.items():
        problem = scenarios.make(f"recommendation-fashion-{size}")
        assert problem.periods == season and problem.warmup == 0
        assert problem.market.model.shape == (n, m) and is_season(problem)
    problem, model, econ = fashion(salvage=2.0, price_spread=0.0)
    assert econ.season == 12
    for p in model.products:
        node = problem.network.node(p)
        assert node.review_period == 12 and node.shortage == "lost"
        assert problem.network.suppliers(p)[0].lead_time.constant == 0
        # salvage s: price - s per unit sold, unit cost - s per unit bought (same profit)
        assert (node.price, node.order_cost) == (8.0, 3.0)
    assert not is_season(scenarios.make("recommendation-small"))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"season": 0}, "season must be >= 1"),
        ({"salvage": 6.0}, "salvage"),
        ({"buy_cap": 0.0}, "buy_cap"),
        ({"trend_sd": -1.0}, "trend_sd"),
        ({"holding": -1.0}, "holding"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ScenarioError, match=match):
        scenarios.make("recommendation-fashion-small", **params)


def test_one_buy_per_season_and_caps():
    """The node decides at t = 0 only (ordering later is refused by the engine), and a
    buy_cap cuts the buy."""
    problem, model, econ = fashion(buy_cap=0.5)
    policy = RecommendAndReplenish(BaseStock(1000.0), Fixed(model.uniform()))
    ledger = Simulation(problem.network, 12, 0, problem.new_market()).run(policy)
    ordered = {p: ledger.column("ordered", p) for p in model.products}
    for i, p in enumerate(model.products):
        assert ordered[p][0] == econ.capacity[i] and not ordered[p][1:].any()


def test_trends_are_drawn_per_season_and_leave_the_uniforms_alone():
    problem, model, _ = fashion(trend_sd=1.0, season=4)
    seen = []

    class Spy:
        def act(self, obs):
            return Action(orders={}, extra={KEY: model.uniform()})

    class Recorder(RecommendationMarket):
        def draw(self, t, action, obs):
            out = super().draw(t, action, obs)
            seen.append((self.trend.copy(), self.last_demand.copy()))
            return out

    market = Recorder(model, trend_sd=1.0, trend_every=4)
    Simulation(problem.network, 9, 5, market).run(Spy())
    trends = np.array([s[0] for s in seen])
    assert np.all(trends[0] == trends[:4]) and np.all(trends[4] == trends[4:8])
    assert not np.allclose(trends[0], trends[4]) and not np.allclose(trends[4], trends[8])
    from des_supply.rng import root_sequence, stream

    path = RecommendationMarket(model, 1.0, 4).trend_path(stream(root_sequence(5), "market"), 9)
    np.testing.assert_array_equal(path, trends)
    # the same run without trends draws the same uniforms: demand differs only via the trend
    plain = []

    class Plain(RecommendationMarket):
        def draw(self, t, action, obs):
            u = self.uniforms()
            plain.append(u)
            return dict(zip(self.nodes, map(float, self.model.demand(model.uniform(), u).sum(1))))

    Simulation(problem.network, 9, 5, Plain(model)).run(Spy())
    for t, (z, d) in enumerate(seen):
        np.testing.assert_array_equal(d, model.shifted(z).demand(model.uniform(), plain[t]))


def test_season_profit_gradients_match_finite_differences():
    _, model, econ = fashion(efficiency=0.5)
    rng = np.random.default_rng(3)
    x, stock = rng.normal(size=model.base_ratings.size), np.array([10.0, 40.0, 25.0])

    def f(x, stock):
        alpha = model.from_logits(x)
        value, g_gamma, g_stock = season_profit(model, econ, alpha, stock, 7)
        return value, scores_gradient(model, alpha, g_gamma), g_stock

    _, g, g_stock = f(x, stock)
    h = 1e-6
    num = [(f(x + e, stock)[0] - f(x - e, stock)[0]) / (2 * h) for e in np.eye(x.size) * h]
    np.testing.assert_allclose(num, g, atol=1e-5)
    num = [(f(x, stock + e)[0] - f(x, stock - e)[0]) / (2 * h) for e in np.eye(3) * h]
    np.testing.assert_allclose(num, g_stock, atol=1e-5)


def test_exact_static_season_profit_matches_simulation():
    """No trend: the convolution formula is the expected profit the engine produces."""
    problem, model, econ = fashion(trend_sd=0.0, holding=0.3, penalty=1.0)
    alpha = Popularity().recommend(None, model)
    exact, buys = static_season_profit(model, econ, alpha)
    policy = RecommendAndReplenish(BaseStock(dict(zip(model.products, buys))), Fixed(alpha))
    res = simulate(problem, policy, periods=12, replications=400, seed=11)
    low, high = (x * 12 for x in res.ci95)
    assert low <= exact <= high
    # the buys are the exact optimum: one unit more or less of any product loses
    for i in range(3):
        for step in (-1.0, 1.0):
            other = buys.copy()
            other[i] += step
            assert _profit_with(model, econ, alpha, other) <= exact + 1e-9


def _profit_with(model, econ, alpha, buys):
    from optimization.recommendation_season import _product_profit, period_pmfs

    return sum(
        float(_product_profit(pmf, econ, i)[int(buys[i])])
        for i, pmf in enumerate(period_pmfs(model, alpha))
    )


def test_perfect_information_plan_replays_with_one_buy_and_trends():
    problem, model, _ = fashion(trend_sd=1.0, season=6)
    T, seed, k = 12, 4, 1
    bound = perfect_information_bound(problem, periods=T, seed=seed, replication=k, rel_gap=0.0)
    ledger = Simulation(problem.network, T, replication_seed(seed, k), problem.new_market()).run(
        bound.policy()
    )
    np.testing.assert_allclose(ledger.profit(), bound.period_profits, atol=1e-6)
    orders = np.array([bound.orders[p] for p in model.products])
    assert not orders[:, [t for t in range(T) if t % 6]].any()  # buys at season starts only


def test_registered_season_policies_run_and_repeat():
    problem, model, _ = fashion()
    level = {p: 40.0 for p in model.products}
    runs = []
    for name in (
        "base-stock-season-static",
        "base-stock-season-resolve",
        "base-stock-season-learn",
    ):
        policy = make_policy(name, problem, {"level": level})
        a = simulate(problem, policy, periods=12, replications=2, seed=3)
        b = simulate(
            problem,
            make_policy(name, problem, {"level": level}),
            periods=12,
            replications=2,
            seed=3,
        )
        np.testing.assert_array_equal(a.per_replication, b.per_replication)
        runs.append(a)
    assert not np.array_equal(runs[0].per_replication, runs[1].per_replication)
    with pytest.raises(PolicyError, match="selling season"):
        make_policy(
            "base-stock-season-resolve", scenarios.make("recommendation-small"), {"level": 5.0}
        )


def test_static_policy_keeps_its_intensities_and_resolve_reacts_to_stock():
    problem, model, econ = fashion(trend_sd=0.0)
    start = Popularity().recommend(None, model)
    frozen = RecommendAndReplenish(BaseStock(30.0), SeasonResolve(start=start, freeze=True))
    moving = RecommendAndReplenish(BaseStock(30.0), SeasonResolve(start=start, learn=False))
    seen = {}
    for name, policy in (("frozen", frozen), ("moving", moving)):
        market = problem.new_market()
        sim = Simulation(problem.network, 12, 2, market)
        alphas: list[np.ndarray] = []

        class Tap:
            def act(self, obs, policy=policy, alphas=alphas):
                action = policy.act(obs)
                alphas.append(action.extra[KEY])
                return action

            def start_run(self, rng, policy=policy):
                policy.start_run(rng)

        sim.run(Tap())
        seen[name] = np.array(alphas)
    assert np.allclose(seen["frozen"], start)
    assert np.allclose(seen["moving"][0], start) and not np.allclose(seen["moving"][5], start)


def test_optimize_routes_a_season_to_its_bound_and_policies():
    from optimization.optimize import optimize

    problem, model, econ = fashion()
    res = optimize(problem, bound_periods=8, bound_replications=1)
    names = [b.name for b in res.policies]
    assert names == [
        "base-stock-uniform",
        "base-stock-popularity",
        "base-stock-margin",
        "base-stock-season-static",
        "base-stock-season-resolve",
        "base-stock-season-learn",
    ]
    assert res.details["periods"] == 12  # whole seasons
    static = {b.name: b.value for b in res.policies}
    assert res.optimal.name == "perfect-information-bound"
    for name in res.details["covered_by_bound"]:
        assert static[name] <= res.optimal.value + 1e-9
    best = best_static(model, econ, problem.network, trend_sd=problem.market.trend_sd)
    assert best.profit >= max(best.candidates.values()) - 1e-9


@pytest.mark.slow
def test_inventory_aware_recommendation_beats_the_best_static_one():
    """The claim of benchmarks/recommendation_fashion.py at the defaults, on fewer seasons."""
    problem, model, econ = fashion()
    best = best_static(model, econ, problem.network, trend_sd=problem.market.trend_sd)
    levels = best.levels(model)
    static = RecommendAndReplenish(BaseStock(levels), SeasonResolve(start=best.alpha, freeze=True))
    learn = RecommendAndReplenish(BaseStock(levels), SeasonResolve(start=best.alpha))
    a = simulate(problem, static, periods=12, replications=60, seed=99)
    b = simulate(problem, learn, periods=12, replications=60, seed=99)
    diff, low, high = paired_difference(b, a)
    assert low > 0
