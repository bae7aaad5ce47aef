"""The pricing DP: against brute force over all stationary policies on tiny instances, its
exact policy evaluation against the engine, and the tuned heuristics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

import scenarios
from des_supply.evaluate import simulate
from des_supply.pricing_policies import SSP, ListPriceBaseStock, MyopicPricing
from optimization.pricing_dp import (
    PricingDPError,
    build_model,
    evaluate,
    optimize_pricing,
    solve,
    solve_discounted,
    tabulate,
    tune_heuristics,
)

BETA = (-3.89, -0.56, -0.01, 0.07, -0.03, -0.01)
#: two prices, a two-point competitor grid and reference grid: a handful of states
TINY = dict(
    price_low=30.0,
    price_high=40.0,
    price_step=10.0,
    comp_low=30.0,
    comp_high=40.0,
    comp_step=10.0,
    ref_step=10.0,
    list_price=30.0,
    storage_capacity=1.0,
    initial_on_hand=0.0,
)
#: a small grid for the engine checks (a DP solve takes well under a second)
SMALL = dict(
    price_low=30.0,
    price_high=50.0,
    price_step=5.0,
    comp_low=30.0,
    comp_high=50.0,
    comp_step=5.0,
    ref_step=5.0,
    list_price=40.0,
    storage_capacity=15.0,
)


def tiny_mdp(case: str, params: dict, bound: int) -> tuple:
    """(states, actions, rewards, rows, start) of a tiny instance, built here from the model's
    definition (seed paper eq. 3-7, the engine's timing, the DP's backlog clip) without the
    DP code: per state the (price index, order) actions, their expected rewards and their
    next-state distributions."""
    net, market = scenarios.make(case, **params).network, scenarios.make_market(case, **params)
    node = net.node("store")
    L = int(net.edges[0].lead_time.mean)
    lost = node.shortage == "lost"
    c, h, b, K = node.order_cost, node.holding_cost, node.shortage_cost, node.fixed_order_cost
    cap = int(node.storage_capacity)
    prices = [30.0, 40.0]
    comp = market.competitor
    O = [comp.initial] if comp.rule == "fixed" else [30.0, 40.0]
    R = [30.0, 40.0]
    xmin = 0 if lost else -bound
    X = list(range(xmin, cap + 1))
    states = list(itertools.product(range(len(O)), range(len(R)), range(len(X))))
    index = {s: i for i, s in enumerate(states)}

    def rate(p, o, r):
        rank = 1 + ((o < p) + (o <= p)) / 2
        z = np.dot(BETA, [1, rank, p - o, 1, (p + o) / 2, p - r])
        return 800 * math.exp(z) / (1 + math.exp(z))

    def comp_next(p, o):
        if comp.rule == "fixed":
            return {o: 1.0}
        target = p - comp.step
        moved = comp.high if target < comp.low else min(target, comp.high)
        out = {o: 1 - comp.react}
        out[moved] = out.get(moved, 0.0) + comp.react
        return out

    def ref_next(p, r):
        x = 0.9 * r + 0.1 * p
        lo = 30.0 + 10.0 * math.floor((x - 30.0) / 10.0 + 1e-12)
        frac = (x - lo) / 10.0
        return {lo: 1 - frac, lo + 10.0: frac} if frac > 1e-12 else {lo: 1.0}

    actions, rewards, rows = [], [], []
    for io, ir, ix in states:
        o, r, x = O[io], R[ir], X[ix]
        acts, rew, row = [], [], []
        qmax = cap - max(x, 0)
        for ip, q in itertools.product(range(2), range(qmax + 1)):
            p = prices[ip]
            lam = rate(p, o, r)
            dist = stats.poisson(lam)
            meet = x + q if L == 0 else x  # stock that meets this period's demand
            y = x + q
            k = np.arange(200)
            pmf = dist.pmf(k)
            over = (np.maximum(meet - k, 0) * pmf).sum()
            if lost:
                sold = (np.minimum(k, meet) * pmf).sum()
                value = p * sold - h * over - b * (lam - sold)
            else:
                short = (np.maximum(k - meet, 0) * pmf).sum()
                clipped = (np.maximum(k - (y - xmin), 0) * pmf).sum()
                value = p * lam - h * over - b * short - (p + b * bound) * clipped
            value -= c * q + K * (q > 0)
            nxt = np.zeros(len(states))
            for d in range(200):
                xn = max(y - d, xmin) if not lost or L == 0 else max(x - d, 0) + q
                if lost and L == 0:
                    xn = max(y - d, 0)
                for o2, po in comp_next(p, o).items():
                    for r2, pr in ref_next(p, r).items():
                        nxt[index[(O.index(o2), R.index(r2), X.index(xn))]] += pmf[d] * po * pr
            acts.append((ip, q))
            rew.append(value)
            row.append(nxt / nxt.sum())
        actions.append(acts)
        rewards.append(rew)
        rows.append(row)
    start = index[(O.index(comp.initial), R.index(market.ref_initial), X.index(0))]
    return states, actions, rewards, rows, start


def cesaro_gain(P: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Long-run profit per period from every state: the Cesàro limit of P applied to r."""
    n = len(r)
    M = 0.5 * (np.eye(n) + P)  # same Cesàro limit, aperiodic
    for _ in range(50):
        M = M @ M
        M /= M.sum(1, keepdims=True)  # squaring doubles the round-off each time
    return M @ r


def brute_force_gain(case: str, params: dict, bound: int) -> float:
    """Best long-run profit over every deterministic stationary policy of :func:`tiny_mdp`,
    each evaluated by the Cesàro limit of its transition matrix."""
    states, actions, rewards, rows, start = tiny_mdp(case, params, bound)
    best = -np.inf
    for choice in itertools.product(*[range(len(a)) for a in actions]):
        P = np.array([rows[s][a] for s, a in enumerate(choice)])
        r = np.array([rewards[s][a] for s, a in enumerate(choice)])
        best = max(best, float(cesaro_gain(P, r)[start]))
    return best


@pytest.mark.parametrize(
    "case, extra",
    [
        ("pricing-b", {}),  # lost, lead time 1, undercutting
        ("pricing-d", {"competitor": "fixed", "comp_initial": 40.0}),  # lost, fixed cost
        ("pricing-a", {"competitor": "fixed", "comp_initial": 40.0}),  # backlog with the clip
        ("pricing-c", {"competitor": "fixed", "comp_initial": 40.0, "lead_time": 0}),
    ],
)
def test_dp_equals_brute_force(case, extra):
    params = {**TINY, **extra}
    model = build_model(
        scenarios.make(case, **params).network,
        scenarios.make_market(case, **params),
        backlog_bound=1,
    )
    sol = solve(model, tol=1e-10)
    assert sol.bounds[0] <= sol.gain <= sol.bounds[1]
    assert sol.gain == pytest.approx(brute_force_gain(case, params, bound=1), abs=1e-6)
    # the optimal table, evaluated as any other rule, gives the optimum back
    assert evaluate(model, sol.price_index, sol.order)[0] == pytest.approx(sol.gain, abs=1e-6)


@pytest.fixture(scope="module")
def small_a():
    net, market = (
        scenarios.make("pricing-a", **SMALL).network,
        scenarios.make_market("pricing-a", **SMALL),
    )
    model = build_model(net, market, backlog_bound=10)
    return net, model, solve(model)


def test_dp_promise_holds_in_the_engine(small_a):
    net, model, sol = small_a
    assert sol.boundary_mass < 1e-4
    res = simulate(
        net,
        sol.policy(),
        periods=6000,
        warmup=100,
        replications=4,
        seed=7,
        market=scenarios.make_market("pricing-a", **SMALL),
    )
    lo, hi = res.ci95
    assert lo - 0.5 <= sol.gain <= hi + 0.5  # 0.5: the CI of 4 runs is itself noisy
    assert abs(res.mean - sol.gain) < 1.5


@pytest.mark.parametrize(
    "rule", [ListPriceBaseStock(40.0, 6), SSP(2, 12, 40.0, 0.5), MyopicPricing(7)]
)
def test_exact_evaluation_matches_the_engine(small_a, rule):
    net, model, sol = small_a
    value, _ = evaluate(model, *tabulate(model, rule))
    res = simulate(
        net,
        rule,
        periods=6000,
        warmup=100,
        replications=4,
        seed=11,
        market=scenarios.make_market("pricing-a", **SMALL),
    )
    assert abs(res.mean - value) < max(1.5, 2 * (res.ci95[1] - res.ci95[0]))
    assert value <= sol.gain + 1e-6  # nothing beats the optimum


@pytest.mark.parametrize(
    "rule", [ListPriceBaseStock(45.0, 6), SSP(-3, 12, 40.0, 0.5), SSP(4, 9, 35.0, 2.0)]
)
def test_vectorised_tables_equal_the_rules(small_a, rule):
    _, model, _ = small_a
    fast, slow = tabulate(model, rule), tabulate(model, rule, vectorized=False)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_tuned_heuristics_rank_below_the_optimum(small_a):
    net, model, sol = small_a
    tuned = {
        t.name: t for t in tune_heuristics(net, scenarios.make_market("pricing-a", **SMALL), model)
    }
    assert set(tuned) == {"list-price", "bslp", "ssp", "myopic-pricing"}
    assert all(t.value <= sol.gain + 1e-6 for t in tuned.values())
    assert tuned["bslp"].value >= tuned["list-price"].value - 1e-9  # BSLP may keep the list price
    assert tuned["ssp"].value >= tuned["bslp"].value - 1e-9  # it starts from BSLP
    assert tuned["list-price"].params["price"] == 40.0


def test_no_finite_model_is_explained():
    for params, why in [
        ({"lead_time_max": 2}, "deterministic lead time"),
        ({"lead_time": 2}, "deterministic lead time"),
        ({"ref_step": 0.0}, "reference-price grid"),
        ({"price_step": 0.0}, "price grid"),
        ({"storage_capacity": math.inf}, "storage_capacity"),
    ]:
        net = scenarios.make("pricing-b", **{**SMALL, **params}).network
        with pytest.raises(PricingDPError, match=why):
            build_model(net, scenarios.make_market("pricing-b", **{**SMALL, **params}))


def test_optimize_pricing_falls_back_to_simulation_search():
    params = {**SMALL, "lead_time_max": 2, "storage_capacity": 12.0}
    res = optimize_pricing(
        scenarios.make("pricing-b", **params),
        search={"periods": 400, "warmup": 50, "replications": 2},
    )
    assert "deterministic lead time" in res.details["exact_method_skipped"]
    assert res.objective == "profit" and res.optimal.value == max(p.value for p in res.policies)
    best = max(res.policies, key=lambda p: p.value)
    assert res.optimal.name == best.name and res.optimal.params == best.params
    assert all("simulation" in p.method for p in res.policies)


def test_optimize_routes_pricing_and_verify_simulates_with_the_market():
    """optimize() sends a pricing problem to the DP; the one verify() reruns every row in
    the engine with a fresh copy of the problem's market; rows are named as the policies
    they are, with the parameters that rebuild them."""
    from optimization.optimize import optimize, verify

    res = optimize(scenarios.make("pricing-a", **SMALL))
    assert res.objective == "profit" and res.optimal.name == "optimal"
    assert [p.name for p in res.policies] == ["list-price", "bslp", "ssp", "myopic-pricing"]
    rebuild = {
        "list-price": ListPriceBaseStock,
        "bslp": ListPriceBaseStock,
        "ssp": SSP,
        "myopic-pricing": MyopicPricing,
    }
    for p in res.policies:
        assert rebuild[p.name](**p.params) == p.policy
    rows = verify(res, periods=3_000, warmup=200, replications=4, seed=5)
    assert [r["name"] for r in rows] == ["optimal", "list-price", "bslp", "ssp", "myopic-pricing"]
    for row in rows:
        lo, hi = row["ci95"]
        assert abs(row["simulated"] - row["promised"]) <= (hi - lo), row


@pytest.mark.parametrize(
    "case, extra",
    [
        ("pricing-b", {}),  # lost, lead time 1, undercutting
        ("pricing-c", {"competitor": "fixed", "comp_initial": 40.0, "lead_time": 0}),
    ],
)
@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_discounted_dp_equals_brute_force(case, extra, gamma):
    """solve_discounted's policy maximises the discounted profit from every state over all
    deterministic stationary policies, and its gain is that policy's Cesàro gain."""
    params = {**TINY, **extra}
    model = build_model(
        scenarios.make(case, **params).network,
        scenarios.make_market(case, **params),
        backlog_bound=1,
    )
    sol = solve_discounted(model, gamma, tol=1e-12)
    states, actions, rewards, rows, start = tiny_mdp(case, params, bound=1)
    n = len(states)

    def value(choice):
        P = np.array([rows[s][a] for s, a in enumerate(choice)])
        r = np.array([rewards[s][a] for s, a in enumerate(choice)])
        return np.linalg.solve(np.eye(n) - gamma * P, r), P, r

    best = np.max(
        [value(c)[0] for c in itertools.product(*[range(len(a)) for a in actions])], axis=0
    )
    assert model.shape == (len({s[0] for s in states}), len({s[1] for s in states}), len(model.xs))
    chosen = [
        actions[i].index((int(sol.price_index[io, ir, ix]), int(sol.order[io, ir, ix])))
        for i, (io, ir, ix) in enumerate(states)
    ]
    v, P, r = value(chosen)
    np.testing.assert_allclose(v, best, atol=1e-6)
    assert cesaro_gain(P, r)[start] == pytest.approx(sol.gain, abs=1e-6)


def test_discounted_dp_tends_to_the_average_optimum():
    """Blackwell: for gamma near 1 the discount-optimal policy is average-optimal; a small
    gamma costs long-run profit."""
    model = build_model(
        scenarios.make("pricing-a", **SMALL).network,
        scenarios.make_market("pricing-a", **SMALL),
        backlog_bound=10,
    )
    opt = solve(model).gain
    assert solve_discounted(model, 0.999).gain == pytest.approx(opt, abs=1e-3)
    # short-sighted pricing loses the reference-price effect: 49.7 against 80.7 here
    assert solve_discounted(model, 0.3).gain < opt - 10
    with pytest.raises(ValueError, match="gamma"):
        solve_discounted(model, 1.0)
