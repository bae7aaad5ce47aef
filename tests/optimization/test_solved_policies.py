"""Every name optimize(problem) prints can be built by make_policy and keeps its promise.

For each problem, each benchmark with a policy is built through the registry (a solved
name with no parameters, a family name with the benchmark's parameters), checked equal
to the optimizer's own policy, and simulated: long-run values fall within the width of
the simulation's 95% CI (about 4 standard errors), values measured on sampled paths are
reproduced exactly on those paths.
"""

from __future__ import annotations

import pytest

import optimization.policies as solved
import scenarios
from des_supply.evaluate import simulate
from des_supply.policy_registry import PolicyError, make_policy, policy_entry, policy_names
from des_supply.recommendation_policies import RecommendAndReplenish

# small price grid: the same pricing-a dynamics, a DP that solves in seconds
SMALL_PRICING = dict(
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
CASES = {
    "lost-L2-p9": ("single-stage", {"lead_time": 2, "penalty": 9.0}),
    "lost-L1-p4": ("single-stage", {"lead_time": 1, "penalty": 4.0}),
    "backlog": ("single-stage", {"lead_time": 2, "shortage": "backlog"}),
    "backlog-fixed-cost": (
        "single-stage",
        {"lead_time": 1, "shortage": "backlog", "fixed_cost": 20.0},
    ),
    "serial": ("serial", {}),
    "pricing-a-small": ("pricing-a", SMALL_PRICING),
    "owmr": ("owmr", {"n_retailers": 2}),
}
SLOW_CASES = {
    "pricing-a": ("pricing-a", {}),  # ~30 s to optimize
    "recommendation-small": ("recommendation-small", {}),
}  # ~1 min
MARKS = {"owmr": [pytest.mark.solver], "recommendation-small": [pytest.mark.solver]}


def _params():
    out = [pytest.param(k, marks=MARKS.get(k, [])) for k in CASES]
    return out + [pytest.param(k, marks=[pytest.mark.slow, *MARKS.get(k, [])]) for k in SLOW_CASES]


def _problem(case: str):
    name, params = {**CASES, **SLOW_CASES}[case]
    return scenarios.make(name, **params)


def _rows(result):
    return [b for b in (result.optimal, *result.policies) if b.policy is not None]


def _build(b, problem):
    """Build benchmark *b* by the name it is printed under."""
    if policy_entry(b.name).group == "solved":
        return make_policy(b.name, problem)
    return make_policy(b.name, problem, b.params)


@pytest.mark.parametrize("case", _params())
def test_every_printed_name_builds_the_optimizers_policy(case):
    problem = _problem(case)
    result = solved.optimized(problem)
    rows = _rows(result)
    assert rows, "nothing runnable"
    for b in rows:
        assert b.name in policy_names(), f"{b.name!r} is printed but not registered"
        assert b.name in policy_names(problem), b.name
        built = _build(b, problem)
        if b.name == "rolling-horizon":  # built afresh, the optimizer's configuration
            assert type(built) is type(b.policy) and built.horizon == b.params["horizon"]
        elif policy_entry(b.name).group == "solved":
            assert built is b.policy, b.name
        else:
            assert _same(built, b.policy), b.name


def _same(built, ref) -> bool:
    """Equal policies (recommenders without state compare by type)."""
    if isinstance(ref, RecommendAndReplenish):
        return (
            type(built) is RecommendAndReplenish
            and built.replenishment == ref.replenishment
            and type(built.recommender) is type(ref.recommender)
            and getattr(built.recommender, "margins", None)
            == getattr(ref.recommender, "margins", None)
        )
    return built == ref


@pytest.mark.parametrize("case", _params())
def test_every_printed_name_simulates_to_its_promise(case):
    problem = _problem(case)
    result = solved.optimized(problem)
    for b in _rows(result):
        policy = _build(b, problem)
        if b.periods is None:  # a long-run value
            res = simulate(problem, policy, periods=6_000, warmup=300, replications=4, seed=5)
            lo, hi = res.ci95
            assert abs(res.mean - b.value) <= hi - lo, (b.name, b.value, res.mean, res.ci95)
        else:  # a mean over the optimizer's own sampled paths
            d = result.details
            res = simulate(
                problem, policy, periods=b.periods, replications=d["replications"], seed=d["seed"]
            )
            assert res.mean == pytest.approx(b.value, rel=1e-9, abs=1e-9), b.name


@pytest.mark.solver
def test_an_optimum_that_is_only_a_bound_names_the_best_runnable_alternative():
    problem = _problem("owmr")
    result = solved.optimized(problem)
    assert result.optimal.policy is None
    best = min((b for b in result.policies if b.policy is not None), key=lambda b: b.value)
    with pytest.raises(
        PolicyError,
        match=rf"policy 'optimal'.*the optimum is "
        rf"'{result.optimal.name}', a value .* with no policy "
        rf"to run; the best runnable benchmark is "
        rf"'{best.name}'",
    ):
        make_policy("optimal", problem)
    assert "optimal" not in policy_names(problem)  # known once solved
    assert "best-base-stock" in policy_names(problem)


def test_a_name_the_optimizer_did_not_produce_lists_what_it_produced():
    problem = _problem("serial")
    solved.clear_cache()  # the first request solves; later ones know from the cache
    for _ in range(2):
        with pytest.raises(
            PolicyError,
            match=r"policy 'best-base-stock'.*optimize did not produce it "
            r"for this serial backlog problem; it produced: "
            r"optimal, echelon-base-stock",
        ):
            make_policy("best-base-stock", problem)
    names = policy_names(problem)
    assert "best-base-stock" not in names and "optimal" in names


@pytest.mark.parametrize(
    ("name", "case", "match"),
    [
        ("myopic", "serial", "lost-sales DP of a single stage without a market"),
        ("best-constant", "backlog", "lost-sales DP of a single stage"),
        ("best-single-index", "lost-L1-p4", "one node choosing among suppliers"),
        ("mip-mpc", "serial", "needs a recommendation market"),
        ("best-collab-base-stock", "owmr", "needs a collaborative market"),
        ("best-base-stock", "pricing-a-small", "without a market"),
    ],
)
def test_a_name_the_structure_rules_out_is_refused_without_solving(name, case, match, monkeypatch):
    """Solved names whose method cannot apply to the problem's structure are refused (and not
    listed) before anything is solved: ``des-supply policies SCENARIO`` lists only names the
    problem can have, and a wrong name does not cost a solve."""
    import optimization.optimize as opt

    def no_solve(*args, **kwargs):
        raise AssertionError("solved to refuse a name its structure rules out")

    problem = _problem(case)
    solved.clear_cache()
    monkeypatch.setattr(opt, "optimize", no_solve)
    with pytest.raises(PolicyError, match=rf"policy '{name}' does not apply .*{match}"):
        make_policy(name, problem)
    assert name not in policy_names(problem)


def test_solved_policies_take_no_parameters():
    with pytest.raises(
        PolicyError,
        match=r"policy 'best-base-stock' has no parameter 'level' "
        r"\(it takes no parameters\)",
    ):
        make_policy("best-base-stock", _problem("backlog"), {"level": 3})


def test_results_are_cached_by_problem_content():
    a = solved.optimized(_problem("lost-L1-p4"))
    assert solved.optimized(_problem("lost-L1-p4")) is a  # an equal problem: cached
    assert solved.optimized(_problem("lost-L1-p4"), progress=False) is a  # progress: same
    assert solved.optimized(_problem("lost-L2-p9")) is not a


def test_no_method_becomes_a_policy_error(monkeypatch):
    import optimization.optimize as opt

    def refuse(problem, **options):
        raise opt.OptimizeError("nothing fits")

    monkeypatch.setattr(opt, "optimize", refuse)
    problem = scenarios.make("single-stage", lead_time=3, penalty=19.0)
    with pytest.raises(
        PolicyError,
        match=r"policy 'best-constant': optimize found no method for "
        r"problem 'single-stage': nothing fits",
    ):
        make_policy("best-constant", problem)


def test_a_solver_failure_becomes_a_policy_error_with_its_status(monkeypatch):
    """recommendation-large's MPC can stop at its time limit without a plan: that reached the
    CLI user as a traceback; it is a PolicyError naming the termination."""
    import optimization.optimize as opt
    from optimization.solve import SolverError

    def fail(problem, **options):
        raise SolverError(
            "HiGHS: model 'm' has no incumbent: termination=maxTimeLimit", "maxTimeLimit", 6564.2
        )

    monkeypatch.setattr(opt, "optimize", fail)
    problem = scenarios.make("single-stage", lead_time=3, penalty=9.0)
    with pytest.raises(
        PolicyError,
        match=r"policy 'best-base-stock': optimize failed on problem "
        r"'single-stage': .*termination=maxTimeLimit",
    ):
        make_policy("best-base-stock", problem)


def test_rolling_horizon_builds_without_solving_and_checks_its_horizon():
    problem = _problem("serial")
    assert make_policy("rolling-horizon", problem, {"horizon": 9}).horizon == 9
    with pytest.raises(
        PolicyError,
        match=r"policy 'rolling-horizon': horizon\(=2.5\) must be "
        r"a whole number",
    ):
        make_policy("rolling-horizon", problem, {"horizon": 2.5})
    with pytest.raises(
        PolicyError,
        match=r"'rolling-horizon' does not apply to problem "
        r"'pricing-a': the network MIP has no model of a "
        r"pricing market",
    ):
        make_policy("rolling-horizon", _problem("pricing-a-small"))


#: The solved names optimize produced on these scenarios (``optimized(problem)``, listed
#: once by running it on every registered scenario): none may be ruled out by structure.
PRODUCED = {
    "single-stage": (
        "optimal",
        "myopic",
        "myopic-2",
        "best-base-stock",
        "best-capped-base-stock",
        "best-constant",
        "best-constant-rate",
    ),
    "owmr": ("best-base-stock", "best-echelon-base-stock"),
    "orgym-inventory-lost": ("optimal", "best-base-stock", "best-echelon-base-stock"),
    "dual-sourcing": (
        "optimal",
        "best-single-index",
        "best-dual-index",
        "best-capped-dual-index",
        "best-tailored-base-surge",
    ),
    "collaborative": ("best-collab-base-stock",),
    "recommendation-small": ("mip-mpc",),
}


@pytest.mark.parametrize("scenario", sorted(PRODUCED))
def test_the_structure_admits_every_name_optimize_produces(scenario):
    problem = scenarios.make(scenario)
    solved.clear_cache()  # structure only: nothing solved
    for name in PRODUCED[scenario]:
        assert policy_entry(name).reason(problem) is None, name
