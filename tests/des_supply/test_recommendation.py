"""The recommendation model against its formulas (seed paper eqs. 8-10), the market in the
engine (conservation, common random numbers) and the scenarios' input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import scenarios
from des_supply.evaluate import simulate
from des_supply.policies import Action, BaseStock
from des_supply.recommendation import (
    KEY,
    RecommendationMarket,
    RecommendationModel,
    binomial_inverse_cdf,
)
from des_supply.recommendation_policies import (
    Popularity,
    RandomOrders,
    RandomRecommender,
    RecommendAndReplenish,
    Uniform,
)
from des_supply.sim import Simulation
from scenarios.registry import ScenarioError


def small_model(axis: str = "customers") -> RecommendationModel:
    r0 = np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 1.5]])
    return RecommendationModel(r0, np.array([2, 4, 3]), max_rating=5.0, efficiency=0.8, axis=axis)


def test_ratings_and_probabilities_follow_the_formulas():
    m = small_model()
    alpha = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    r = m.ratings(alpha)
    for i in range(2):
        for j in range(3):
            r0 = m.base_ratings[i, j]
            assert r[i, j] == pytest.approx(r0 + (5.0 - r0) * alpha[i, j] * 0.8)
    g = m.probabilities(alpha)
    for j in range(3):
        e = np.exp(r[:, j])
        np.testing.assert_allclose(g[:, j], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(m.expected_demand(alpha), g @ np.array([2, 4, 3]), rtol=1e-12)


def test_recommendation_raises_a_rating_up_to_the_maximum():
    m = RecommendationModel(np.array([[1.0], [2.0]]), np.array([1]), efficiency=1.0)
    assert m.ratings(np.array([[1.0], [1.0]]))[:, 0].tolist() == [5.0, 5.0]


@settings(max_examples=40, deadline=None)
@given(u=st.floats(1e-9, 1.0), n=st.integers(0, 12), p=st.floats(0.0, 0.999))
def test_binomial_inverse_cdf_is_scipys_ppf(u, n, p):
    k = float(binomial_inverse_cdf(np.array([u]), np.array([n]), np.array([p]))[0])
    # the smallest k with cdf(k) >= u (scipy's ppf, with the same rounding tolerance)
    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    expected = float(np.argmax(cdf >= u * (1 - 1e-12))) if n > 0 else 0.0
    assert k == expected


def test_demand_is_binomial_with_the_model_probabilities():
    m = small_model()
    alpha = m.uniform()
    rng = np.random.default_rng(5)
    draws = np.stack([m.demand(alpha, 1.0 - rng.random(m.shape)) for _ in range(20_000)])
    g = m.probabilities(alpha)
    mean, var = draws.mean(0), draws.var(0)
    cap = m.capacity[None, :]
    np.testing.assert_allclose(mean, cap * g, atol=0.04)
    np.testing.assert_allclose(var, cap * g * (1 - g), atol=0.06)
    assert draws.max() <= m.capacity.max() and draws.min() >= 0


@pytest.mark.parametrize("axis", ["customers", "products"])
@settings(max_examples=30, deadline=None)
@given(scores=st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_logits_always_give_valid_intensities(axis, scores):
    m = small_model(axis)
    alpha = m.from_logits(np.array(scores))
    m.check(alpha)  # raises if a constraint is broken
    assert np.all(alpha >= 0) and np.all(alpha <= 1)


def test_uniform_and_popularity_satisfy_the_axis():
    for axis in ("customers", "products"):
        m = small_model(axis)
        for a in (
            m.uniform(),
            Popularity().recommend(None, m),
            RandomRecommender(seed=3).recommend(None, m),
        ):
            m.check(a)


def test_bad_intensities_name_the_product_or_customer():
    m = small_model()
    with pytest.raises(ValueError, match="2 x 3"):
        m.check(np.ones((3, 2)))
    bad = m.uniform()
    bad[1, 2] = 1.5
    with pytest.raises(ValueError, match="product 'p1' to customer 'c2'"):
        m.check(bad)
    bad = m.uniform()
    bad[0] *= 2
    with pytest.raises(ValueError, match="product 'p0' over customers sum to 2"):
        m.check(bad)


def test_bad_model_inputs_are_reported():
    with pytest.raises(ValueError, match="exceeds max_rating"):
        RecommendationModel(np.array([[6.0]]), np.array([1]))
    with pytest.raises(ValueError, match="one entry per customer"):
        RecommendationModel(np.ones((2, 3)), np.array([1, 2]))
    with pytest.raises(ValueError, match="customer 1 must be a whole number"):
        RecommendationModel(np.ones((2, 2)), np.array([1, 2.5]))
    with pytest.raises(ValueError, match="axis"):
        RecommendationModel(np.ones((2, 2)), np.array([1, 2]), axis="rows")


def test_csv_round_trip(tmp_path):
    m = RecommendationModel.generate(4, 6, seed=3)
    m.to_csv(tmp_path / "r.csv", tmp_path / "c.csv")
    back = RecommendationModel.from_csv(tmp_path / "r.csv", tmp_path / "c.csv")
    np.testing.assert_array_equal(back.base_ratings, m.base_ratings)
    np.testing.assert_array_equal(back.capacity, m.capacity)
    assert back.products == m.products and back.customers == m.customers
    net = scenarios.make(
        "recommendation-small",
        ratings_csv=str(tmp_path / "r.csv"),
        capacity_csv=str(tmp_path / "c.csv"),
    ).network
    assert [n.name for n in net.stock_nodes] == list(m.products)


def test_generation_is_reproducible():
    a, b = RecommendationModel.generate(5, 7, seed=11), RecommendationModel.generate(5, 7, seed=11)
    np.testing.assert_array_equal(a.base_ratings, b.base_ratings)
    assert not np.array_equal(
        a.base_ratings, RecommendationModel.generate(5, 7, seed=12).base_ratings
    )


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_registered_sizes(size):
    name = f"recommendation-{size}"
    net, market = scenarios.make(name).network, scenarios.make_market(name)
    n, m = market.model.shape
    assert (n, m) == {"small": (3, 5), "medium": (10, 30), "large": (20, 100)}[size]
    assert len(net.stock_nodes) == n


def test_scenario_input_errors():
    with pytest.raises(ScenarioError, match="shortage"):
        scenarios.make("recommendation-small", shortage="maybe").network
    with pytest.raises(ScenarioError, match="lead_time_max"):
        scenarios.make("recommendation-small", lead_time=3, lead_time_max=1).network
    with pytest.raises(ScenarioError, match="both ratings_csv and capacity_csv"):
        scenarios.make("recommendation-small", ratings_csv="x.csv").network
    with pytest.raises(ScenarioError, match="price"):
        scenarios.make("recommendation-small", price=-1).network


def test_per_product_lead_times_are_drawn_once():
    net = scenarios.make("recommendation-medium", lead_time=1, lead_time_max=4).network
    leads = {e.target: e.lead_time.mean for e in net.edges}
    assert set(leads.values()) <= {1, 2, 3, 4} and len(set(leads.values())) > 1
    net = scenarios.make(
        "recommendation-small", lead_time=1, lead_time_max=3, stochastic_lead_time=True
    ).network
    assert all(e.lead_time.mean == 2 for e in net.edges)


# -- in the engine --------------------------------------------------------------------------------
def _levels(market: RecommendationMarket, factor: float = 3.0) -> dict[str, float]:
    m = market.model
    return {p: round(factor * d) for p, d in zip(m.products, m.expected_demand(m.uniform()))}


@pytest.mark.parametrize("shortage", ["lost", "backlog"])
def test_engine_demand_is_the_markets_and_units_are_conserved(shortage):
    name = "recommendation-small"
    net, market = (
        scenarios.make(
            name, shortage=shortage, lead_time=1, lead_time_max=3, stochastic_lead_time=True
        ).network,
        scenarios.make_market(name),
    )
    policy = RecommendAndReplenish(BaseStock(_levels(market)), Popularity())
    sim = Simulation(net, 300, 4, market)
    seen = []
    original = market.draw

    def draw(t, action, obs):
        out = original(t, action, obs)
        seen.append(market.last_demand.sum(axis=1))
        return out

    market.draw = draw  # type: ignore[method-assign]
    ledger = sim.run(policy)
    demand = np.stack(seen)
    cols = [ledger.nodes.index(p) for p in market.model.products]
    np.testing.assert_array_equal(ledger.data["demand"][:, cols], demand)
    assert np.abs(ledger.conservation_residual()).max() < 1e-9


def test_recommendation_shifts_demand_between_products():
    """Moving product 0's exposure from customer 2 to customer 1 raises customer 1's
    probability of buying it, lowers customer 2's, and moves the other products the
    opposite way; each customer's probabilities still sum to 1."""
    m = small_model()
    before = m.uniform()
    after = before.copy()
    after[0] = [before[0, 0], before[0, 1] + before[0, 2], 0.0]
    g0, g1 = m.probabilities(before), m.probabilities(after)
    assert g1[0, 1] > g0[0, 1] and g1[1, 1] < g0[1, 1]
    assert g1[0, 2] < g0[0, 2] and g1[1, 2] > g0[1, 2]
    np.testing.assert_allclose(g1[:, 0], g0[:, 0])
    np.testing.assert_allclose(g1.sum(0), 1.0)


def test_common_random_numbers_and_reproducibility():
    name = "recommendation-small"
    net, market = scenarios.make(name).network, scenarios.make_market(name)
    levels = _levels(market)
    run = lambda rec: simulate(
        net,
        RecommendAndReplenish(BaseStock(levels), rec),
        periods=400,
        seed=7,
        replications=3,
        market=market,
    )
    a, b = run(RandomRecommender()), run(RandomRecommender())
    np.testing.assert_array_equal(a.per_replication, b.per_replication)
    # same uniforms whatever the policy: uniform recommendation twice is identical too
    np.testing.assert_array_equal(run(Uniform()).per_replication, run(Uniform()).per_replication)
    # random orders are reproducible per replication and differ between replications
    pol = RecommendAndReplenish(RandomOrders(10), Uniform())
    r1 = simulate(net, pol, periods=200, seed=1, replications=2, market=market)
    r2 = simulate(net, pol, periods=200, seed=1, replications=2, market=market)
    np.testing.assert_array_equal(r1.per_replication, r2.per_replication)
    assert r1.per_replication[0] != r1.per_replication[1]


def test_action_without_recommendation_means_uniform():
    name = "recommendation-small"
    net = scenarios.make(name).network
    levels = _levels(scenarios.make_market(name))
    plain = Simulation(net, 200, 3, scenarios.make_market(name)).run(BaseStock(levels))
    explicit = Simulation(net, 200, 3, scenarios.make_market(name)).run(
        RecommendAndReplenish(BaseStock(levels), Uniform())
    )
    np.testing.assert_array_equal(plain.data["revenue"], explicit.data["revenue"])


def test_invalid_recommendation_in_a_run_names_the_problem():
    name = "recommendation-small"
    net, market = scenarios.make(name).network, scenarios.make_market(name)

    class Bad:
        def act(self, obs):
            return Action(orders={}, extra={KEY: np.ones((3, 5))})

    with pytest.raises(ValueError, match="sum to 5"):
        Simulation(net, 10, 0, market).run(Bad())


@pytest.mark.parametrize("axis", ["customers", "products"])
def test_margin_recommender_gradient_and_gain(axis):
    from scipy.optimize import check_grad

    from des_supply.recommendation_policies import MarginRecommender, expected_margin, margins_of

    name = "recommendation-small"
    net, model = scenarios.make(name).network, scenarios.make_market(name, axis=axis).model
    margins = margins_of(net, model.products)
    w = np.array([margins[p] for p in model.products])
    rng = np.random.default_rng(1)
    for _ in range(3):
        x0 = rng.normal(0, 2, size=model.shape).ravel()
        value, grad = expected_margin(model, w, x0)
        assert value == pytest.approx(float(w @ model.expected_demand(model.from_logits(x0))))
        err = check_grad(
            lambda x: expected_margin(model, w, x)[0], lambda x: expected_margin(model, w, x)[1], x0
        )
        assert err < 1e-5 * max(1.0, np.abs(grad).max())
    alpha = MarginRecommender(margins).recommend(None, model)
    model.check(alpha)
    gain = w @ model.expected_demand(alpha) - w @ model.expected_demand(model.uniform())
    assert gain > 0.05 * (w @ model.expected_demand(model.uniform()))  # ~10 % / ~20 % on small
