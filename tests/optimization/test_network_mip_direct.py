"""Direct re-solves (``DirectHighs``, ``RollingHorizonPolicy(resolve="direct")``) against the
Pyomo persistent path they replace: the same HiGHS model, bit for bit, and the same plans."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyomo.environ as pyo
import pytest

import scenarios
from des_supply.sim import Simulation
from optimization.network_mip import (
    NetworkState,
    RollingHorizonPolicy,
    build_network_model,
    longest_lead_path,
    update_network_model,
)
from optimization.solve import DirectHighs, SolverError, new_solver, solve

FIELDS = ("on_hand", "backlog", "lost", "ordered", "received", "shipped")


def run(net, periods: int, resolve: str, **kw):
    window = max(8, longest_lead_path(net) + 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = RollingHorizonPolicy(net, window, resolve=resolve, **kw)
    return Simulation(net, periods, 0).run(policy), policy


@pytest.mark.parametrize(
    ("name", "params", "kw"),
    [
        ("owmr", {"n_retailers": 3}, {"safety_stock": "auto"}),
        ("serial", {}, {"safety_stock": "auto"}),
        ("random-dag", {"n_nodes": 12, "seed": 3}, {"safety_stock": "auto"}),
        ("assembly", {}, {"integer": True, "exact": True}),
    ],
    ids=["owmr", "serial", "random-dag", "assembly-exact-mip"],
)
def test_direct_resolves_give_the_same_ledger_as_pyomo(name, params, kw):
    net = scenarios.make(name, **params).network
    slow, a = run(net, 20, "pyomo", **kw)
    fast, b = run(net, 20, "direct", **kw)
    assert a.opt is not None and b.opt is None
    for field in FIELDS:
        assert np.array_equal(slow[field], fast[field]), field
    assert np.array_equal(slow.cost(), fast.cost())
    assert a.terminations == b.terminations
    assert a.last_report.objective == b.last_report.objective


def lp_arrays(h) -> dict[str, np.ndarray]:
    lp = h.getLp()
    return {
        "col_cost": np.asarray(lp.col_cost_),
        "col_lower": np.asarray(lp.col_lower_),
        "col_upper": np.asarray(lp.col_upper_),
        "row_lower": np.asarray(lp.row_lower_),
        "row_upper": np.asarray(lp.row_upper_),
        "offset": np.asarray([lp.offset_]),
        "integrality": np.asarray([int(v) for v in lp.integrality_]),
    }


def matrix(h) -> dict[tuple[int, int], float]:
    """Nonzero matrix entries by (row, column), whichever way HiGHS stores them."""
    a = h.getLp().a_matrix_
    colwise = a.format_.name == "kColwise"
    start, index, value = list(a.start_), list(a.index_), list(a.value_)
    out = {}
    for outer in range(len(start) - 1):
        for k in range(start[outer], start[outer + 1]):
            if value[k] != 0:
                out[(index[k], outer) if colwise else (outer, index[k])] = value[k]
    return out


def test_direct_highs_holds_the_model_pyomo_would_pass():
    """The same columns, rows and numbers as Pyomo's persistent HiGHS interface, after the
    build and after new data (the compiled bounds and coefficients equal ``pyo.value``)."""
    net = scenarios.make("random-dag", n_nodes=8, seed=1, shortage="lost").network
    m = build_network_model(net, {}, None, 6, exact=True, integer=True)
    opt = new_solver(parameters_only=True)
    opt.set_instance(m)
    direct = DirectHighs(m)
    h = direct._build()
    direct._push(h)
    reference = opt._solver_model  # Pyomo's highspy instance
    assert h.getNumCol() == reference.getNumCol() and h.getNumRow() == reference.getNumRow()
    for key, value in lp_arrays(reference).items():
        assert np.array_equal(lp_arrays(h)[key], value), key
    assert matrix(h) == matrix(reference)

    rng = np.random.default_rng(0)
    demand = {n.name: rng.poisson(5.0, 6).astype(float) + 0.3 for n in net.demand_nodes}
    state = NetworkState.initial(net)
    for n in net.stock_nodes:
        state.on_hand[n.name] = float(rng.integers(0, 20)) + 0.25
    update_network_model(m, demand=demand, state=state, start=2)
    opt.update()
    for p in m.component_data_objects(pyo.Param):
        direct.values[direct.position(p)] = pyo.value(p)
    direct._push(h)
    for key, value in lp_arrays(reference).items():
        assert np.array_equal(lp_arrays(h)[key], value), key
    assert matrix(h) == matrix(reference)


def toy(d: float):
    m = pyo.ConcreteModel(name="toy")
    m.d = pyo.Param(initialize=d, mutable=True)
    m.cap = pyo.Param(initialize=10.0, mutable=True)
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.c = pyo.Constraint(expr=2 * m.x + m.y >= m.d)
    m.k = pyo.Constraint(expr=m.cap * m.x <= 100)
    m.o = pyo.Objective(expr=m.x + 0.6 * m.y + m.d)
    return m


def test_direct_highs_follows_changed_params_and_reports_failures():
    m = toy(3.0)
    h = DirectHighs(m)
    rep = h.solve()
    assert rep.optimal and rep.objective == pytest.approx(1 + 0.6 + 3.0)
    assert (h.primal(m.x), h.primal(m.y)) == (1.0, pytest.approx(1.0))
    h.values[h.position(m.d)] = 8.0
    h.values[h.position(m.cap)] = 50.0  # a coefficient: x <= 2
    assert h.solve().objective == pytest.approx(2 + 0.6 * 4 + 8.0)
    h.values[h.position(m.cap)] = -1.0  # -x <= 100: x is free again
    assert h.solve().objective == pytest.approx(4 + 8.0)
    m2 = toy(3.0)
    m2.bad = pyo.Constraint(expr=m2.x + m2.y <= m2.d - 10)
    with pytest.raises(SolverError, match="no solution: termination=provenInfeasible") as err:
        DirectHighs(m2).solve()
    assert err.value.termination == "provenInfeasible"
    with pytest.raises(RuntimeError, match="no solution loaded"):
        DirectHighs(toy(1.0)).primal(m.x)
    with pytest.raises(KeyError, match="not a mutable Param"):
        h.position(m2.d)
    with pytest.raises(ValueError, match="time_limit"):
        DirectHighs(m, time_limit=math.nan)


def test_direct_highs_refuses_what_it_cannot_hold():
    m = toy(1.0)
    m.q = pyo.Constraint(expr=m.x * m.y <= 4)
    with pytest.raises(ValueError, match="constraint q is nonlinear"):
        DirectHighs(m)
    m = toy(1.0)
    m.x.setub(m.cap)
    with pytest.raises(ValueError, match="variable x: bounds with mutable Params"):
        DirectHighs(m)


def test_resolve_mode_is_checked():
    net = scenarios.make("single-stage").network
    with pytest.raises(ValueError, match="resolve"):
        RollingHorizonPolicy(net, 6, resolve="fast")


def test_direct_highs_takes_more_options_and_refuses_unknown_ones():
    m = toy(3.0)
    quiet = {"mip_heuristic_run_feasibility_jump": False}
    assert DirectHighs(m, options=quiet).solve().objective == DirectHighs(m).solve().objective
    assert solve(toy(3.0), options=quiet).objective == pytest.approx(1 + 0.6 + 3.0)
    with pytest.raises(ValueError, match="HiGHS refused option no_such_option=1"):
        DirectHighs(m, options={"no_such_option": 1}).solve()
