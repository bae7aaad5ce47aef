"""Size guards: DPs and MIPs refuse, before allocating, problems over the memory limit, with
the estimate and the parameter that drives it (optimization.memory)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

import scenarios
from optimization import pricing_dp, serial
from optimization.finite_horizon import finite_horizon
from optimization.memory import (
    DEFAULT_LIMIT,
    GiB,
    SizeLimitError,
    check_memory,
    format_bytes,
    memory_limit,
    parse_size,
)
from optimization.network_mip import engine_draws
from optimization.network_model import build_network_model
from optimization.recommendation_mip import check_model_size
from optimization.ss_policy import optimal_ss


def test_sizes_and_the_limit(monkeypatch):
    assert parse_size("8GiB") == 8 * GiB and parse_size("500 MB") == 5e8
    assert parse_size("2e9") == 2e9 and format_bytes(5 * GiB) == "5.0 GiB"
    for bad in ("lots", "-1GiB", "0", "nan", "8 parsecs"):
        with pytest.raises(ValueError, match="memory size"):
            parse_size(bad)
    monkeypatch.delenv("DES_SUPPLY_MEMORY_LIMIT", raising=False)
    assert memory_limit() == DEFAULT_LIMIT and memory_limit(123.0) == 123.0
    monkeypatch.setenv("DES_SUPPLY_MEMORY_LIMIT", "1GiB")
    assert memory_limit() == GiB
    with pytest.raises(ValueError, match="memory_limit"):
        memory_limit(math.nan)
    with pytest.raises(
        SizeLimitError,
        match=r"about 2\.0 GiB, over the memory limit 1\.0 GiB; "
        r"lower x, or raise the limit \(DES_SUPPLY_MEMORY_LIMIT",
    ):
        check_memory(2 * GiB, "it", "lower x")


def test_pricing_dp_refuses_a_large_storage_capacity_before_allocating():
    p = scenarios.make("pricing-a", storage_capacity=5000)
    tracemalloc.start()
    with pytest.raises(SizeLimitError, match=r"storage_capacity\(=5000\) of node") as info:
        pricing_dp.build_model(p.network, p.new_market())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "TiB" in str(info.value) and peak < 50 * 2**20


def test_pricing_dp_estimate_covers_the_measured_peak():
    p = scenarios.make("pricing-a", storage_capacity=20)
    tracemalloc.start()
    m = pricing_dp.build_model(p.network, p.new_market())
    pricing_dp.solve(m, max_iter=3, tol=math.inf)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    entries = len(m.prices) * np.prod(m.shape) * len(m.xs)
    assert peak < 3 * 8 * entries < 3 * peak  # sound, and not wildly pessimistic
    with pytest.raises(SizeLimitError):
        pricing_dp.build_model(p.network, p.new_market(), memory_limit=peak / 2)


@pytest.mark.parametrize(
    "mean, std, demand",
    [(5, 1, "normal"), (5000, 1, "normal"), (500, None, "poisson"), (20000, None, "poisson")],
)
def test_serial_lattice_estimate_is_close_to_the_real_lattice(mean, std, demand):
    args = ((7, 4, 2), (1, 1, 2), 37.12, mean, demand, std)
    inst = serial._Instance(*args, None, "order-after-demand")
    kmax = sum(k0 + w.size - 1 for k0, w in inst.kernels)
    kmin = sum(min(0, k0) for k0, _ in inst.kernels)
    points = (math.ceil(inst.hi / inst.step) - kmin) - (math.floor(inst.lo / inst.step) - kmax) + 1
    serial.serial_base_stock(*args, memory_limit=1.2 * serial.BYTES_PER_POINT * points)
    with pytest.raises(SizeLimitError, match="demand_mean"):
        serial.serial_base_stock(*args, memory_limit=0.8 * serial.BYTES_PER_POINT * points)


def test_serial_refuses_a_huge_poisson_mean_before_its_pmfs():
    with pytest.raises(SizeLimitError, match="lower demand_mean"):
        serial.serial_base_stock((7, 4, 2), (1, 1, 2), 37.12, 1e12, "poisson")


def test_single_stage_dps_refuse_huge_supports():
    with pytest.raises(SizeLimitError, match="demand mean"):
        optimal_ss(1.0, 4.0, 5.0, stats.poisson(1e11))
    with pytest.raises(SizeLimitError, match="initial_inventory"):
        finite_horizon([5.0] * 4, 1.0, 9.0, initial_inventory=-(10**12))
    with pytest.raises(SizeLimitError, match="demand means"):
        finite_horizon([1e12] * 4, 1.0, 9.0)
    assert optimal_ss(1.0, 4.0, 5.0, stats.poisson(6)).order_up_to_level == 10  # unchanged


def test_network_mip_refuses_a_long_horizon_before_building():
    net = scenarios.make("random-dag").network
    demand, leads = engine_draws(net, 8, 0, 0)
    with pytest.raises(SizeLimitError, match=r"lower the horizon\(=8 periods\)"):
        build_network_model(net, demand, leads, 8, memory_limit=1e5)


def test_recommendation_mip_size():
    assert check_model_size(52, 8, 3, 5) < 4 * 2**20
    with pytest.raises(SizeLimitError, match=r"lower the periods\(=10000\)"):
        check_model_size(10_000, 500, 50, 1000)


def test_solve_refuses_nan_limits():
    import pyomo.environ as pyo

    from optimization.solve import solve

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.c = pyo.Constraint(expr=2 * m.x >= 3)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(ValueError, match=r"time_limit\(=nan\)"):
        solve(m, time_limit=math.nan)
    with pytest.raises(ValueError, match=r"rel_gap\(=nan\)"):
        solve(m, rel_gap=math.nan)
    assert solve(m).objective == 2.0


class _StoppedHighs:
    """Stands in for HiGHS: a solve that ends with *termination*, a bound and no incumbent."""

    def __init__(self, termination, bound):
        self.termination, self.bound = termination, bound

    def available(self):
        return True

    def solve(self, model, **options):
        from types import SimpleNamespace

        return SimpleNamespace(
            termination_condition=self.termination,
            objective_bound=self.bound,
            incumbent_objective=None,
            timing_info=SimpleNamespace(wall_time=1.5),
        )


def _tiny_model():
    import pyomo.environ as pyo

    m = pyo.ConcreteModel(name="tiny")
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.o = pyo.Objective(expr=m.x)
    return m


def test_an_interrupted_solve_is_an_interrupt_not_a_solver_error():
    from pyomo.contrib.solver.common.results import TerminationCondition

    from optimization.solve import solve

    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        solve(_tiny_model(), opt=_StoppedHighs(TerminationCondition.interrupted, 3.0))


def test_a_time_limited_solve_without_incumbent_keeps_its_bound():
    from pyomo.contrib.solver.common.results import TerminationCondition

    from optimization.solve import SolverError, solve

    stopped = _StoppedHighs(TerminationCondition.maxTimeLimit, 3.0)
    with pytest.raises(SolverError, match="no incumbent") as info:
        solve(_tiny_model(), opt=stopped)
    assert info.value.bound == 3.0 and info.value.termination == "maxTimeLimit"
    report = solve(_tiny_model(), opt=stopped, require_incumbent=False)
    assert report.bound == 3.0 and not report.has_incumbent and math.isnan(report.objective)
    assert report.termination == "maxTimeLimit" and "no incumbent, bound 3" in report.status


def test_recommendation_bound_without_incumbent_keeps_the_bound(monkeypatch):
    """A perfect-information solve stopped before any plan still reports its bound."""
    import optimization.recommendation_mip as rm
    from optimization.solve import SolveReport

    seen = {}

    def stopped(model, **options):
        seen.update(options)
        return SolveReport(
            objective=math.nan,
            bound=123.0,
            termination="maxTimeLimit",
            status="maxTimeLimit: no incumbent, bound 123",
            time=1.0,
            gap=None,
        )

    monkeypatch.setattr(rm, "solve", stopped)
    plan = rm.perfect_information_bound(scenarios.make("recommendation-small"), periods=4)
    assert seen["require_incumbent"] is False
    assert plan.bound == 123.0 and plan.per_period_bound == 123.0 / 4
    assert plan.termination == "maxTimeLimit" and math.isnan(plan.objective)
    assert plan.to_dict()["patterns"] == [] and plan.orders == {}
    with pytest.raises(ValueError, match="only its bound is known"):
        plan.policy()
