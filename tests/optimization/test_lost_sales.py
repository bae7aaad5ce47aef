"""Lost-sales DP and heuristics (optimization.lost_sales).

Reference values are from Zipkin (2008), "Old and new methods for lost-sales
inventory systems", Operations Research 56(5):1256-1263, Table 3 (h = 1, demand
mean 5; panel (a) is Poisson demand with p = 4), printed to two decimals.  The
other panels' entries used here are as tabulated by public reproductions of that
table for deep-RL benchmarks.  A two-decimal figure is matched to within 0.0051:
half a unit in the last place plus the RVI tolerance (1e-6).  The truncation
error is exactly zero on these instances (reported ``boundary_mass`` is 0 and a
larger truncation gives the same optimum), so no extra allowance is needed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import optimize, stats

from optimization.lost_sales import (
    HEURISTICS,
    LookupPolicy,
    Truncation,
    evaluate_policy,
    heuristics,
    solve_lost_sales,
)

PUBLISHED = 0.0051  # tolerance for a two-decimal published figure


# -- published values ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "demand, penalty, lead_time, optimal",
    [
        ("poisson", 4, 2, 4.40),
        ("poisson", 19, 2, 7.66),
        ("geometric", 4, 2, 10.24),
        ("geometric", 19, 2, 20.89),
        ("poisson", 4, 4, 4.73),
        ("poisson", 19, 4, 8.89),
        ("geometric", 4, 4, 10.61),
    ],
)
def test_optimal_cost_matches_zipkin_table_3(demand, penalty, lead_time, optimal):
    """Optimal average cost, Zipkin (2008) Table 3 (h = 1, mean 5)."""
    sol = solve_lost_sales(lead_time, 1.0, penalty, demand, 5.0)
    assert sol.converged and sol.span <= 1e-6
    assert sol.average_cost == pytest.approx(optimal, abs=PUBLISHED)
    assert sol.boundary_mass < 1e-12


@pytest.mark.slow
def test_optimal_cost_geometric_l4_p19_matches_zipkin():
    """Zipkin (2008) Table 3: geometric demand, mean 5, L = 4, p = 19 -> 22.95 (3 s)."""
    sol = solve_lost_sales(4, 1.0, 19.0, "geometric")
    assert sol.average_cost == pytest.approx(22.95, abs=PUBLISHED)


@pytest.mark.parametrize("lead_time, myopic, myopic2", [(2, 4.56, 4.41), (4, 5.06, 4.82)])
def test_myopic_costs_match_zipkin_table_3a(lead_time, myopic, myopic2):
    """Myopic and Myopic2 rows of Zipkin (2008) Table 3(a) (Poisson, mean 5, p = 4)."""
    res = heuristics(lead_time, 1.0, 4.0)
    assert res["myopic"].value == pytest.approx(myopic, abs=PUBLISHED)
    assert res["myopic-2"].value == pytest.approx(myopic2, abs=PUBLISHED)


def test_capped_base_stock_matches_xin_2021():
    """Xin (2021), OR 69(1), capped base-stock for Zipkin's Poisson, p = 4, L = 4:
    cost 4.80 at (S, r) = (26, 5)."""
    res = heuristics(4, 1.0, 4.0)["capped-base-stock"]
    assert dict(res.params) == {"level": 26, "cap": 5}
    assert res.value == pytest.approx(4.80, abs=PUBLISHED)


# -- exactness ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lead_time, penalty, demand",
    [
        (0, 9, "poisson"),
        (1, 19, "geometric"),
        (2, 9, "poisson"),
        (3, 4, "poisson"),
    ],
)
def test_optimum_is_below_every_heuristic(lead_time, penalty, demand):
    sol = solve_lost_sales(lead_time, 1.0, penalty, demand)
    res = heuristics(lead_time, 1.0, penalty, demand)
    assert tuple(res) == HEURISTICS
    for name, r in res.items():
        assert sol.average_cost <= r.value + 1e-6, name
        assert r.evaluation.clipped_mass < 1e-10, name
    # the exact DP policy, evaluated by its own stationary law, gives the RVI cost
    assert sol.stationary_cost == pytest.approx(sol.average_cost, abs=1e-5)


@pytest.mark.parametrize("demand, penalty", [("poisson", 4), ("poisson", 39), ("geometric", 9)])
def test_zero_lead_time_optimum_is_the_newsvendor(demand, penalty):
    """With L = 0 the order arrives before demand: a newsvendor every period,
    optimal S* = F^{-1}(p / (p + h)) (Snyder & Shen 2019, Sec. 4.3)."""
    h, m = 1.0, 5.0
    dist = stats.poisson(m) if demand == "poisson" else stats.geom(1 / (1 + m), loc=-1)
    S = int(dist.ppf(penalty / (penalty + h)))
    d = np.arange(int(dist.ppf(1 - 1e-15)) + 1)
    over = np.sum(np.maximum(S - d, 0) * dist.pmf(d))
    newsvendor = h * over + penalty * (over + m - S)
    sol = solve_lost_sales(0, h, penalty, demand, m)
    best = heuristics(0, h, penalty, demand, m)["best-base-stock"]
    assert sol.average_cost == pytest.approx(newsvendor, abs=1e-6)
    assert best.value == pytest.approx(newsvendor, abs=1e-9)
    assert best.params["level"] == S


def test_larger_truncation_gives_the_same_optimum():
    base = solve_lost_sales(2, 1.0, 19.0, tol=1e-9)
    t = base.truncation
    wide = solve_lost_sales(
        2, 1.0, 19.0, tol=1e-9, truncation=Truncation(t.max_position + 8, t.max_order + 8)
    )
    assert wide.average_cost == pytest.approx(base.average_cost, abs=1e-8)
    assert base.boundary_mass < 1e-12


def _tiny_chain(policy_orders, states, lead_time, S, pmf, tail, h, p):
    """Stationary cost of a policy on a tiny instance, written independently of the
    library: explicit loops over states and demands, dense linear solve."""
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    P = np.zeros((n, n))
    cost = np.zeros(n)
    for i, x in enumerate(states):
        z, y = policy_orders[x], x[0]
        for d in range(y + 1):
            prob = pmf[d] if d < y else tail[y]  # d = y stands for "D >= y"
            left = y - d
            nxt = (left + z,) if lead_time == 1 else (left + x[1], z)
            P[i, index[nxt]] += prob
        over = sum((y - d) * pmf[d] for d in range(y))
        cost[i] = h * over + p * (over + 1.0 - y)  # demand mean 1
    A = P.T - np.eye(n)
    A[-1] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    return float(np.linalg.solve(A, rhs) @ cost)


def test_tiny_instance_brute_force_over_all_policies():
    """L = 1, Poisson(1), caps S = 4, z <= 3: all 96 deterministic stationary policies."""
    S, Z, h, p = 4, 3, 1.0, 4.0
    pmf = stats.poisson(1.0).pmf(np.arange(S + 1))
    tail = stats.poisson(1.0).sf(np.arange(S + 1) - 1)
    states = [(x,) for x in range(S + 1)]
    choices = [range(min(Z, S - x[0]) + 1) for x in states]
    best = min(
        _tiny_chain(dict(zip(states, zs, strict=True)), states, 1, S, pmf, tail, h, p)
        for zs in itertools.product(*choices)
    )
    sol = solve_lost_sales(1, h, p, "poisson", 1.0, truncation=Truncation(S, Z), tol=1e-10)
    assert sol.average_cost == pytest.approx(best, abs=1e-8)


def test_tiny_instance_matches_linear_program():
    """L = 2, Poisson(1), caps S = 6, z <= 3: the average-cost LP over state-action
    frequencies (Puterman 1994, Sec. 8.8), solved by scipy's HiGHS."""
    S, Z, h, p, lead = 6, 3, 1.0, 9.0, 2
    pmf = stats.poisson(1.0).pmf(np.arange(S + 1))
    tail = stats.poisson(1.0).sf(np.arange(S + 1) - 1)
    states = [(a, b) for a in range(S + 1) for b in range(Z + 1) if a + b <= S]
    index = {s: i for i, s in enumerate(states)}
    pairs = [(s, z) for s in states for z in range(min(Z, S - sum(s)) + 1)]
    c = np.zeros(len(pairs))
    A = np.zeros((len(states) + 1, len(pairs)))
    for j, (x, z) in enumerate(pairs):
        y = x[0]
        over = sum((y - d) * pmf[d] for d in range(y))
        c[j] = h * over + p * (over + 1.0 - y)
        A[index[x], j] += 1.0
        for d in range(y + 1):
            prob = pmf[d] if d < y else tail[y]
            A[index[(y - d + x[1], z)], j] -= prob
        A[-1, j] = 1.0
    b = np.zeros(len(states) + 1)
    b[-1] = 1.0
    lp = optimize.linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    assert lp.status == 0
    sol = solve_lost_sales(lead, h, p, "poisson", 1.0, truncation=Truncation(S, Z), tol=1e-10)
    assert sol.average_cost == pytest.approx(lp.fun, abs=1e-7)


def test_chain_evaluation_of_base_stock_matches_monte_carlo():
    """Exact evaluation vs a plain numpy simulation of the same model (within 4 s.e.)."""
    L, h, p, S = 2, 1.0, 9.0, 18
    from des_supply.policies import BaseStock

    exact = evaluate_policy(BaseStock(S), L, h, p).average_cost
    rng = np.random.default_rng(20240611)
    reps, periods, warmup = 2000, 400, 50
    on_hand = np.full(reps, S)
    pipe = np.zeros((reps, L - 1), dtype=np.int64)  # arrives in 1..L-1 periods
    total = np.zeros(reps)
    for t in range(periods):
        order = np.maximum(S - on_hand - pipe.sum(axis=1), 0)
        d = rng.poisson(5.0, reps)
        left = np.maximum(on_hand - d, 0)
        cost = h * left + p * np.maximum(d - on_hand, 0)
        if t >= warmup:
            total += cost
        on_hand = left + pipe[:, 0]  # next period's arrival
        pipe = np.column_stack([pipe[:, 1:], order])
    means = total / (periods - warmup)
    se = means.std(ddof=1) / math.sqrt(reps)
    assert abs(means.mean() - exact) < 4 * se


# -- policies and evaluation --------------------------------------------------------------
class FakeObs:
    """The slice of des_supply.sim.Observation that policies use."""

    def __init__(self, states: dict[str, tuple[float, ...]]):
        from types import SimpleNamespace

        self.states = states
        self.deciding = tuple(states)
        self.t = 3
        node = SimpleNamespace(review_period=1, review_offset=0)
        self.network = SimpleNamespace(continuous=False, node=lambda name: node)

    def on_hand(self, node):
        return self.states[node][0]

    def pipeline(self, node, n):
        rest = self.states[node][1:]
        return tuple(rest[:n]) + (0.0,) * (n - len(rest))

    def inventory_position(self, node):
        return float(sum(self.states[node]))


def test_lookup_policy_act_reads_the_table():
    sol = solve_lost_sales(3, 1.0, 9.0)
    pol, table = sol.policy, sol.table
    S, Z = sol.truncation.max_position, sol.truncation.max_order
    obs = FakeObs({"a": (3, 4, 5), "b": (0, 0, 0), "c": (S, 0, 0), "d": (2, Z + 5, 1)})
    got = pol.act(obs)
    assert set(got) == {"a", "b", "c", "d"}
    assert got["a"] == table[3, 4, 5] and got["b"] == table[0, 0, 0] > 0
    assert got["c"] == 0  # position at the cap: order nothing
    assert got["d"] == min(table[2, Z, 1], S - (2 + Z + 5 + 1))  # clamped look-up, cut order
    assert all(isinstance(v, float) for v in got.values())
    with pytest.raises(ValueError):
        table[0, 0, 0] = 1  # the table is read-only


@pytest.mark.parametrize("lead_time", [0, 1])
def test_lookup_policy_short_lead_times(lead_time):
    sol = solve_lost_sales(lead_time, 1.0, 9.0)
    got = sol.policy.act(FakeObs({"stage": (2.0,)}))
    assert got == {"stage": float(sol.table[2])}
    assert sol.policy.order(10_000) == 0


def test_evaluate_policy_paths_agree():
    from des_supply.policies import BaseStock, CappedBaseStock, ConstantOrder

    L, h, p = 2, 1.0, 4.0
    sol = solve_lost_sales(L, h, p)
    assert evaluate_policy(sol.policy, L, h, p).average_cost == pytest.approx(
        sol.stationary_cost, abs=1e-10
    )

    class Wrapped:  # any engine policy: evaluated through act() on one-node observations
        def __init__(self, inner):
            self.inner = inner

        def act(self, obs):
            return self.inner.act(obs)

    res = heuristics(L, h, p)
    for name, policy in [
        ("best-base-stock", BaseStock(res["best-base-stock"].params["level"])),
        ("capped-base-stock", CappedBaseStock(**res["capped-base-stock"].params)),
    ]:
        direct = evaluate_policy(policy, L, h, p)
        assert direct.average_cost == pytest.approx(res[name].value, abs=1e-12)
        trunc = Truncation(int(policy.level), int(policy.level))
        via_act = evaluate_policy(Wrapped(policy), L, h, p, truncation=trunc)
        assert via_act.average_cost == pytest.approx(direct.average_cost, abs=1e-9)
    r = res["best-constant"].params["quantity"]
    direct = evaluate_policy(ConstantOrder(r), L, h, p)
    via_act = evaluate_policy(Wrapped(ConstantOrder(r)), L, h, p, truncation=Truncation(80, r))
    assert direct.average_cost == pytest.approx(res["best-constant"].value, abs=1e-12)
    assert via_act.average_cost == pytest.approx(direct.average_cost, abs=1e-8)
    assert direct.lost_sales == pytest.approx(5.0 - r, abs=1e-9)  # every unit ordered is sold


def test_heuristic_policies_are_engine_policies():
    from des_supply.policies import BaseStock, CappedBaseStock, ConstantOrder, ConstantRate

    res = heuristics(2, 1.0, 9.0)
    assert isinstance(res["myopic"].policy, LookupPolicy)
    assert isinstance(res["myopic-2"].policy, LookupPolicy)
    assert isinstance(res["best-base-stock"].policy, BaseStock)
    assert isinstance(res["capped-base-stock"].policy, CappedBaseStock)
    assert isinstance(res["best-constant"].policy, ConstantOrder)
    assert isinstance(res["best-constant-rate"].policy, ConstantRate)
    obs = FakeObs({"stage": (3.0, 4.0)})
    for r in res.values():
        order = r.policy.act(obs)["stage"]
        assert order >= 0 and float(order).is_integer()


def test_fixed_cost_orders_less_often():
    plain = solve_lost_sales(1, 1.0, 9.0)
    fixed = solve_lost_sales(1, 1.0, 9.0, fixed_cost=20.0)
    assert fixed.evaluation.order_frequency < plain.evaluation.order_frequency
    assert fixed.average_cost > plain.average_cost
    assert fixed.boundary_mass < 1e-9
    assert fixed.average_cost <= heuristics(1, 1.0, 9.0, fixed_cost=20.0)["myopic"].value + 1e-6


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lead_time=-1), "lead_time"),
        (dict(lead_time=1.5), "lead_time"),
        (dict(holding=-1.0), "holding"),
        (dict(holding=0.0), "holding"),
        (dict(penalty=-4.0), "penalty"),
        (dict(fixed_cost=-1.0), "fixed_cost"),
        (dict(demand_mean=0.0), "demand_mean"),
        (dict(demand_mean=float("nan")), "demand_mean"),
        (dict(demand="normal"), "demand"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    args = dict(lead_time=1, holding=1.0, penalty=4.0) | kwargs
    with pytest.raises(ValueError, match=name):
        solve_lost_sales(**args)
    with pytest.raises(ValueError, match=name):
        heuristics(**args)


def test_state_space_over_the_memory_limit_is_refused():
    with pytest.raises(ValueError, match=r"lead_time=8: .* GiB"):
        solve_lost_sales(8, 1.0, 39.0, "geometric")
    with pytest.raises(ValueError, match=r"lead_time=2: .*memory_limit"):
        solve_lost_sales(2, 1.0, 4.0, memory_limit=2**16)


# -- slow ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_lead_time_4_penalty_39_solves_within_30_seconds():
    """Zipkin's largest Poisson instance (L = 4, p = 39); about 0.3 s on one core."""
    sol = solve_lost_sales(4, 1.0, 39.0)
    assert sol.converged and sol.solve_seconds < 30
    assert sol.boundary_mass < 1e-12


@pytest.mark.slow
def test_dp_policy_in_the_engine_reproduces_its_cost():
    """The DP policy run by the discrete-event engine costs what the DP says (4 s.e.)."""
    from des_supply.evaluate import simulate
    from scenarios.single_stage import single_stage

    sol = solve_lost_sales(2, 1.0, 9.0)
    net = single_stage(lead_time=2, holding=1.0, penalty=9.0)
    res = simulate(net, sol.policy, periods=20_000, replications=8, seed=7, warmup=200)
    se = res.per_replication.std(ddof=1) / math.sqrt(len(res.per_replication))
    assert abs(res.mean - sol.average_cost) < 4 * se


# -- constant orders at a fractional rate -------------------------------------------------------
def test_constant_rate_pattern_tracks_the_rate():
    from fractions import Fraction

    from optimization.lost_sales_heuristics import constant_rate_pattern

    assert constant_rate_pattern(Fraction(19, 4)) == [4, 5, 5, 5]
    assert constant_rate_pattern(Fraction(7, 10)) == [0, 1, 1, 0, 1, 1, 0, 1, 1, 1]
    for rate in (Fraction(1, 3), Fraction(47, 10), Fraction(99, 20)):
        pattern = constant_rate_pattern(rate)
        assert sum(pattern) == rate.numerator and len(pattern) == rate.denominator
        totals = np.cumsum(pattern)
        assert all(abs(tot - rate * (j + 1)) < 1 for j, tot in enumerate(totals))


def test_integer_rate_is_the_constant_order():
    from fractions import Fraction

    from optimization.lost_sales import _model
    from optimization.lost_sales_heuristics import evaluate_constant, evaluate_constant_rate

    model = _model(2, 1.0, 9.0, "poisson", 5.0, 0.0)
    assert evaluate_constant_rate(model, Fraction(4)) == evaluate_constant(model, 4)


def test_fractional_rate_beats_whole_constant_order_and_matches_the_engine():
    """Poisson mean 5, p = 39: a whole-unit constant order must pick 4 and loses one unit a
    period (40.27); the best rate (4.75) costs 18.35 exactly; the engine running the same
    policy for many periods gives that cost within its CI (an independent check of the
    periodic-chain evaluation)."""
    import scenarios
    from des_supply.evaluate import simulate
    from des_supply.policies import ConstantRate

    res = heuristics(2, 1.0, 39.0)
    whole, rate = res["best-constant"], res["best-constant-rate"]
    assert whole.value == pytest.approx(40.2748, abs=1e-4)
    assert rate.params == {"rate": 4.75}
    assert rate.value < 0.5 * whole.value
    assert rate.evaluation.clipped_mass < 1e-10
    problem = scenarios.make("single-stage", lead_time=2, penalty=39.0)
    out = simulate(problem, ConstantRate(4.75), periods=20000, warmup=1000, replications=8, seed=5)
    lo, hi = out.ci95
    assert lo <= rate.value <= hi and hi - lo < 2.0
