"""Continuous-review optima: (r, Q) by Federgruen-Zheng against brute force; (S-1, S) by Palm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import scenarios
from des_supply import RQ, BaseStock
from des_supply.continuous import simulate_continuous
from optimization.continuous_review import (
    BaseStockResult, ContinuousReviewError, RQResult, base_stock_cost, continuous_review_optimum,
    loss_terms, optimal_base_stock, optimal_rq, outstanding_orders_pmf, rq_cost,
)


def brute_force(rate, lead_time, holding, penalty, fixed_cost) -> tuple[float, int, int]:
    """min g(r, Q) over every window of Q consecutive levels in a wide range (sliding sums)."""
    mean = rate * lead_time
    top = int(mean + 10 * math.sqrt(mean) + 20)
    y = np.arange(-top, 3 * top)
    over, under = loss_terms(outstanding_orders_pmf(rate, lead_time), y)
    sums = np.concatenate([[0.0], np.cumsum(holding * over + penalty * under)])
    best = (math.inf, 0, 0)
    for Q in range(1, 2 * top):
        window = sums[Q:] - sums[:-Q]
        i = int(np.argmin(window))
        best = min(best, ((fixed_cost * rate + window[i]) / Q, int(y[i]) - 1, Q))
    return best


def test_loss_terms_are_the_expectations():
    pmf = stats.poisson.pmf(np.arange(60), 7.5)
    for y in (-3, 0, 4, 7, 30):
        d = np.arange(60)
        over, under = loss_terms(pmf, np.array([y]))
        assert over[0] == pytest.approx((np.maximum(y - d, 0) * pmf).sum())
        assert under[0] == pytest.approx((np.maximum(d - y, 0) * pmf).sum())


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 6), lead_time=st.floats(0.1, 3), holding=st.floats(0.2, 3),
       penalty=st.floats(0.5, 30), fixed_cost=st.floats(0, 60))
def test_federgruen_zheng_finds_the_brute_force_optimum(rate, lead_time, holding, penalty,
                                                         fixed_cost):
    kw = dict(rate=rate, lead_time=lead_time, holding=holding, penalty=penalty,
              fixed_cost=fixed_cost)
    best = optimal_rq(**kw)
    cost, r, Q = brute_force(**kw)
    assert rq_cost(r, Q, **kw) == pytest.approx(cost, rel=1e-9)
    assert best.cost == pytest.approx(cost, rel=1e-9)
    assert best.cost == pytest.approx(rq_cost(best.r, best.Q, **kw), rel=1e-9)


def test_without_a_fixed_cost_rq_is_the_base_stock_newsvendor():
    kw = dict(rate=5, holding=1, penalty=9)
    rq = optimal_rq(lead_time=2, **kw)
    bs = optimal_base_stock(mean_lead_time=2, **kw)
    assert (rq.Q, rq.r + 1) == (1, bs.level)
    # newsvendor on Poisson(10): smallest S with F(S) >= 0.9
    assert bs.level == int(stats.poisson.ppf(0.9, 10))
    assert bs.cost == pytest.approx(base_stock_cost(bs.level, rate=5, mean_lead_time=2,
                                                    holding=1, penalty=9))
    assert outstanding_orders_pmf(5, 2)[:5] == pytest.approx(stats.poisson.pmf(range(5), 10))


def test_the_optimum_of_the_scenario_is_a_runnable_policy():
    problem = scenarios.make("continuous-review", fixed_cost=20)
    best = continuous_review_optimum(problem)
    assert isinstance(best, RQResult) and (best.r, best.Q) == (9, 16)
    assert best.policy() == RQ(9, 16)
    gamma = scenarios.make("continuous-review", lead_time_dist="gamma")
    palm = continuous_review_optimum(gamma)
    assert isinstance(palm, BaseStockResult) and palm.policy() == BaseStock(palm.level)
    with pytest.raises(ContinuousReviewError, match="deterministic lead time"):
        continuous_review_optimum(scenarios.make("continuous-review", lead_time_dist="gamma",
                                                 fixed_cost=5))
    with pytest.raises(ContinuousReviewError, match="loses sales"):
        continuous_review_optimum(scenarios.make("continuous-review", shortage="lost"))
    with pytest.raises(ContinuousReviewError, match="periodic"):
        continuous_review_optimum(scenarios.make("single-stage"))


def test_the_optimum_simulates_at_its_cost_and_beats_its_neighbours():
    """The exact optimum, simulated with common random numbers, costs g(r*, Q*) and less than
    (r*+-2, Q*+-4) (paired differences)."""
    problem = scenarios.make("continuous-review", fixed_cost=20)
    best = continuous_review_optimum(problem)
    kw = dict(horizon=1000, warmup=20, replications=5, seed=9)
    res = simulate_continuous(problem, best.policy(), **kw)
    se = res.per_replication.std(ddof=1) / math.sqrt(res.replications)
    assert abs(res.mean - best.cost) < 4 * se
    for r, Q in ((best.r - 2, best.Q), (best.r + 2, best.Q), (best.r, best.Q + 4)):
        other = simulate_continuous(problem, RQ(r, Q), **kw)
        assert (other.per_replication - res.per_replication).mean() > 0, (r, Q)
