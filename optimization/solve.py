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
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.common.tee import capture_output
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs  # import the class: factory names have moved

__all__ = ["OPTIMAL", "SolveReport", "SolverError", "new_solver", "solve"]

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


class SolverError(RuntimeError):
    """The solver gave no usable solution; ``termination`` and ``bound`` say why."""

    def __init__(self, message: str, termination: str, bound: float | None) -> None:
        super().__init__(message)
        self.termination = termination
        self.bound = bound


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


def solve(
    model: pyo.ConcreteModel,
    *,
    time_limit: float = 60.0,
    rel_gap: float = 1e-6,
    threads: int = 1,
    seed: int = 0,
    opt: Highs | None = None,
    require_incumbent: bool = True,
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

    Raises
    ------
    RuntimeError
        highspy is not installed.
    SolverError
        Infeasible, unbounded, solver error, or no incumbent when the solve stopped.
    KeyboardInterrupt
        The solve was interrupted (Ctrl-C).
    """
    if not isinstance(time_limit, (int, float)) or math.isnan(time_limit) or time_limit <= 0:
        raise ValueError(
            f"time_limit(={time_limit!r}) must be a number of seconds > 0 (math.inf: no limit)"
        )
    if not isinstance(rel_gap, (int, float)) or not 0 <= rel_gap < 1:
        raise ValueError(f"rel_gap(={rel_gap!r}) must be a number in [0, 1)")
    opt = opt or Highs()
    if not opt.available():
        raise RuntimeError("HiGHS unavailable: install highspy")
    with capture_output(capture_fd=True):  # HiGHS also prints while Pyomo pushes updates
        res = opt.solve(
            model,
            time_limit=time_limit,
            rel_gap=rel_gap,
            threads=threads,
            solver_options={"random_seed": int(seed)},
            raise_exception_on_nonoptimal_result=False,  # keep time-limited incumbents
            load_solutions=False,
        )
    tc = res.termination_condition
    bound = res.objective_bound
    bound = None if bound is None else float(bound)
    name = getattr(model, "name", "model")
    if tc == TerminationCondition.interrupted:
        raise KeyboardInterrupt(f"HiGHS: solve of model '{name}' interrupted")
    keep_bound = (
        not require_incumbent and tc not in _FAILED and bound is not None and math.isfinite(bound)
    )
    if tc in _FAILED or (res.incumbent_objective is None and not keep_bound):
        why = "no incumbent" if tc not in _FAILED else "no solution"
        raise SolverError(
            f"HiGHS: model '{name}' has {why}: termination={tc.name}, best bound={bound}",
            tc.name,
            bound,
        )
    if res.incumbent_objective is None:
        return SolveReport(
            objective=math.nan,
            bound=bound,
            termination=tc.name,
            status=f"{tc.name}: no incumbent, bound {bound:.6g}",
            time=float(res.timing_info.wall_time),
            gap=None,
        )
    res.solution_loader.load_vars()
    obj = float(res.incumbent_objective)
    gap = _gap(obj, bound)
    status = (
        f"{tc.name}: objective {obj:.6g}, bound "
        f"{'none' if bound is None else f'{bound:.6g}'}, gap "
        f"{'n/a' if gap is None else f'{100 * gap:.3g}%'}"
    )
    return SolveReport(
        objective=obj,
        bound=bound,
        termination=tc.name,
        status=status,
        time=float(res.timing_info.wall_time),
        gap=gap,
    )
