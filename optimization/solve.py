"""The one HiGHS adapter: every Pyomo model of the project is solved here (STYLE 2.7).

``solve(model)`` runs :class:`pyomo.contrib.solver.solvers.highs.Highs` (persistent:
pass the same ``opt`` again after changing mutable ``Param``s and only the
changes are pushed) and returns a :class:`SolveReport` with the incumbent, the
solver's best bound, the termination condition, the wall time and the relative
gap.  It never returns a bare number:

* infeasible, unbounded, solver errors and "stopped without an incumbent" raise
  :class:`SolverError`, whose message names the termination condition and the
  best bound;
* a solve stopped by the time limit (or another limit) *with* an incumbent
  returns normally: ``report.termination`` says so and ``report.bound`` is the
  valid lower bound (for minimisation); the caller decides what to do with it;
* a solve stopped by a limit *without* an incumbent raises too, unless the caller
  only needs the bound (``require_incumbent=False``): then the report keeps the
  best bound, ``objective`` is NaN and ``has_incumbent`` is False;
* a solve interrupted by Ctrl-C raises :class:`KeyboardInterrupt` (an interruption
  is not a solver failure).

:class:`DirectHighs` re-solves a model whose mutable Params change between solves
without Pyomo in the loop: the model is laid out in ``highspy`` once, and each re-solve
pushes the changed bounds and coefficients in bulk (same reports, same errors).

Example:

>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel()
>>> m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
>>> m.c = pyo.Constraint(expr=2 * m.x >= 3)
>>> m.o = pyo.Objective(expr=m.x)
>>> r = solve(m)
>>> r.objective, r.bound, r.termination
(2.0, 2.0, 'convergenceCriteriaSatisfied')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_numeric_types
from pyomo.common.tee import capture_output
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.common.util import collect_vars_and_named_exprs, get_objective
from pyomo.contrib.solver.solvers.highs import Highs  # import the class: factory names have moved
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    NegationExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import is_constant
from pyomo.core.expr.visitor import identify_mutable_parameters
from pyomo.repn import generate_standard_repn

from .errors import SolverError  # re-exported: `from optimization.solve import SolverError`

__all__ = ["OPTIMAL", "DirectHighs", "SolveReport", "SolverError", "new_solver", "solve"]

#: The termination name of a solve that met its gap tolerance.
OPTIMAL = TerminationCondition.convergenceCriteriaSatisfied.name

_FAILED = {
    TerminationCondition.provenInfeasible,
    TerminationCondition.locallyInfeasible,
    TerminationCondition.infeasibleOrUnbounded,
    TerminationCondition.unbounded,
    TerminationCondition.error,
    TerminationCondition.licensingProblems,
    TerminationCondition.emptyModel,
}


@dataclass(frozen=True, slots=True)
class SolveReport:
    """What one solve produced (minimisation: ``bound <= objective``)."""

    objective: float  # incumbent objective value
    bound: float | None  # best (dual) bound; None when HiGHS reports none
    termination: str  # TerminationCondition name, e.g. "convergenceCriteriaSatisfied"
    status: str  # one readable line: termination, incumbent, bound, gap
    time: float  # wall seconds, Pyomo update included
    gap: float | None  # |objective - bound| / max(|objective|, 1e-10)

    @property
    def has_incumbent(self) -> bool:
        """False for a limit-stopped solve kept only for its bound (``require_incumbent``)."""
        return not math.isnan(self.objective)

    @property
    def optimal(self) -> bool:
        """True when the solve met its gap tolerance (not stopped by a limit)."""
        return self.termination == OPTIMAL


def new_solver(*, parameters_only: bool = False) -> Highs:
    """A fresh persistent HiGHS interface.

    ``parameters_only=True`` turns off Pyomo's scan for new, removed or changed
    components before each re-solve and pushes only mutable ``Param`` values: for
    models whose structure is fixed (rolling horizon), this is what makes a re-solve
    cheap.  Do not change variables' bounds, fix variables or edit constraints
    then.
    """
    opt = Highs()
    if parameters_only:
        au = opt.config.auto_updates
        au.check_for_new_or_removed_constraints = False
        au.check_for_new_or_removed_vars = False
        au.check_for_new_or_removed_params = False
        au.check_for_new_objective = False
        au.update_constraints = False
        au.update_vars = False
        au.update_named_expressions = False
        au.update_objective = False
        au.update_parameters = True
    return opt


def _gap(objective: float, bound: float | None) -> float | None:
    if bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-10)


def _check_options(time_limit: float, rel_gap: float) -> None:
    if not isinstance(time_limit, (int, float)) or math.isnan(time_limit) or time_limit <= 0:
        raise ValueError(
            f"time_limit(={time_limit!r}) must be a number of seconds > 0 (math.inf: no limit)"
        )
    if not isinstance(rel_gap, (int, float)) or not 0 <= rel_gap < 1:
        raise ValueError(f"rel_gap(={rel_gap!r}) must be a number in [0, 1)")


def solve(
    model: pyo.ConcreteModel,
    *,
    time_limit: float = 60.0,
    rel_gap: float = 1e-6,
    threads: int = 1,
    seed: int = 0,
    opt: Highs | None = None,
    require_incumbent: bool = True,
    options: Mapping[str, Any] | None = None,
) -> SolveReport:
    """Solve *model* with HiGHS and load the incumbent into its variables.

    Parameters
    ----------
    time_limit : float
        Seconds > 0 (``math.inf``: none; NaN is refused); a solve stopped by it with an
        incumbent returns (see ``termination``).
    rel_gap : float
        HiGHS ``mip_rel_gap``.
    threads : int
        HiGHS threads (1 keeps runs reproducible).
    seed : int
        HiGHS ``random_seed``.
    opt : Highs, optional
        A persistent interface to reuse (re-solves push only what changed).
    require_incumbent : bool
        False: a solve stopped by a limit before finding a solution returns its best bound
        (``objective`` NaN, nothing loaded) instead of raising.
    options : Mapping, optional
        More HiGHS options by name (e.g. ``{"mip_heuristic_run_feasibility_jump": False}``).

    Raises
    ------
    RuntimeError
        highspy is not installed.
    SolverError
        Infeasible, unbounded, solver error, or no incumbent when the solve stopped.
    KeyboardInterrupt
        The solve was interrupted (Ctrl-C).
    """
    _check_options(time_limit, rel_gap)
    opt = opt or Highs()
    if not opt.available():
        raise RuntimeError("HiGHS unavailable: install highspy")
    with capture_output(capture_fd=True):  # HiGHS also prints while Pyomo pushes updates
        res = opt.solve(
            model,
            time_limit=time_limit,
            rel_gap=rel_gap,
            threads=threads,
            solver_options={"random_seed": int(seed), **(options or {})},
            raise_exception_on_nonoptimal_result=False,  # keep time-limited incumbents
            load_solutions=False,
        )
    bound = res.objective_bound
    return _report(
        getattr(model, "name", "model"),
        res.termination_condition,
        None if res.incumbent_objective is None else float(res.incumbent_objective),
        None if bound is None else float(bound),
        float(res.timing_info.wall_time),
        require_incumbent,
        lambda: res.solution_loader.load_vars(),
    )


def _report(
    name: str,
    tc: TerminationCondition,
    incumbent: float | None,
    bound: float | None,
    wall: float,
    require_incumbent: bool,
    load: Callable[[], Any],
) -> SolveReport:
    """The report of one solve, or the error it deserves (see the module docstring);
    ``load()`` puts the incumbent into the model's variables."""
    if tc == TerminationCondition.interrupted:
        raise KeyboardInterrupt(f"HiGHS: solve of model '{name}' interrupted")
    keep_bound = (
        not require_incumbent and tc not in _FAILED and bound is not None and math.isfinite(bound)
    )
    if tc in _FAILED or (incumbent is None and not keep_bound):
        why = "no incumbent" if tc not in _FAILED else "no solution"
        raise SolverError(
            f"HiGHS: model '{name}' has {why}: termination={tc.name}, best bound={bound}",
            tc.name,
            bound,
        )
    if incumbent is None:
        return SolveReport(
            objective=math.nan,
            bound=bound,
            termination=tc.name,
            status=f"{tc.name}: no incumbent, bound {bound:.6g}",
            time=wall,
            gap=None,
        )
    load()
    gap = _gap(incumbent, bound)
    status = (
        f"{tc.name}: objective {incumbent:.6g}, bound "
        f"{'none' if bound is None else f'{bound:.6g}'}, gap "
        f"{'n/a' if gap is None else f'{100 * gap:.3g}%'}"
    )
    return SolveReport(
        objective=incumbent,
        bound=bound,
        termination=tc.name,
        status=status,
        time=wall,
        gap=gap,
    )


# -- direct re-solves ---------------------------------------------------------------------------
def _inline(cls: type, op: Callable[..., Any]) -> bool:
    """True when *cls* evaluates like *op*'s class (so plain arithmetic reproduces it)."""
    return getattr(cls, "_apply_operation", None) is op


class _Compiler:
    """Turns Pyomo expressions over mutable Params into one Python function of a value list.

    Each expression becomes the arithmetic Pyomo's own evaluation performs, in the same
    order (a sum is ``a + b + c`` left to right, as ``SumExpression`` sums), so the
    numbers are bit-identical to ``pyo.value``; node types it does not know are evaluated
    by their own ``_apply_operation``.  Fixed variables and immutable Params are constants.
    """

    def __init__(self, position: Callable[[Any], int]) -> None:
        self.position = position
        self.constants: list[Any] = []  # nodes evaluated by their own _apply_operation

    def code(self, e: Any) -> str:
        if e.__class__ in native_numeric_types:
            return repr(float(e))
        if not e.is_expression_type():
            if e.is_parameter_type() and not e.is_constant():  # a mutable Param
                return f"p[{self.position(e)}]"
            if e.is_variable_type() and not e.fixed:
                raise ValueError(f"variable {e.name} inside a coefficient or bound")
            return repr(float(pyo.value(e)))  # fixed variable, immutable Param
        if e.is_named_expression_type():
            return self.code(e.expr)
        args = [self.code(a) for a in e.args]
        cls = e.__class__
        if _inline(cls, SumExpression._apply_operation):
            return "(" + " + ".join(args) + ")" if args else "0"
        if _inline(cls, ProductExpression._apply_operation):
            return f"({args[0]} * {args[1]})"
        if _inline(cls, NegationExpression._apply_operation):
            return f"(-{args[0]})"
        if _inline(cls, DivisionExpression._apply_operation):
            return f"({args[0]} / {args[1]})"
        self.constants.append(e._apply_operation)
        return f"c[{len(self.constants) - 1}](({', '.join(args)},))"

    def function(self, exprs: Sequence[Any]) -> Callable[[list[float]], list[float]]:
        """``f(values) -> [value of each expression]``."""
        body = ",\n        ".join(self.code(e) for e in exprs)
        source = f"def f(p, c=c, inf=inf, nan=nan):\n    return [\n        {body}\n    ]\n"
        scope: dict[str, Any] = {"c": self.constants, "inf": math.inf, "nan": math.nan}
        exec(compile(source, "<DirectHighs>", "exec"), scope)  # our own generated code
        return scope["f"]


#: HiGHS model status -> termination condition (Pyomo's own mapping; Ctrl-C -> interrupted).
_STATUS = {
    "kOptimal": TerminationCondition.convergenceCriteriaSatisfied,
    "kInfeasible": TerminationCondition.provenInfeasible,
    "kUnboundedOrInfeasible": TerminationCondition.infeasibleOrUnbounded,
    "kUnbounded": TerminationCondition.unbounded,
    "kObjectiveBound": TerminationCondition.objectiveLimit,
    "kObjectiveTarget": TerminationCondition.objectiveLimit,
    "kTimeLimit": TerminationCondition.maxTimeLimit,
    "kIterationLimit": TerminationCondition.iterationLimit,
    "kSolutionLimit": TerminationCondition.iterationLimit,
    "kInterrupt": TerminationCondition.interrupted,
    "kHighsInterrupt": TerminationCondition.interrupted,
    "kLoadError": TerminationCondition.error,
    "kModelError": TerminationCondition.error,
    "kPresolveError": TerminationCondition.error,
    "kSolveError": TerminationCondition.error,
    "kPostsolveError": TerminationCondition.error,
    "kMemoryLimit": TerminationCondition.error,
}


class DirectHighs:
    """A linear Pyomo model copied once into ``highspy``; re-solves push numbers in bulk.

    Pyomo's persistent interface re-evaluates, before every re-solve, each bound,
    coefficient and cost that holds a mutable ``Param`` through its expression
    visitor and pushes them one HiGHS call at a time: on the rolling-horizon network
    model that is most of an epoch.  Here those expressions are compiled once into
    plain arithmetic over :attr:`values` (one float per mutable ``Param``, see
    :meth:`position`), evaluated in the order Pyomo evaluates them, and pushed with
    ``changeRowsBounds`` / ``changeColsCost`` (``changeCoeff`` per mutable
    coefficient).  The HiGHS model is laid out as Pyomo's persistent interface lays it
    out (same columns and rows in the same order, same numbers), so a sequence of
    re-solves returns what :func:`solve` with a persistent ``opt`` returns.

    The structure is read once: do not add, remove or deactivate components, fix or
    unfix variables or change variable bounds afterwards; Params are changed through
    :attr:`values` only (the model's own Params are not read again, nor written).
    Quadratic and nonlinear models are refused.

    Example:

    >>> m = pyo.ConcreteModel(name="toy")
    >>> m.d = pyo.Param(initialize=3.0, mutable=True)
    >>> m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    >>> m.c = pyo.Constraint(expr=2 * m.x >= m.d)
    >>> m.o = pyo.Objective(expr=m.x)
    >>> h = DirectHighs(m)
    >>> h.solve().objective, h.primal(m.x)
    (2.0, 2.0)
    >>> h.values[h.position(m.d)] = 7.0
    >>> h.solve().objective
    4.0
    """

    def __init__(
        self,
        model: pyo.ConcreteModel,
        *,
        time_limit: float = 60.0,
        rel_gap: float = 1e-6,
        threads: int = 1,
        seed: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        import highspy  # noqa: F401 -- fail here, in one line, when it is missing

        _check_options(time_limit, rel_gap)
        self.name = getattr(model, "name", "model")
        #: HiGHS options set on the instance (``options``: more of them, as :func:`solve`)
        self.options: dict[str, Any] = {
            "time_limit": float(time_limit),
            "mip_rel_gap": float(rel_gap),
            "threads": int(threads),
            "random_seed": int(seed),
            **(options or {}),
        }
        params = [
            p
            for c in model.component_objects(pyo.Param, descend_into=True)
            if c.mutable
            for p in c.values()
        ]
        self._pos = {id(p): i for i, p in enumerate(params)}
        #: current value of every mutable Param, in :meth:`position` order
        self.values = np.array([float(pyo.value(p)) for p in params])
        self._layout(model)
        self._highs: Any = None
        self._x: list[float] | None = None
        self._last_coefs: list[float] | None = None  # mutable coefficients as last pushed
        #: wall seconds of HiGHS's own ``run`` in the last solve (the rest is the push)
        self.run_time = math.nan

    def position(self, param: Any) -> int:
        """Index in :attr:`values` of a mutable ``ParamData``."""
        try:
            return self._pos[id(param)]
        except KeyError:
            raise KeyError(f"{param} is not a mutable Param of model '{self.name}'") from None

    def column(self, var: Any) -> int:
        """HiGHS column of a variable."""
        return self._col[id(var)]

    def _layout(self, model: pyo.ConcreteModel) -> None:
        """Columns, rows and objective as Pyomo's persistent HiGHS interface lays them out
        (``add_block``: variables in order of first use by the constraints, then by the
        objective); constant numbers now, mutable ones as compiled expressions."""
        import highspy

        inf = highspy.kHighsInf
        cons = list(model.component_data_objects(pyo.Constraint, descend_into=True, active=True))
        obj = get_objective(model)
        cols: dict[int, Any] = {}
        for e in [c.expr for c in cons] + ([obj.expr] if obj is not None else []):
            for v in collect_vars_and_named_exprs(e)[1]:
                cols.setdefault(id(v), v)
        self._col = {k: j for j, k in enumerate(cols)}
        lb, ub, kind = [], [], []
        for v in cols.values():
            bounds = [b for b in (v.lower, v.upper) if b is not None]
            if any(True for b in bounds for _ in identify_mutable_parameters(b)):
                raise ValueError(f"variable {v.name}: bounds with mutable Params are not supported")
            step = v.domain.get_interval()[2]
            if v.fixed:
                lo = hi = v.value
            else:
                lo = -inf if v.lb is None else v.lb
                hi = inf if v.ub is None else v.ub
            lb.append(lo)
            ub.append(hi)
            kind.append(
                highspy.HighsVarType.kContinuous if step == 0 else highspy.HighsVarType.kInteger
            )
        self._cols = (np.array(lb, dtype=np.double), np.array(ub, dtype=np.double), kind)

        compiler = _Compiler(self.position)
        row_lb: list[float] = []
        row_ub: list[float] = []
        starts: list[int] = []
        index: list[int] = []
        coef: list[float] = []
        bound_rows, lo_k, hi_k = [], [], []
        coef_at: list[tuple[int, int]] = []
        coef_exprs: list[Any] = []
        for i, con in enumerate(cons):
            repn = generate_standard_repn(con.body, quadratic=False, compute_values=False)
            if repn.nonlinear_expr is not None:
                raise ValueError(f"constraint {con.name} is nonlinear")
            starts.append(len(coef))
            for c, v in zip(repn.linear_coefs, repn.linear_vars, strict=True):
                val = pyo.value(c)
                if not is_constant(c):
                    coef_at.append((i, self._col[id(v)]))
                    coef_exprs.append(c)
                    if val == 0:
                        continue
                index.append(self._col[id(v)])
                coef.append(val)
            lo = con.lower - repn.constant if con.has_lb() else -inf
            hi = con.upper - repn.constant if con.has_ub() else inf
            if not (is_constant(lo) and is_constant(hi)):
                bound_rows.append(i)
                lo_k.append(lo)
                hi_k.append(hi)
            row_lb.append(pyo.value(lo))
            row_ub.append(pyo.value(hi))
        self._rows = (
            np.array(row_lb, dtype=np.double),
            np.array(row_ub, dtype=np.double),
            np.array(starts, dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(coef, dtype=np.double),
        )
        n = len(cols)
        costs = np.zeros(n)
        cost_cols, cost_exprs, offset = [], [], 0.0
        self._sense = highspy.ObjSense.kMinimize
        if obj is not None:
            if obj.sense == pyo.maximize:
                self._sense = highspy.ObjSense.kMaximize
            repn = generate_standard_repn(obj.expr, quadratic=True, compute_values=False)
            if repn.nonlinear_expr is not None or repn.quadratic_vars:
                raise ValueError(f"objective {obj.name} is not linear")
            for c, v in zip(repn.linear_coefs, repn.linear_vars, strict=True):
                costs[self._col[id(v)]] = pyo.value(c)
                if not is_constant(c):
                    cost_cols.append(self._col[id(v)])
                    cost_exprs.append(c)
            offset = repn.constant
        self._costs = costs
        self._bound_rows = np.array(bound_rows, dtype=np.int32)
        self._coef_at = coef_at
        self._cost_cols = np.array(cost_cols, dtype=np.int32)
        self._evaluate = compiler.function(lo_k + hi_k + coef_exprs + cost_exprs + [offset])
        self._split = np.cumsum([len(lo_k), len(hi_k), len(coef_exprs), len(cost_exprs)])

    def _build(self) -> Any:
        """The HiGHS instance, with the model at the current :attr:`values` (first solve)."""
        import highspy

        with capture_output(capture_fd=True):  # the constructor prints a banner
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        for key, val in self.options.items():
            if h.setOptionValue(key, val) != highspy.HighsStatus.kOk:
                raise ValueError(f"model '{self.name}': HiGHS refused option {key}={val!r}")
        h.HandleKeyboardInterrupt = True
        col_lb, col_ub, kind = self._cols
        n = len(col_lb)
        h.addVars(n, col_lb, col_ub)
        h.changeColsIntegrality(n, np.arange(n), np.array(kind))
        row_lb, row_ub, starts, index, coef = self._rows
        h.addRows(len(row_lb), row_lb, row_ub, len(coef), starts, index, coef)
        h.changeObjectiveSense(self._sense)
        h.changeColsCost(n, np.arange(n), self._costs)
        return h

    def _push(self, h: Any) -> None:
        """Evaluate every mutable number at :attr:`values` and hand them to HiGHS in bulk."""
        out = self._evaluate(self.values.tolist())
        a, b, c, d = self._split
        # only changed coefficients, plus one: every changeCoeff has the same side effect
        # (HiGHS drops its factorization), which Pyomo's interface, pushing them all, has
        coefs, last = out[b:c], self._last_coefs
        for i, ((row, col), val) in enumerate(zip(self._coef_at, coefs, strict=True)):
            if i == 0 or last is None or val != last[i]:
                h.changeCoeff(row, col, val)
        self._last_coefs = coefs
        rows = self._bound_rows
        if len(rows):
            h.changeRowsBounds(len(rows), rows, np.array(out[:a]), np.array(out[a:b]))
        if len(self._cost_cols):
            h.changeColsCost(len(self._cost_cols), self._cost_cols, np.array(out[c:d]))
        h.changeObjectiveOffset(out[d])

    def solve(self, *, require_incumbent: bool = True) -> SolveReport:
        """Solve at the current :attr:`values`; same report and errors as :func:`solve`."""
        tick = time.perf_counter()
        if self._highs is None:
            self._highs = self._build()
        h = self._highs
        self._push(h)
        self._x = None
        run = time.perf_counter()
        h.run()
        self.run_time = time.perf_counter() - run
        status = h.getModelStatus()
        tc = _STATUS.get(status.name, TerminationCondition.unknown)
        info = h.getInfo()
        feasible = info.primal_solution_status == 2
        incumbent = float(info.objective_function_value) if feasible else None
        if info.mip_node_count == -1:  # an LP: the bound is the optimum, when there is one
            optimal = tc == TerminationCondition.convergenceCriteriaSatisfied
            bound = incumbent if feasible and optimal else None
        else:
            bound = float(info.mip_dual_bound)

        def load() -> None:
            self._x = list(h.getSolution().col_value)

        return _report(
            self.name, tc, incumbent, bound, time.perf_counter() - tick, require_incumbent, load
        )

    def solution(self) -> list[float]:
        """The last solve's incumbent, one value per column (see :meth:`column`)."""
        if self._x is None:
            raise RuntimeError(f"model '{self.name}': no solution loaded (solve first)")
        return self._x

    def primal(self, var: Any) -> float:
        """The variable's value in the last solve's incumbent."""
        if self._x is None:
            raise RuntimeError(f"model '{self.name}': no solution loaded (solve first)")
        return self._x[self._col[id(var)]]
