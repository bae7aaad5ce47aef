"""The collaborative model (seed Section VII): market, scenario, reference policy.

References: the Section V logit (``DemandModel.rate / eta``, computed independently), the
Section VI softmax, the law of large numbers for the combined binomial demand, unit
conservation in the ledger, common random numbers across policies.
"""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from des_supply.collaborative import CollaborativeMarket, PriceResponse
from des_supply.collaborative_policies import CollaborativeBaseStock, supplier_costs
from des_supply.market import BETA, DemandModel
from des_supply.policies import Action
from des_supply.policy_registry import PolicyError, make_policy
from des_supply.recommendation import KEY
from scenarios.registry import ScenarioError


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("collaborative")


def test_price_response_is_section_v_logit_calibrated_at_the_list_price() -> None:
    lists = np.array([30.0, 40.0, 45.0])
    response = PriceResponse(lists, buy_rate=0.4)
    assert np.allclose(response.probability(lists), 0.4)
    for k, list_price in enumerate(lists):
        # Section V's rate / eta with the constant chosen so the list price buys at 0.4
        for price in (0.8 * list_price, list_price, 1.3 * list_price):
            model = DemandModel(eta=1.0, beta=(response.constant[k], *BETA[1:]))
            expected = model.rate(price, list_price, list_price)
            prices = lists.copy()
            prices[k] = price
            assert response.probability(prices)[k] == pytest.approx(expected, rel=1e-12)
    grid = np.linspace(0.7, 1.4, 15)[:, None] * lists
    probs = np.array([response.probability(p) for p in grid])
    assert np.all(np.diff(probs, axis=0) < 0)  # dearer sells less, item by item


def test_price_response_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="buy_rate"):
        PriceResponse(np.array([10.0]), buy_rate=1.0)
    with pytest.raises(ValueError, match="list_prices"):
        PriceResponse(np.array([10.0, -1.0]))
    with pytest.raises(ValueError, match="one price per item"):
        PriceResponse(np.array([10.0, 12.0])).probability([10.0])


def test_price_moves_only_its_item_and_recommendation_moves_demand_between_items(problem):
    market: CollaborativeMarket = problem.market
    alpha, lists = market.model.uniform(), market.prices.list_prices
    base = market.expected_demand(alpha, lists)
    dearer = lists.copy()
    dearer[0] *= 1.2
    moved = market.expected_demand(alpha, dearer)
    assert moved[0] < base[0] and np.allclose(moved[1:], base[1:])
    rng = np.random.default_rng(0)
    for _ in range(5):
        other = market.model.from_logits(rng.normal(0, 2, market.model.shape))
        shifted = market.expected_demand(other, lists)
        assert not np.allclose(shifted, base)
        # per segment the picks sum to its opportunities, whatever the recommendation
        picks = market.model.probabilities(other) @ market.model.capacity
        assert picks.sum() == pytest.approx(market.model.capacity.sum())
        assert shifted.sum() == pytest.approx(picks.sum() * market.prices.buy_rate)


def test_simulated_demand_matches_its_expectation(problem):
    """Law of large numbers: fixed prices and recommendation, 4,000 periods."""
    market: CollaborativeMarket = problem.market
    prices = market.prices.list_prices * np.array([1.1, 0.9, 1.0])
    rng = np.random.default_rng(3)
    alpha = market.model.from_logits(rng.normal(0, 1, market.model.shape))
    items = market.nodes

    class Fixed:
        def act(self, obs):
            return Action(
                orders={i: {f"{i}-outside": 0.0} for i in items},
                prices=dict(zip(items, map(float, prices))),
                extra={KEY: alpha},
            )

    ledger = problem.simulation(periods=4_000, seed=11).run(Fixed())
    expected = market.expected_demand(alpha, prices)
    for k, item in enumerate(items):
        d = ledger.column("demand", item)
        assert abs(d.mean() - expected[k]) < 4 * d.std() / np.sqrt(d.size), item


def test_reference_policy_conserves_units_and_respects_capacities(problem):
    policy = make_policy("collab-base-stock", problem, {"level": 20})
    ledger = problem.simulation(periods=200, seed=2).run(policy)
    assert np.abs(ledger.conservation_residual()).max() < 1e-9
    net = problem.network
    for item in problem.market.nodes:
        costs = supplier_costs(net, item)
        assert [c for c, _, _ in costs] == sorted(c for c, _, _ in costs)
        for _, supplier, capacity in costs:
            assert ledger.column("shipped", supplier).max() <= capacity + 1e-9
        sold = ledger.column("sales", item).sum()
        assert sold <= ledger.column("demand", item).sum() + 1e-9
    assert ledger.profit().mean() > 0


def test_common_random_numbers_demand_does_not_depend_on_orders(problem):
    """Same seed, same prices and recommendation: the same demand, whatever is ordered."""
    a = problem.simulation(periods=100, seed=5).run(CollaborativeBaseStock(10))
    b = problem.simulation(periods=100, seed=5).run(CollaborativeBaseStock(30))
    again = problem.simulation(periods=100, seed=5).run(CollaborativeBaseStock(10))
    assert np.array_equal(a.data["demand"], b.data["demand"])
    assert all(np.array_equal(a.data[f], again.data[f]) for f in a.data)
    assert not np.array_equal(a.data["sales"], b.data["sales"])


def test_price_factor_and_recommendation_change_the_outcome(problem):
    runs = {
        name: problem.simulation(periods=150, seed=7).run(pol).profit().mean()
        for name, pol in {
            "margin": CollaborativeBaseStock(20),
            "uniform": CollaborativeBaseStock(20, recommend="uniform"),
            "cheap": CollaborativeBaseStock(20, price_factor=0.8),
        }.items()
    }
    assert len(set(runs.values())) == 3


def test_scenario_and_policy_errors_name_the_fault(problem):
    with pytest.raises(ScenarioError, match="shortage"):
        scenarios.make("collaborative", shortage="maybe")
    with pytest.raises(ScenarioError, match="batch_lead_time"):
        scenarios.make("collaborative", batch_lead_time=0)
    with pytest.raises(ScenarioError, match="line_capacity"):
        scenarios.make("collaborative", line_capacity=0)
    with pytest.raises(ScenarioError, match="price_spread"):
        scenarios.make("collaborative", price_spread=1.5)
    with pytest.raises(PolicyError, match="collaborative"):
        make_policy("collab-base-stock", scenarios.make("single-stage"), {"level": 5})
    with pytest.raises(ValueError, match="recommend"):
        CollaborativeBaseStock(5, recommend="popular")


def test_scenario_network_shape(problem):
    net = problem.network
    assert problem.kind.market == "collaborative" and problem.objective == "profit"
    for item in problem.market.nodes:
        assert net.supply_rule_of(item) == "choice"
        assert sorted(e.source for e in net.suppliers(item)) == [
            f"{item}-batch",
            f"{item}-line",
            f"{item}-outside",
        ]
    bigger = scenarios.make("collaborative", n_items=5, n_segments=7, shortage="backlog")
    assert len(bigger.market.nodes) == 5
