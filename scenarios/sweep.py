"""``sweep``: a grid over a scenario's parameters and a set of policies, one table and one plot.

``des-supply sweep single-stage --grid lead_time=1,2,3,4 --grid penalty=4,9,19,39`` builds the
problem of every grid point (a *cell*: the fixed ``--param`` values plus one value per
grid parameter) and, in each cell:

1. runs :func:`optimization.optimize.optimize` (unless ``optimize=False``): the optimum
   where an exact method applies, else a bound, recorded in the cell's rows (``optimum``,
   ``optimum_method``, ``exact``); a problem no method covers records why
   (``optimize_error``);
2. simulates every policy (the ``--policy NAME [k=v ...]`` choices, by default every
   policy ``optimize`` produced for the cell) on the same ``replications`` x ``periods``
   (common random numbers: every policy of every cell sees seed ``seed``), with the mean
   per period, its 95 % CI, the fill rate, the optimizer's own value of that policy and
   the gap to the cell's best simulated policy.  A policy that does not apply to a cell
   (a :class:`~des_supply.policy_registry.PolicyError`, e.g. ``optimal`` where only a
   bound exists) gets a row with the reason in ``error``.

Cells are independent tasks run by an executor (:mod:`des_supply.executors`: serial,
local processes or Ray), and the numbers do not depend on which.  Output in ``out_dir``:

==============  =================================================================
``sweep.csv``   one row per cell and policy
``sweep.json``  the settings and the same rows
``sweep.png``   mean per period against the first grid parameter, one line per
                policy with its CI, one panel per value of the other grid parameters
``cells/``      one JSON file per finished cell (written as soon as it finishes)
==============  =================================================================

Resuming: run the same command again, with more grid values if you like; cells already
in ``cells/`` are read back, not recomputed.  A folder holding a sweep with different
settings (scenario, policies, periods, warm-up, replications, seed, optimize) is refused,
so results of different settings are never mixed in one table.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from des_supply.executors import Executor, SerialExecutor, add_backend_arguments, executor_from_args
from des_supply.problem import is_network_file

from .extras import flat_rows, pandas
from .registry import ScenarioError, get, make, names, parse_params

__all__ = [
    "PolicyChoice",
    "SweepError",
    "SweepResult",
    "SweepSettings",
    "add_sweep_command",
    "cmd_sweep",
    "parse_grid",
    "run_cell",
    "sweep",
]

COLUMNS = (
    "policy",
    "policy_params",
    "mean",
    "ci95_low",
    "ci95_high",
    "fill_rate",
    "optimizer_value",
    "gap_pct",
    "optimum",
    "optimum_method",
    "exact",
    "error",
)
SETTINGS_COMPARED = (
    "scenario",
    "policies",
    "periods",
    "warmup",
    "replications",
    "seed",
    "optimize",
)


class SweepError(ValueError):
    """Bad grid or policy, or an output folder that holds a different sweep."""


@dataclass(frozen=True)
class PolicyChoice:
    """A registered policy name and its parameters (``des-supply policies`` lists them)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name} {args}".strip()


@dataclass(frozen=True)
class SweepSettings:
    """What a sweep computes; one cell's task carries it with the cell's parameters."""

    scenario: str
    grid: dict[str, tuple[Any, ...]]
    params: dict[str, Any] = field(default_factory=dict)  # fixed in every cell
    policies: tuple[PolicyChoice, ...] = ()  # () : optimize's policies
    periods: int | None = None  # None: the scenario's
    warmup: int | None = None  # None: the scenario's
    replications: int = 10
    seed: int = 0
    optimize: bool = True

    def __post_init__(self) -> None:
        spec = get(self.scenario)
        allowed = spec.parameters
        if not self.grid:
            raise SweepError("a sweep needs at least one grid parameter (--grid K=V1,V2,...)")
        for key in {**self.grid, **self.params}:
            if key not in allowed:
                raise SweepError(
                    f"scenario {self.scenario!r} has no parameter {key!r} "
                    f"(parameters: {', '.join(allowed)})"
                )
        for key, values in self.grid.items():
            if not values:
                raise SweepError(f"grid parameter {key!r} has no values")
            if len(set(map(repr, values))) != len(values):
                raise SweepError(f"grid parameter {key!r} repeats a value: {list(values)}")
            if key in self.params:
                raise SweepError(f"parameter {key!r} is both fixed (--param) and on the grid")
        for name, value, low in (
            ("replications", self.replications, 1),
            ("seed", self.seed, 0),
            ("periods", 1 if self.periods is None else self.periods, 1),
            ("warmup", 0 if self.warmup is None else self.warmup, 0),
        ):
            if value < low:
                raise SweepError(f"{name}(={value}) must be >= {low}")
        periods = self.periods or spec.periods
        if (self.warmup if self.warmup is not None else min(spec.warmup, periods // 10)) >= periods:
            raise SweepError(f"warmup(={self.warmup}) must be smaller than periods(={periods})")
        if not self.policies and not self.optimize:
            raise SweepError(
                "nothing to simulate: give --policy, or let optimize choose the "
                "policies (no --no-optimize)"
            )
        import optimization.policies  # noqa: F401  (registers the solved policies)
        from des_supply.policy_registry import PolicyError, policy_entry

        for p in self.policies:  # names and parameters; whether a policy applies is per cell
            try:
                entry = policy_entry(p.name)
            except PolicyError as exc:
                raise SweepError(str(exc)) from None
            known = [q.name for q in entry.params]
            unknown = sorted(set(p.params) - set(known))
            missing = [q.name for q in entry.params if q.required and q.name not in p.params]
            if unknown or missing:
                what = (
                    f"has no parameter(s) {', '.join(unknown)}"
                    if unknown
                    else f"needs parameter(s) {', '.join(missing)}"
                )
                raise SweepError(
                    f"policy {p.name!r} {what} (parameters: {', '.join(known) or 'none'})"
                )

    def cells(self) -> list[dict[str, Any]]:
        """The grid points, first grid parameter varying slowest."""
        keys = list(self.grid)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def record(self) -> dict[str, Any]:
        """JSON-safe settings (what ``sweep.json`` holds and a resumed run must match)."""
        return _plain({**asdict(self), "policies": [asdict(p) for p in self.policies]})


def _plain(data: Any) -> Any:
    """*data* as JSON would give it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(data, default=str))


def _key(params: Mapping[str, Any]) -> str:
    text = json.dumps(_plain(dict(params)), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CellTask:
    """One cell: picklable, so any executor can run it (:func:`run_cell`)."""

    settings: SweepSettings
    cell: dict[str, Any]

    def __repr__(self) -> str:
        return f"cell {self.settings.scenario} {_short(self.cell)}"


def _short(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def run_cell(task: CellTask) -> dict[str, Any]:
    """Optimize (where a method exists) and simulate every policy of one cell.

    Returns ``{"cell", "params", "rows", "optimize_error", "seconds"}``; the rows carry the
    cell's grid values and :data:`COLUMNS`.
    """
    from des_supply.evaluate import simulate
    from des_supply.policy_registry import PolicyError, make_policy
    from optimization.optimize import optimize

    from .extras import optimize_failure_text, optimize_failures

    started = time.perf_counter()
    s = task.settings
    params = {**s.params, **task.cell}
    problem = make(s.scenario, **params)
    periods = s.periods or problem.periods
    warmup = s.warmup if s.warmup is not None else min(problem.warmup, periods // 10)
    optimum: dict[str, Any] = {"optimum": None, "optimum_method": None, "exact": None}
    benchmarks: dict[str, Any] = {}
    error = None
    if s.optimize:
        try:
            res = optimize(problem)
        except optimize_failures() as exc:
            error = optimize_failure_text(exc)
        else:
            exact = res.optimal.policy is not None and "exact_method_skipped" not in res.details
            optimum = {
                "optimum": res.optimal.value,
                "optimum_method": res.optimal.method,
                "exact": exact,
            }
            seen = set()
            for b in [res.optimal, *res.policies]:
                same = (b.method, json.dumps(_plain(b.params), sort_keys=True), b.value)
                if b.policy is not None and b.name not in benchmarks and same not in seen:
                    benchmarks[b.name] = b  # not again under a second name (Clark-Scarf's)
                    seen.add(same)
    choices: list[tuple[PolicyChoice, Any, float | None, str | None]] = []
    if s.policies:
        for choice in s.policies:
            try:
                policy, why = make_policy(choice.name, problem, choice.params), None
            except PolicyError as exc:
                policy, why = None, str(exc)
            listed = benchmarks.get(choice.name)
            promised = listed.value if listed is not None and not choice.params else None
            choices.append((choice, policy, promised, why))
    else:
        choices = [
            (PolicyChoice(b.name, dict(b.params)), b.policy, b.value, None)
            for b in benchmarks.values()
        ]
    rows = []
    for choice, policy, promised, why in choices:
        row: dict[str, Any] = {
            **task.cell,
            "policy": choice.name,
            "policy_params": _plain(choice.params),
            "mean": None,
            "ci95_low": None,
            "ci95_high": None,
            "fill_rate": None,
            "optimizer_value": promised,
            "gap_pct": None,
            **optimum,
            "error": why,
        }
        if policy is not None:
            sim = simulate(
                problem,
                policy,
                periods=periods,
                warmup=warmup,
                replications=s.replications,
                seed=s.seed,
            )
            row.update(
                mean=sim.mean, ci95_low=sim.ci95[0], ci95_high=sim.ci95[1], fill_rate=sim.fill_rate
            )
        rows.append(row)
    sign = 1.0 if problem.objective == "cost" else -1.0
    means = [r["mean"] for r in rows if r["mean"] is not None]
    if means:
        best = min(means, key=lambda m: sign * m)
        for r in rows:
            if r["mean"] is not None and best:
                r["gap_pct"] = 100 * sign * (r["mean"] - best) / abs(best)
    return {
        "cell": _plain(task.cell),
        "params": _plain(params),
        "objective": problem.objective,
        "periods": periods,
        "warmup": warmup,
        "rows": rows,
        "optimize_error": error,
        "seconds": time.perf_counter() - started,
    }


# -- the study ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """The rows of a sweep (one per cell and policy) and where they were written."""

    settings: SweepSettings
    objective: str
    rows: list[dict[str, Any]]
    out_dir: Path
    computed: int  # cells computed by this run
    reused: int  # cells read back from out_dir/cells
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.record(),
            "objective": self.objective,
            "rows": self.rows,
            "out_dir": str(self.out_dir),
            "computed": self.computed,
            "reused": self.reused,
            "seconds": self.seconds,
        }

    def to_pandas(self) -> Any:
        """The rows (one per cell and policy) as a pandas DataFrame: the grid parameters,
        ``policy``, ``mean``, ``ci95_low``/``ci95_high``, ``gap_pct``, the optimizer's value
        and optimum (pandas is imported here; it comes with ``des-supply[all]``)."""
        return pandas().DataFrame(flat_rows(self.rows))

    def table(self) -> str:
        """A Markdown table of the rows."""
        keys = list(self.settings.grid)
        head = [
            *keys,
            "policy",
            f"mean {self.objective}/period",
            "95% CI",
            "gap",
            "optimizer",
            "optimum",
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            ci = (
                f"[{r['ci95_low']:.4f}, {r['ci95_high']:.4f}]"
                if r["mean"] is not None
                else r["error"] or "-"
            )
            cells = [
                *(str(r[k]) for k in keys),
                _label(r),
                f"{r['mean']:.4f}" if r["mean"] is not None else "-",
                ci,
                f"{r['gap_pct']:+.2f}%" if r["gap_pct"] is not None else "-",
                _num(r["optimizer_value"]),
                _num(r["optimum"]) + ("" if r["exact"] in (None, True) else " (bound)"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def _label(row: Mapping[str, Any]) -> str:
    return PolicyChoice(row["policy"], row["policy_params"]).label()


class _Progress:
    """A tqdm bar on a terminal; elsewhere a line every *interval* seconds and at the end."""

    def __init__(self, total: int, label: str, enabled: bool, interval: float = 10.0) -> None:
        self.total, self.label, self.interval, self.done = total, label, interval, 0
        self.enabled = enabled and total > 0
        self.started = self.last = time.perf_counter()
        self.bar = None
        if self.enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="cell", leave=False)

    def update(self, what: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix_str(what)
            return
        now = time.perf_counter()
        if now - self.last >= self.interval or self.done == self.total:
            elapsed = now - self.started
            left = elapsed / self.done * (self.total - self.done)
            share = 100 * self.done / self.total
            print(
                f"{self.label}: {self.done}/{self.total} cells ({share:.0f}%), {elapsed:.0f} s "
                f"elapsed, ~{left:.0f} s left; last: {what}",
                file=sys.stderr,
                flush=True,
            )
            self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write(path: Path, text: str) -> None:
    """Write atomically: a crash leaves the old file or none, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _claim(out: Path, settings: SweepSettings) -> None:
    """Refuse a folder holding a sweep of other settings; record ours otherwise."""
    path = out / "settings.json"
    mine = settings.record()
    if not path.exists() and any(p.name != "cells" for p in out.iterdir()):
        raise SweepError(
            f"{out} holds files but no sweep (settings.json); use another output folder"
        )
    if path.exists():
        theirs = json.loads(path.read_text())
        changed = [k for k in SETTINGS_COMPARED if theirs.get(k) != mine[k]]
        if changed:
            what = "; ".join(f"{k}: {theirs.get(k)!r} there, {mine[k]!r} now" for k in changed)
            raise SweepError(
                f"{out} holds a sweep with other settings ({what}); use another "
                "output folder or delete that one"
            )
    _write(path, json.dumps(mine, indent=2) + "\n")


def sweep(
    settings: SweepSettings,
    out_dir: str | Path,
    *,
    executor: Executor | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run (or resume) the sweep of *settings* in *out_dir*; the cells run on *executor*
    (default: serial).  See the module docstring for what is written."""
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _claim(out, settings)
    (out / "cells").mkdir(exist_ok=True)
    cells = settings.cells()
    done: dict[str, dict[str, Any]] = {}
    todo: list[CellTask] = []
    for cell in cells:
        path = out / "cells" / f"{_key({**settings.params, **cell})}.json"
        if path.exists():
            done[path.stem] = json.loads(path.read_text())
        else:
            todo.append(CellTask(settings, cell))
    bar = _Progress(len(todo), f"sweep {settings.scenario}", progress)

    def finished(i: int, result: dict[str, Any]) -> None:
        _write(
            out / "cells" / f"{_key(result['params'])}.json", json.dumps(result, indent=2) + "\n"
        )
        bar.update(_short(todo[i].cell))

    try:
        for cell_result in (executor or SerialExecutor()).map(run_cell, todo, on_result=finished):
            done[_key(cell_result["params"])] = cell_result
    finally:
        bar.close()
    ordered = [done[_key({**settings.params, **cell})] for cell in cells]
    rows = [r for c in ordered for r in c["rows"]]
    objective = ordered[0]["objective"]
    result = SweepResult(
        settings,
        objective,
        rows,
        out,
        len(todo),
        len(cells) - len(todo),
        time.perf_counter() - started,
    )
    _write(
        out / "sweep.json",
        json.dumps(
            {
                **result.to_dict(),
                "cells": [
                    {k: c[k] for k in ("cell", "optimize_error", "seconds", "periods", "warmup")}
                    for c in ordered
                ],
            },
            indent=2,
            default=str,
        )
        + "\n",
    )
    _write_csv(out / "sweep.csv", rows, list(settings.grid))
    _write(out / "sweep.md", result.table() + "\n")
    _plot(result, out / "sweep.png")
    return result


def _write_csv(path: Path, rows: list[dict[str, Any]], keys: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*keys, *COLUMNS])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "policy_params": json.dumps(r["policy_params"])})
    os.replace(tmp, path)


def _plot(result: SweepResult, path: Path) -> None:
    """Mean per period (95 % CI) against the first grid parameter; a line per policy, a panel
    per combination of the other grid parameters; the optimizer's optimum (or bound) in black."""
    from matplotlib.figure import Figure

    keys = list(result.settings.grid)
    x_key, others = keys[0], keys[1:]
    xs = list(result.settings.grid[x_key])
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    pos = {repr(v): (float(v) if numeric else i) for i, v in enumerate(xs)}
    panels = list(itertools.product(*(result.settings.grid[k] for k in others)))
    cols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(max(4.2 * cols, 7.5), 3.2 * nrows + 1.4))
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    # a line per policy name when optimize chose the policies (their parameters change from
    # cell to cell), per name and parameters when the user did
    series = _label if result.settings.policies else (lambda r: r["policy"])
    labels = list(dict.fromkeys(series(r) for r in result.rows))
    colors = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}
    for ax, panel in zip(axes, panels, strict=False):  # axes may outnumber panels
        fixed = dict(zip(others, panel, strict=True))
        rows = [r for r in result.rows if all(repr(r[k]) == repr(v) for k, v in fixed.items())]
        for lab in labels:
            pts = sorted(
                (pos[repr(r[x_key])], r) for r in rows if series(r) == lab and r["mean"] is not None
            )
            if pts:
                x = [p for p, _ in pts]
                y = [r["mean"] for _, r in pts]
                err = [
                    [
                        max(r["mean"] - r["ci95_low"], 0) if math.isfinite(r["ci95_low"]) else 0
                        for _, r in pts
                    ],
                    [
                        max(r["ci95_high"] - r["mean"], 0) if math.isfinite(r["ci95_high"]) else 0
                        for _, r in pts
                    ],
                ]
                ax.errorbar(
                    x, y, yerr=err, marker="o", ms=3, capsize=2, color=colors[lab], label=lab
                )
        opt = {
            pos[repr(r[x_key])]: (r["optimum"], r["exact"])
            for r in rows
            if r["optimum"] is not None
        }
        if opt:
            x = sorted(opt)
            exact = all(opt[v][1] for v in x)
            ax.plot(
                x,
                [opt[v][0] for v in x],
                ls="none",
                marker="x",
                color="black",
                label="optimizer's optimum" if exact else "optimizer's optimum or bound",
            )
        ax.set_xlabel(x_key)
        ax.set_ylabel(f"mean {result.objective} per period (cost units)")
        ax.set_title(_short(fixed) or result.settings.scenario, fontsize="medium")
        ax.set_xticks(
            sorted(pos.values()),
            [f"{v:g}" if numeric else str(v) for v in sorted(xs, key=lambda v: pos[repr(v)])],
        )
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    seen = dict(zip(names, handles, strict=True))
    for ax in axes[1 : len(panels)]:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(n, h)
    ncol = min(len(seen), 3) or 1
    fig.legend(
        list(seen.values()),
        list(seen),
        loc="lower center",
        ncol=ncol,
        fontsize="small",
        frameon=False,
    )
    fig.suptitle(
        f"{result.settings.scenario}: mean {result.objective} per period with 95% CIs "
        f"({result.settings.replications} replications, seed {result.settings.seed})"
    )
    height = fig.get_figheight()
    legend = (math.ceil(len(seen) / ncol) * 0.22 + 0.15) / height
    fig.tight_layout(rect=(0, legend, 1, 1 - 0.4 / height))
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


# -- command line ---------------------------------------------------------------------------------
def parse_grid(scenario: str, pairs: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """``["lead_time=1,2", "penalty=4,9"]`` -> ``{"lead_time": (1, 2), "penalty": (4.0, 9.0)}``,
    each value typed by the scenario's defaults (:func:`scenarios.parse_params`)."""
    grid: dict[str, tuple[Any, ...]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not sep or not key or not values:
            raise SweepError(f"grid {pair!r} must look like key=value1,value2,...")
        if key in grid:
            raise SweepError(f"grid parameter {key!r} is given twice")
        default = get(scenario).parameters.get(key)
        if isinstance(default, tuple):
            raise SweepError(
                f"grid parameter {key!r} takes a list itself; sweep it from Python "
                "(SweepSettings(grid={...}))"
            )
        grid[key] = tuple(parse_params(scenario, [f"{key}={v}"])[key] for v in values)
    return grid


class _PolicyAction(argparse.Action):
    """``--policy NAME [k=v ...]``, repeated: a list of (name, [k=v, ...])."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        chosen = list(getattr(namespace, self.dest) or [])
        chosen.append((values[0], list(values[1:])))
        setattr(namespace, self.dest, chosen)


def add_sweep_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``des-supply sweep`` to the CLI's subparsers (``build_parser`` calls this)."""
    p = subparsers.add_parser(
        "sweep",
        help="a grid over scenario parameters and policies: one table, one plot",
        description="Each cell of the grid is optimized where a method exists and every "
        "policy is simulated on common random numbers; sweep.csv, sweep.json and sweep.png "
        "go to --out, one file per finished cell to --out/cells (run again to resume).",
        epilog="example: des-supply sweep single-stage --grid lead_time=1,2,3,4 "
        "--grid penalty=4,9,19,39 --backend ray",
    )
    p.add_argument("scenario", help="a registered scenario (des-supply scenarios)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="K=V1,V2,...",
        required=True,
        help="a scenario parameter and its values (repeat for a product grid)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a scenario parameter fixed in every cell",
    )
    p.add_argument(
        "--policy",
        action=_PolicyAction,
        nargs="+",
        default=[],
        metavar=("NAME", "K=V"),
        help="a registered policy and its parameters, e.g. "
        "--policy base-stock level=20 (repeat; default: optimize's policies)",
    )
    p.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="do not run the optimizer in each cell (then --policy is needed)",
    )
    p.add_argument("--periods", type=int, default=None, help="default: the scenario's horizon")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--replications", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default runs/sweep-SCENARIO); an existing sweep there is resumed",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start the sweep in --out afresh (its cells are deleted)",
    )
    p.add_argument("--json", action="store_true")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_sweep)
    return p


def cmd_sweep(args: argparse.Namespace) -> None:
    """Handler of ``des-supply sweep`` (errors become the CLI's one-line errors)."""
    from des_supply.policy_registry import PolicyError

    from .cli import CliError, parse_policy_params

    if is_network_file(args.scenario) or (
        args.scenario not in names() and Path(args.scenario).is_file()
    ):
        raise CliError(
            f"sweep varies a registered scenario's parameters; {args.scenario} is a network "
            "file, which has none (simulate, optimize and compare take it; des-supply "
            "scenarios lists what sweep takes)"
        )
    try:
        settings = SweepSettings(
            args.scenario,
            parse_grid(args.scenario, args.grid),
            parse_params(args.scenario, args.param),
            tuple(PolicyChoice(name, parse_policy_params(pairs)) for name, pairs in args.policy),
            args.periods,
            args.warmup,
            args.replications,
            args.seed,
            args.optimize,
        )
        executor = executor_from_args(args)
    except (SweepError, ScenarioError, PolicyError, ValueError) as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out or f"runs/sweep-{args.scenario}")
    if args.overwrite and out.exists():
        if not (out / "settings.json").exists():
            raise CliError(f"--overwrite replaces a sweep; {out} holds none (settings.json)")
        shutil.rmtree(out)
    try:
        with executor:
            result = sweep(settings, out, executor=executor, progress=not args.json)
    except SweepError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    print(result.table())
    print(
        f"\n{len(result.rows)} rows, {result.computed} cells computed, {result.reused} reused, "
        f"{result.seconds:.1f} s; written to {out}/sweep.csv, sweep.json, sweep.png"
    )
