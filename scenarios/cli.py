"""des-supply: simulate, optimize, train and compare supply-chain problems (a registered
scenario or a network JSON file).

    des-supply scenarios [--json]
    des-supply policies [SCENARIO] [--json]
    des-supply optimize SCENARIO [--param k=v]... [--verify [--periods N | --horizon T]] [--json]
    des-supply train SCENARIO --algo ppo [--param k=v]... [--steps N] [--out DIR]
                     [--overwrite] [--seed S] [--engine event|batch|auto] [--json]
    des-supply train --resume DIR [--steps N] [--json]
    des-supply train SCENARIO --algo dt --data DIR [--relabel none|expected] [--steps N]
                     [--out RUN] [--json]
    des-supply collect SCENARIO|network.json --policy NAME [--policy-param k=v]...
                       [--noise SD] --episodes N --periods T --seed S --out DIR [--json]
    des-supply merge DIR... --out DIR [--json]
    des-supply sweep SCENARIO --grid k=v1,v2,... [--policy NAME [k=v ...]]... [--out DIR]
    des-supply evaluate DIR|POLICY [--scenario S] [--param k=v]... [--policy-param k=v]...
                        [--episodes R] [--periods N | --horizon T [--review RULE]] [--seed S]
                        [--json]
    des-supply compare SCENARIO... [--param k=v]... [--steps N] [--episodes R] [--periods N] [--dt-data DIR]
                       [--engine event|batch|auto]
                       [--seed S] [--out DIR] [--overwrite] [--json]
    des-supply simulate SCENARIO|network.json [--param k=v]... --policy NAME
                        [--policy-param k=v]... [--periods N | --horizon T [--review RULE]]
                        [--warmup W] [--replications R] [--seed S] [--processes P] [--json]
                        [--plot FILE.png]

Policy parameters take one number for every deciding node (``level=20``) or one
per node (``level=stage1:6.49,stage2:12.02,stage3:22.71``).

Policy names come from one registry (``des-supply policies``): the families, the pricing
and recommendation rules, and the solved policies (``optimal``, ``myopic-2``,
``best-base-stock``, ...) that are built by running the optimizer on the problem.
Problems with a market model (pricing, recommendation) run with it in every command.
``compare`` accepts several problems and then also writes one figure with all of them.

Wherever a command takes a SCENARIO it also takes a network file (``*.json``, or any
path): both become a :class:`des_supply.problem.Problem`, and every command works on
problems.  This module is the application layer, on top of ``des_supply``,
``optimization`` and ``rl``.

User errors end the program with status 2 and one line naming what is wrong
(:class:`CliError`, the one type :func:`main` prints; library errors are converted where
they arise), checked before any output is written: output folders and ``--plot`` first,
then the problem and the settings.  An existing run folder is refused unless ``--resume``
(train) or ``--overwrite`` is given; default folder names get ``-2``, ``-3``, ... instead
of replacing an earlier run.  A command that fails or is interrupted removes what it
created, except a ``train`` interrupted after a checkpoint (``train --resume DIR``
continues it with its recorded settings).  Ctrl-C prints one line (``interrupted``) and
exits with status 130.  Simulations whose ledgers, and optimizers whose arrays or models,
would exceed the memory limit (``DES_SUPPLY_MEMORY_LIMIT``, default 4 GiB;
:mod:`optimization.memory`) are refused up front with the estimate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import des_supply
from des_supply.executors import Executor, add_backend_arguments, executor_from_args
from des_supply.network import MAX_MAGNITUDE, Network, NetworkError
from des_supply.policy_registry import PolicyError, make_policy
from des_supply.problem import Problem, convention_note, is_network_file

from . import command, extras
from . import registry as sc

__all__ = ["main"]


class CliError(Exception):
    """A user error: printed as one line, exit status 2 (the only error type :func:`main`
    turns into a message; library errors a user can cause are converted where they arise)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and status 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog.removeprefix('des-supply').strip() or 'usage'}: {message}")


@contextmanager
def user_errors(prefix: str, *kinds: type[BaseException]) -> Iterator[None]:
    """Turn the library's *kinds* of exception (user mistakes it detected) into CliError."""
    try:
        yield
    except kinds as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CliError(f"{prefix}: {text}" if prefix else text) from None


#: Bytes a simulation keeps per node and period of one replication when it keeps its full
#: ledger: measured with tracemalloc at 387-390 on single-stage, serial, owmr and random-dag
#: (2,000 vs 8,000 periods).
LEDGER_BYTES_PER_NODE_PERIOD = 390
#: Bytes per period of one replication's running summary (periodic problems without a kept
#: ledger: the per-period objective for the CI; the summary sums do not grow with the horizon).
SUMMARY_BYTES_PER_PERIOD = 8

#: ``train --engine`` choices: rl.ppo.ENGINES, spelled out so the parser needs no torch
PPO_ENGINES = ("event", "batch", "auto")
#: Warm-up periods of ``optimize --verify``'s long runs.
VERIFY_WARMUP = 500
#: Default run length of ``optimize --verify`` (periods, or time units in continuous time).
VERIFY_PERIODS = 20_000


def check_ledger_memory(
    problem: Problem, periods: int, at_once: int, what: str, *, full: bool = True
) -> None:
    """Refuse up front a simulation whose records would not fit the memory limit
    (:mod:`optimization.memory`).

    With *full*, *at_once* replications each hold a full ledger (every period of every node)
    at the same time; without, every replication keeps only its running summary (about
    :data:`SUMMARY_BYTES_PER_PERIOD` bytes a period, all held until the end), which is what
    ``simulate`` does for periodic problems unless a ledger is asked for.  Continuous-time
    problems are always charged the full ledger (their runs build one).
    """
    from optimization.memory import check_memory, memory_limit

    nodes = len(problem.network.nodes)
    if full or problem.network.time == "continuous":
        per_period = LEDGER_BYTES_PER_NODE_PERIOD * nodes * max(at_once, 1)
        size = (
            f"{at_once} ledger(s) of {periods:,} periods x "
            f"{nodes} nodes ({LEDGER_BYTES_PER_NODE_PERIOD} bytes per node-period)"
        )
    else:
        per_period = SUMMARY_BYTES_PER_PERIOD * max(at_once, 1)
        size = (
            f"running summaries of {at_once} replication(s) x {periods:,} periods "
            f"({SUMMARY_BYTES_PER_PERIOD} bytes per period)"
        )
    with user_errors(what, ValueError):
        most = int(memory_limit() // per_period)
        check_memory(per_period * periods, size, f"lower --periods (at most {most:,} fit)")


def versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (provenance)."""
    out = {}
    for pkg in (
        "des-supply",
        "numpy",
        "scipy",
        "simpy",
        "networkx",
        "pyomo",
        "highspy",
        "gymnasium",
        "torch",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def parse_policy_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``["level=20"]`` -> ``{"level": 20.0}``; ``["level=a:1,b:2"]`` -> ``{"level": {"a": 1.0, "b": 2.0}}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise CliError(
                f"policy parameter {pair!r} must look like key=value or key=node:value,node:value"
            )
        try:
            if ":" in text:
                out[key] = {
                    n.strip(): float(v)
                    for n, v in (item.split(":", 1) for item in text.split(",") if item.strip())
                }
            else:
                out[key] = float(text)
        except ValueError:
            raise CliError(f"policy parameter {pair!r}: values must be numbers") from None
        values = out[key].values() if isinstance(out[key], dict) else [out[key]]
        if not all(math.isfinite(v) for v in values):
            raise CliError(f"policy parameter {pair!r}: values must be finite numbers")
        if any(abs(v) > MAX_MAGNITUDE for v in values):
            raise CliError(
                f"policy parameter {pair!r}: values must be at most "
                f"{MAX_MAGNITUDE:g} in magnitude (the engine's largest quantity)"
            )
        if isinstance(out[key], dict) and (not out[key] or "" in out[key]):
            raise CliError(f"policy parameter {pair!r}: every value needs a node name (node:value)")
    return out


def build_policy(name: str, problem: Problem, pairs: Sequence[str]) -> Any:
    """The registered policy *name* for *problem* with ``--policy-param`` *pairs*."""
    import optimization.policies  # noqa: F401  (registers the solved policies: optimal, best-...)

    try:
        return make_policy(name, problem, parse_policy_params(pairs))
    except PolicyError as exc:
        raise CliError(str(exc)) from None


def print_convention_note(problem: Problem, policy_name: str) -> None:
    """The one-line note of :func:`~des_supply.problem.convention_note`, on stderr (so --json
    stays one document), printed once the run has succeeded (so an error stays one line)."""
    note = convention_note(problem, policy_name)
    if note:
        print(note, file=sys.stderr)


def parse_review(text: str) -> str | float:
    """``--review``: ``demand``, ``arrival``, ``event`` or an interval R > 0 [time units]."""
    from des_supply.continuous import REVIEW_TRIGGERS

    if text in REVIEW_TRIGGERS:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise CliError(
            f"--review {text!r} must be {', '.join(REVIEW_TRIGGERS)} or a review interval "
            "R > 0 [time units]"
        )
    return value


def review_text(review: str | float) -> str:
    """A review rule for a headline: "review at demand", "review every 2 time units"."""
    if isinstance(review, str):
        return f"review at {review}"
    return f"review every {review:g} time units"


def time_options(problem: Problem, args: argparse.Namespace) -> tuple[float | None, Any]:
    """``(horizon, review)`` of a continuous-time problem from ``--horizon``/``--review``
    (``--periods`` refused in one line), ``(None, None)`` for a periodic one (``--horizon``
    and ``--review`` refused)."""
    horizon_arg, review_arg = getattr(args, "horizon", None), getattr(args, "review", None)
    if problem.network.time != "continuous":
        for option, given in (("--horizon", horizon_arg), ("--review", review_arg)):
            if given is not None:
                raise CliError(
                    f"{option} is for continuous-time problems; {problem.name!r} is periodic "
                    "(give its length with --periods N)"
                )
        return None, None
    if getattr(args, "periods", None) is not None:
        raise CliError(
            f"{problem.name!r} is in continuous time: give its length with --horizon T "
            "(time units), not --periods"
        )
    horizon = float(problem.periods) if horizon_arg is None else float(horizon_arg)
    if not (math.isfinite(horizon) and horizon > 0):
        raise CliError(f"--horizon(={horizon_arg}) must be a number > 0 [time units]")
    return horizon, parse_review(review_arg) if review_arg is not None else "demand"


def load_problem(target: str, params: Sequence[str] = ()) -> Problem:
    """A registered scenario (with ``--param`` values) or a network file, as a Problem."""
    if is_network_file(target) or (target not in sc.names() and Path(target).is_file()):
        if params:
            raise CliError("--param applies to named scenarios, not to network files")
        # a NetworkError names the file and the fault; the problem's own checks do not
        with user_errors(target, ValueError, TypeError), user_errors("", NetworkError):
            return Problem.from_json(target)
    try:
        return sc.make(target, **sc.parse_params(target, params))
    except (sc.ScenarioError, NetworkError) as exc:
        raise CliError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # the builder's check: name the values given
        given = f" with {', '.join(params)}" if params else ""
        raise CliError(f"scenario {target!r}{given}: {exc}") from None


def make_executor_of(args: argparse.Namespace) -> Executor:
    """The executor of ``--backend/--workers/--address`` (and the older ``--processes``)."""
    with user_errors("execution options", ValueError, ImportError):
        return executor_from_args(args)


def cmd_scenarios(args: argparse.Namespace) -> None:
    specs = [sc.get(n) for n in sc.names()]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "summary": s.summary,
                        "parameters": s.parameters,
                        "periods": s.periods,
                        "warmup": s.warmup,
                    }
                    for s in specs
                ],
                indent=2,
            )
        )
        return
    width = max(len(s.name) for s in specs)
    for s in specs:
        print(f"{s.name:<{width}}  {s.summary}")
        params = ", ".join(f"{k}={v}" for k, v in s.parameters.items())
        print(f"{'':<{width}}  parameters: {params}")


def cmd_policies(args: argparse.Namespace) -> None:
    """The policy registry: every name simulate/evaluate take (only those that apply to
    SCENARIO when one is given)."""
    import optimization.policies  # noqa: F401  (registers the solved policies)
    from des_supply.policy_registry import policy_entry, policy_names

    problem = load_problem(args.scenario, args.param) if args.scenario else None
    entries = [policy_entry(n) for n in policy_names(problem)]
    if args.json:
        print(json.dumps([e.describe() for e in entries], indent=2, default=str))
        return
    width = max(len(e.usage()) for e in entries)
    for e in entries:
        print(f"{e.usage():<{width}}  {e.summary}")


def cmd_simulate(args: argparse.Namespace) -> None:
    from des_supply.evaluate import simulate

    if args.plot:
        _check_plot_target(args.plot)
    if args.processes < 0:
        raise CliError(f"--processes(={args.processes}) must be >= 0 (0: all CPUs)")
    problem = load_problem(args.scenario, args.param)
    network, params = problem.network, problem.params
    continuous = network.time == "continuous"
    horizon, review = time_options(problem, args)  # (None, None) for a periodic problem
    policy = build_policy(args.policy, problem, args.policy_param)
    periods = (
        math.ceil(horizon)
        if horizon is not None
        else args.periods
        if args.periods is not None
        else problem.periods
    )
    warmup = args.warmup if args.warmup is not None else min(problem.warmup, periods // 10)
    for name, value, low in (
        ("periods", periods, 1),
        ("replications", args.replications, 1),
        ("warmup", warmup, 0),
        ("seed", args.seed, 0),
    ):
        if value < low:
            raise CliError(f"--{name}(={value}) must be >= {low}")
    if horizon is not None and warmup >= horizon:
        raise CliError(f"--warmup(={warmup}) must be smaller than --horizon(={horizon:g})")
    if warmup >= periods:
        raise CliError(f"--warmup(={warmup}) must be smaller than --periods(={periods})")
    if args.keep_ledger:
        _check_output_target(args.keep_ledger, "--keep-ledger")
    keep = bool(args.plot or args.keep_ledger)  # else running summaries only
    executor = make_executor_of(args)
    check_ledger_memory(
        problem,
        periods,
        args.replications,  # kept ledgers or summaries: all of them to the end
        "simulate",
        full=keep,
    )
    run: dict[str, Any] = {
        "replications": args.replications,
        "seed": args.seed,
        "warmup": warmup,
        "keep_ledgers": keep,
    }
    with executor, user_errors("simulation failed", ValueError, KeyError, OverflowError):
        if horizon is not None:  # continuous time: horizon and warm-up in time units
            from des_supply.continuous import simulate_continuous

            res: Any = simulate_continuous(
                problem, policy, horizon=horizon, review=review or "demand", **run
            )
        else:
            res = simulate(
                problem,
                policy,
                periods=periods,
                executor=executor,
                progress=show_progress(args),
                **run,
            )
    print_convention_note(problem, args.policy)
    if args.keep_ledger:
        _write_ledgers_csv(res.ledgers, args.keep_ledger)
    if args.plot:
        pairs = ", ".join(args.policy_param)
        title = (
            f"{problem.name}{f' ({_short(params)})' if params else ''}: {args.policy}"
            f"{f' ({pairs})' if pairs else ''}, replication 1 of {args.replications}, "
            f"seed {args.seed}"
        )
        _plot(res.ledgers[0], network, args.plot, title, warmup)
    out = {
        "scenario": args.scenario,
        "params": params,
        "problem": problem.describe(),
        "policy": args.policy,
        "policy_params": parse_policy_params(args.policy_param),
        **({"horizon": horizon, "review": review} if continuous else {"periods": periods}),
        "warmup": warmup,
        "replications": args.replications,
        "seed": args.seed,
        **{
            k: v
            for k, v in res.to_dict().items()
            if k not in ("periods", "horizon", "warmup", "replications", "seed")
        },
        "versions": versions(),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    lo, hi = res.ci95
    span = (
        f"horizon {horizon:g} time units, {review_text(review)}"
        if continuous
        else f"{periods} periods"
    )
    print(
        f"{problem.name} under {args.policy} {args.policy_param or ''}: {span} "
        f"(warm-up {warmup}) x {args.replications} replications, seed {args.seed}"
    )
    unit = "unit time" if network.time == "continuous" else "period"
    print(f"mean {res.objective} per {unit}: {res.mean:.4f}   95% CI [{lo:.4f}, {hi:.4f}]")
    if res.fill_rate is not None:
        csl = getattr(res, "cycle_service_level", None)  # periods only
        print(
            f"fill rate {res.fill_rate:.4f}"
            + (f"   cycle service level {csl:.4f}" if csl is not None else "")
        )
    header = f"{'node':<14}{'on hand':>10}{'backlog':>10}{'lost':>9}{'ordered':>10}{'cost':>10}{'fill':>8}"
    print(header)
    for name, s in res.nodes.items():
        fill = f"{s.fill_rate:.3f}" if s.fill_rate is not None else "-"
        print(
            f"{name:<14}{s.on_hand:>10.3f}{s.backlog:>10.3f}{s.lost:>9.3f}{s.ordered:>10.3f}"
            f"{s.cost:>10.3f}{fill:>8}"
        )


def cmd_optimize(args: argparse.Namespace) -> None:
    from optimization.optimize import OptimizeError, optimize, verify

    for name, value, low in (
        ("replications", args.replications, 1),
        ("seed", args.seed, 0),
        ("processes", args.processes, 0),
    ):
        if value < low:
            raise CliError(f"--{name}(={value}) must be >= {low}")
    problem = load_problem(args.scenario, args.param)
    # --verify's run length: --periods on a periodic problem, --horizon (time units) on a
    # continuous one (time_options refuses the other); both count the warm-up
    length, option = args.periods, "--periods"
    if problem.network.time == "continuous" or args.horizon is not None:
        time_options(problem, args)  # refuses --periods here, or --horizon on a periodic one
        length, option = (None if args.horizon is None else math.ceil(args.horizon)), "--horizon"
    if length is None:
        length = VERIFY_PERIODS
    if length < 2:
        raise CliError(f"{option}(={length}) must be >= 2")
    if args.verify and length <= VERIFY_WARMUP:
        raise CliError(f"{option}(={length}) must be > {VERIFY_WARMUP} with --verify (its warm-up)")
    executor = make_executor_of(args)
    if args.verify:
        check_ledger_memory(problem, length, args.replications, "optimize --verify", full=False)
    # OptimizeError, SizeLimitError and the DPs' refusals are ValueErrors; a DP that does not
    # converge, a missing solver and a SolverError (naming the termination) are RuntimeErrors
    with user_errors(
        f"optimize {problem.name}",
        OptimizeError,
        ValueError,
        RuntimeError,
        ArithmeticError,
    ):
        res = optimize(problem, progress=show_progress(args))
    out = {**res.to_dict(), "versions": versions()}
    checks = {}
    if args.verify:
        with executor, user_errors(f"optimize --verify {problem.name}", ValueError, KeyError):
            rows = verify(
                res,
                periods=length,
                replications=args.replications,
                seed=args.seed,
                executor=executor,
                warmup=VERIFY_WARMUP,
            )
        checks = {r["name"]: r for r in rows}
        out["verification"] = {
            option.lstrip("-"): length,
            "replications": args.replications,
            "seed": args.seed,
            "policies": rows,
        }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return
    best = res.optimal
    unit = "unit time" if problem.network.time == "continuous" else "period"
    # a bound is not an optimum: say which side of every policy's value it lies on; nor is the
    # best of searched heuristics when no exact method applied
    if best.policy is not None and "exact_method_skipped" not in res.details:
        what = f"optimal {res.objective}"
    elif best.policy is not None:
        what = f"best known {res.objective}"
    else:
        what = f"{'upper' if res.objective == 'profit' else 'lower'} bound on {res.objective}"
    print(
        f"{problem.name} {problem.params or ''} ({problem.kind}): {what} "
        f"per {unit} {best.value:.4f} ({best.method})"
    )
    if "exact_method_skipped" in res.details:
        print(f"no exact method: {res.details['exact_method_skipped']}")
    for key, value in _solver_status(res.details).items():
        print(f"solver {key}: {value}")
    sign = -1.0 if res.objective == "profit" else 1.0  # gap: how much worse than the reference
    # the reference: the optimum when it is a policy, else (a bound) the best runnable policy
    runnable = [b for b in [best, *res.policies] if b.policy is not None]
    ref = (
        best
        if best.policy is not None or not runnable
        else min(runnable, key=lambda b: sign * b.value)
    )
    if ref is not best:
        print(f"gaps are to {ref.name}, the best runnable policy ({best.name} is a bound)")
    on_paths = [b.name for b in res.policies if b.periods is not None]
    if on_paths and "replications" in res.details:
        print(
            f"values of {', '.join(on_paths)}: mean {res.objective} per {unit} on the same "
            f"{res.details['replications']} sampled paths of {res.details['periods']} periods "
            "from the start state, start-up included (long-run values: des-supply simulate)"
        )
    head = f"{'policy':<26}{'value':>10}{'gap':>9}  parameters"
    if checks:
        head += "  | simulated mean [95% CI]"
    print(head)
    # the best heuristic standing in for the optimum is one of the policies: listed once
    shown = [best, *(b for b in res.policies if (b.name, b.value) != (best.name, best.value))]
    for b in shown:
        gap = 100 * sign * (b.value - ref.value) / abs(ref.value) + 0.0 if ref.value else 0.0
        gap_text = f"{gap:>8.2f}%" if b.policy is not None or b is ref else f"{'-':>9}"
        line = f"{b.name:<26}{b.value:>10.4f}{gap_text}  {_short(b.params)}"
        if b.name in checks:
            c = checks[b.name]
            line += f"  | {c['simulated']:.4f} [{c['ci95'][0]:.4f}, {c['ci95'][1]:.4f}]"
        print(line)


def _solver_status(details: dict[str, Any]) -> dict[str, Any]:
    """The entries of an optimizer's details that report a solver's termination or status
    (what ``--json`` carries, shown in the text output too)."""
    return {
        k: (", ".join(map(str, v)) if isinstance(v, list) else v)
        for k, v in details.items()
        if "termination" in k or "status" in k
    }


def _config_from_run(data: dict[str, Any]) -> Any:
    """The PPOConfig a run.json recorded (lists back to tuples)."""
    from rl.ppo import PPOConfig

    recorded: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return PPOConfig(**recorded)


def _problem_of_run(run: dict[str, Any], where: Path) -> Problem:
    from .presets import problem_from_record

    try:  # runs written before problems recorded "scenario" and "params" at the top level
        return problem_from_record(run.get("problem", run))
    except (ValueError, KeyError, TypeError, NetworkError, sc.ScenarioError) as exc:
        raise CliError(f"{where}/run.json: cannot rebuild its problem: {exc}") from None


def cmd_train(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from . import offline

    if args.algo == "dt" or (args.resume and offline.is_dt_run(args.resume)):
        if args.engine is not None:
            raise CliError("--engine is PPO's rollout engine; a Decision Transformer has none")
        return offline.cmd_train_dt(args)

    from rl.ppo import PPOConfig, train
    from rl.training import CheckpointError, load_checkpoint

    from .presets import (
        check_steps,
        make_thunk,
        preset,
        problem_record,
        selection_thunk,
        with_steps,
    )

    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps(={args.steps}) must be >= 1")
    if args.resume:
        conflicts = [
            opt
            for opt, given in (
                ("SCENARIO", args.scenario),
                ("--param", args.param),
                ("--out", args.out),
                ("--seed", args.seed is not None),
                ("--overwrite", args.overwrite),
                ("--engine", args.engine is not None),
            )
            if given
        ]
        if conflicts:
            raise CliError(
                f"--resume continues a run with its own problem, seed, engine and folder; "
                f"drop {', '.join(conflicts)}"
            )
        out = Path(args.resume)
        run = _read_run(out)
        problem = _problem_of_run(run, out)
        spec = run["spec"]
        with user_errors(f"{out}/run.json", TypeError, ValueError, KeyError):
            config = _config_from_run(run["config"])
        if args.steps is not None:
            with user_errors("--steps", ValueError):
                config = with_steps(config, args.steps)
        # the checkpoint is read (and must fit this configuration) before anything is written
        with user_errors(f"train --resume {out}", CheckpointError, ValueError):
            load_checkpoint(True, out, PPOConfig, config)
        _check_writable(out, "--resume")
    else:
        if args.scenario is None:
            raise CliError("train needs a SCENARIO or network file (or --resume DIR)")
        seed = 1 if args.seed is None else args.seed
        if seed < 0:
            raise CliError(f"--seed(={seed}) must be >= 0")
        problem = load_problem(args.scenario, args.param)
        if args.steps is not None:
            with user_errors("--steps", ValueError):
                check_steps(problem, args.steps)
        out = (
            Path(args.out)
            if args.out
            else _free_name(Path("runs") / f"{problem.name}__{args.algo}__{seed}")
        )
        _check_new_output(out, args.overwrite, "--out", resumable=True)
        with user_errors(f"train {problem.name}", ValueError):
            config, spec = preset(problem)
            config = with_steps(dataclasses.replace(config, seed=seed), args.steps)
            if args.engine is not None:
                config = dataclasses.replace(config, engine=args.engine)
    record = {
        "problem": problem_record(problem),
        "algo": args.algo,
        "spec": spec,
        "config": asdict(config),
        "versions": versions(),
    }
    with _output_dir(out, replace=args.overwrite and not args.resume, keep_on_interrupt=True):
        _write_atomic(out / "run.json", json.dumps(record, indent=2, default=str) + "\n")
        with user_errors(f"train {problem.name}", FloatingPointError, CheckpointError):
            result = train(
                make_thunk(problem, spec),
                config,
                out,
                resume=bool(args.resume),
                progress=show_progress(args),
                select_env=selection_thunk(problem, spec),
            )
    last = next(
        (
            h["episodic_return_mean"]
            for h in reversed(result.history)
            if h["episodic_return_mean"] == h["episodic_return_mean"]
        ),
        None,
    )
    summary = {
        "problem": problem.describe(),
        "algo": args.algo,
        "out": str(out),
        "steps": result.global_step,
        "seed": config.seed,
        "last_episodic_return": last,
    }
    if result.best is not None:  # PPOConfig.select_every: best.pt is what evaluate plays
        summary["selected"] = {**result.best, "iterations": config.num_iterations}
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        params = "".join(f" {k}={v}" for k, v in (problem.params or {}).items())
        steps = f"{result.global_step:,} steps"
        asked, rollout = config.total_steps, config.batch_size
        if 0 < asked - result.global_step < rollout:
            steps += f" ({asked:,} asked: whole rollouts of {rollout:,})"
        print(
            f"trained {args.algo} on {problem.name}{params} for {steps}; checkpoint, "
            f"progress.csv and learning_curve.png in {out}"
        )
        if result.best is not None:
            start = " (the starting policy: no trained one scored better)"
            print(
                f"kept the best policy judged on {result.best['episodes']} selection episodes: "
                f"iteration {result.best['iteration']} of {config.num_iterations}"
                f"{start if result.best['iteration'] == 0 else ''}, in best.pt "
                "(des-supply evaluate DIR plays it)"
            )


# -- output files and folders: checked before any work, removed when a command fails --------------
def _free_name(base: Path) -> Path:
    """*base*, or the first of ``base-2``, ``base-3``, ... that does not exist (default run
    names never replace an earlier run)."""
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of *path* that does not exist yet (what creating it adds)."""
    missing = None
    for p in [path, *path.parents]:
        if p.exists():
            return missing
        missing = p
    return missing


def _check_writable(path: Path, option: str) -> None:
    """*path* can be created or written: its nearest existing folder is a writable folder."""
    full = path.absolute()
    existing = next(p for p in [full, *full.parents] if p.exists())
    if existing == full and not full.is_dir():
        raise CliError(f"{option} {path}: is a file, not a folder")
    if not existing.is_dir():
        raise CliError(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CliError(f"{option} {path}: folder {existing} is not writable")


def _is_run_folder(path: Path) -> bool:
    return (
        (path / "run.json").is_file()
        or (path / "checkpoint.pt").is_file()
        or (path / "compare.json").is_file()
    )


def _check_new_output(path: Path, overwrite: bool, option: str, resumable: bool) -> None:
    """A folder a command will fill: new (or empty), or an earlier run with --overwrite."""
    _check_writable(path, option)
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            hint = "--resume DIR to continue it or " if resumable else ""
            raise CliError(
                f"{option} {path}: folder exists and is not empty; pass "
                f"{hint}--overwrite to replace it"
            )
        if not _is_run_folder(path):
            raise CliError(
                f"{option} {path}: --overwrite replaces only a run folder (with "
                "run.json, checkpoint.pt or compare.json); this one is something else"
            )


@contextmanager
def _output_dir(
    path: Path, *, replace: bool = False, keep_on_interrupt: bool = False
) -> Iterator[Path]:
    """Create *path* (emptied first if *replace*); if the command then fails, remove what it
    created, unless it is interrupted with a checkpoint to resume from (*keep_on_interrupt*)."""
    created = _first_missing(path)
    if replace and path.is_dir():
        shutil.rmtree(path)
        created = path
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException as exc:
        interrupted = command.caused_by_interrupt(exc)
        if interrupted and keep_on_interrupt and (path / "checkpoint.pt").is_file():
            raise KeyboardInterrupt(f"resume with: des-supply train --resume {path}") from None
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _write_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* through a temporary file (a crash leaves the old file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _check_plot_target(path: str) -> None:
    _check_output_target(path, "--plot", ".png")


def _check_output_target(path: str, option: str, suffix: str = ".csv") -> None:
    """Refuse an output file the command could not write, before any work is done."""
    if not path.lower().endswith(suffix):
        raise CliError(f"{option} {path}: the file name must end in {suffix}")
    target = Path(path)
    if not target.parent.is_dir():
        raise CliError(f"{option} {path}: folder {target.parent} does not exist")
    if target.is_dir():
        raise CliError(f"{option} {path}: is a folder")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise CliError(f"{option} {path}: folder {target.parent} is not writable")


def _write_ledgers_csv(ledgers: Any, path: str) -> None:
    """Every replication's ledger as one long CSV (replication, period, node, then the ledger
    fields of :mod:`des_supply.ledger`), written through a temporary file."""
    import csv
    import io

    from des_supply.ledger import FIELDS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["replication", "period", "node", *FIELDS])
    for k, ledger in enumerate(ledgers):
        columns = [ledger.data[f] for f in FIELDS]
        for t in range(ledger.periods):
            for i, node in enumerate(ledger.nodes):
                writer.writerow(
                    [k, ledger.start + t, node, *(repr(float(c[t, i])) for c in columns)]
                )
    _write_atomic(Path(path), buffer.getvalue())


def _read_run(path: Path) -> dict[str, Any]:
    try:
        run = json.loads((path / "run.json").read_text())
    except (OSError, ValueError, RecursionError):  # missing, not UTF-8, not JSON
        raise CliError(f"{path} is not a training run (no readable run.json)") from None
    if (
        not isinstance(run, dict)
        or not isinstance(run.get("spec"), dict)
        or not isinstance(run.get("config"), dict)
    ):
        raise CliError(f"{path}/run.json is not a run record (no spec and config)")
    return run


def cmd_evaluate(args: argparse.Namespace) -> None:
    from rl.evaluation import evaluate_agent, evaluate_policy

    from . import offline

    target = Path(args.target)
    if offline.is_dt_run(target):
        return offline.cmd_evaluate_dt(args)
    for name, value, low in (
        ("episodes", args.episodes, 1),
        ("periods", args.periods, 1),
        ("seed", args.seed, 0),
    ):
        if value is not None and value < low:
            raise CliError(f"--{name}(={value}) must be >= {low}")
    if target.is_dir():
        from rl.ppo import load_agent
        from rl.training import CheckpointError

        from .presets import make_thunk

        given = [
            opt
            for opt, v in (
                ("--scenario", args.scenario),
                ("--param", args.param),
                ("--policy-param", args.policy_param),
            )
            if v
        ]
        if given:
            raise CliError(
                f"{target} is a run folder, evaluated on its own problem; drop {', '.join(given)}"
            )
        run = _read_run(target)
        problem = _problem_of_run(run, target)
        length, key = evaluation_length(problem, args)
        trained = run.get("spec", {}).get("env", {}).get("epochs", "demand")
        reviewed = trained
        if args.review is not None:
            if parse_review(args.review) != parse_review(str(trained)):
                raise CliError(
                    f"{target} decides at its training env's epochs ({trained}); --review "
                    f"{args.review} is for policies by name (evaluate POLICY --scenario ...)"
                )
        with user_errors(f"evaluate {target}", CheckpointError):
            agent = load_agent(target)  # best.pt when the run kept its best policy
        check_ledger_memory(problem, math.ceil(length), 1, "evaluate")
        with user_errors(f"{target}/run.json", KeyError, TypeError):
            spec = {**run["spec"], "env": {**run["spec"]["env"], key: length}}
        with make_executor_of(args) as executor, user_errors(f"evaluate {target}", ValueError):
            ev = evaluate_agent(
                make_thunk(problem, spec),
                agent,
                seed=args.seed,
                episodes=args.episodes,
                name=str(target),
                progress=show_progress(args),
                executor=executor,
            )
    else:
        if args.scenario is None:
            raise CliError(
                f"{args.target!r} is not a run folder; to evaluate a policy by name "
                "give --scenario (a scenario or a network file)"
            )
        problem = load_problem(args.scenario, args.param)
        length, key = evaluation_length(problem, args)
        policy = build_policy(args.target, problem, args.policy_param)
        check_ledger_memory(problem, math.ceil(length), 1, "evaluate")
        _, review = time_options(problem, args)  # None on a periodic problem
        reviewed = review
        with (
            make_executor_of(args) as executor,
            user_errors(f"evaluate {args.target}", ValueError, KeyError),
        ):
            ev = evaluate_policy(
                problem,
                policy,
                periods=length,  # type: ignore[arg-type]  # a horizon in continuous time
                seed=args.seed,
                episodes=args.episodes,
                name=args.target,
                executor=executor,
                review=review,
            )
        print_convention_note(problem, args.target)
    unit = "time units" if key == "horizon" else "periods"
    out = {
        "target": args.target,
        "problem": problem.describe(),
        "episodes": args.episodes,
        key: length,
        **({"review": reviewed} if key == "horizon" else {}),
        "seed": args.seed,
        **{k: v for k, v in ev.to_dict().items() if k != "name"},
    }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        per = "unit time" if key == "horizon" else "period"
        print(
            f"{args.target} on {problem.name}: mean {problem.objective} per {per} "
            f"{ev.mean:.4f}  95% CI [{ev.ci95[0]:.4f}, {ev.ci95[1]:.4f}] over {args.episodes} "
            f"episodes of {length:g} {unit}"
            + (f", {review_text(reviewed)}" if key == "horizon" else "")
            + f" (seed {args.seed}: same draws as simulate --seed)"
        )


#: Episode length of ``evaluate`` [periods, or time units for continuous-time problems].
EVALUATE_PERIODS = 1_000
EVALUATE_HORIZON = 200.0


def evaluation_length(problem: Problem, args: argparse.Namespace) -> tuple[float, str]:
    """``(length, key)`` of evaluate's episodes: ``--horizon`` (time units; key "horizon")
    for a continuous-time problem, ``--periods`` (key "periods") for a periodic one."""
    horizon, _ = time_options(problem, args)
    if horizon is None:
        return (EVALUATE_PERIODS if args.periods is None else args.periods), "periods"
    return (EVALUATE_HORIZON if args.horizon is None else horizon), "horizon"


def _compare_recommendation(args: argparse.Namespace, problem: Problem) -> None:
    """``compare`` on a recommendation problem: the seed paper's Figure 2 study."""
    from .recommendation_study import StudySettings, run_figure2

    if args.engine is not None:
        raise CliError(
            "--engine is the single-agent PPO's rollout engine; the recommendation study "
            "trains its agents on the recommendation envs"
        )

    changes: dict[str, Any] = {"seed": args.seed}
    for key, value in (
        ("steps", args.steps),
        ("episodes", args.episodes),
        ("periods", args.periods),
    ):
        if value is not None:
            changes[key] = value
    with user_errors("compare", ValueError):
        settings = dataclasses.replace(StudySettings(), **changes)
    out = Path(args.out) if args.out else _free_name(Path(f"runs/compare-{problem.name}"))
    _check_new_output(out, args.overwrite, "--out", resumable=False)
    with (
        _output_dir(out, replace=args.overwrite),
        user_errors(f"compare {problem.name}", ValueError),
    ):
        results = run_figure2(problem, settings, out, progress=show_progress(args))
    if args.json:
        print(
            json.dumps(
                {"runs": [r.to_dict() for r in results], "versions": versions()},
                indent=2,
                default=str,
            )
        )
        return
    for res in results:
        print(f"\n## {problem.name}, {res.shortage}\n")
        print(res.table())
    print(f"\nKDEs of episode profit in {out}/figure2.png, tables in {out}/figure2.md")


def cmd_compare(args: argparse.Namespace) -> None:
    from .compare import DEFAULT_HORIZON, DEFAULT_PERIODS, compare, figure
    from .presets import check_steps

    targets = list(dict.fromkeys(args.scenario))
    if len(targets) > 1 and args.param:
        raise CliError(
            "--param applies to one scenario; compare one at a time to change parameters"
        )
    for key, value, low in (
        ("steps", args.steps, 1),
        ("episodes", args.episodes, 1),
        ("periods", args.periods, 1),
        ("seed", args.seed, 0),
        ("processes", args.processes, 0),
    ):
        if value is not None and value < low:
            raise CliError(f"--{key}(={value}) must be >= {low}")
    if args.out:
        _check_new_output(Path(args.out), args.overwrite, "--out", resumable=False)
    problems = [load_problem(t, args.param) for t in targets]
    horizons = {p.name: time_options(p, args)[0] for p in problems}
    if len({p.network.time for p in problems}) > 1:
        raise CliError("compare problems in continuous and in periodic time separately")
    recommendation = [p for p in problems if p.kind.market == "recommendation"]
    if recommendation:
        if len(problems) > 1:
            raise CliError(
                f"compare {recommendation[0].name} on its own (it runs the Figure 2 study)"
            )
        return _compare_recommendation(args, problems[0])
    if args.steps is not None:
        for p in problems:  # a budget PPO cannot run with is refused before anything runs
            with user_errors("--steps", ValueError):
                check_steps(p, args.steps)
    episodes = 20 if args.episodes is None else args.episodes
    executor = make_executor_of(args)
    length = {
        p.name: (
            (args.horizon if args.horizon is not None else min(DEFAULT_HORIZON, p.periods))
            if horizons[p.name] is not None
            else args.periods or min(DEFAULT_PERIODS, p.periods)
        )
        for p in problems
    }
    for p in problems:
        check_ledger_memory(
            p, math.ceil(length[p.name]), min(executor.workers, episodes), "compare"
        )
    names = [p.name for p in problems]
    out = Path(args.out) if args.out else _free_name(Path(f"runs/compare-{'+'.join(names)}"))
    _check_new_output(out, args.overwrite, "--out", resumable=False)
    results = []
    with executor, _output_dir(out, replace=args.overwrite):
        for problem in problems:
            with user_errors(
                f"compare {problem.name}", ValueError, FloatingPointError, FileNotFoundError
            ):
                results.append(
                    compare(
                        problem,
                        steps=args.steps,
                        seed=args.seed,
                        episodes=episodes,
                        periods=length[problem.name],
                        out_dir=out if len(problems) == 1 else out / problem.name,
                        progress=show_progress(args),
                        executor=executor,
                        dt_data=args.dt_data,
                        engine=args.engine,
                    )
                )
        if len(results) > 1:
            figure(results, out)
    if args.json:
        data = [r.to_dict() for r in results]
        print(
            json.dumps(
                {**(data[0] if len(data) == 1 else {"runs": data}), "versions": versions()},
                indent=2,
                default=str,
            )
        )
        return
    for res in results:
        if len(results) > 1:
            print(f"\n## {res.name}\n")
        print(res.table())
    if len(results) == 1:
        print(f"\ntable, JSON and plot in {out}/ (compare.md, compare.json, compare.png)")
    else:
        print(
            f"\none folder per problem in {out}/; all of them in {out}/figure.png and "
            f"{out}/figure.md"
        )


def _short(params: Mapping[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, dict):
            return ",".join(f"{k}:{fmt(x)}" for k, x in v.items())
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    return " ".join(f"{k}={fmt(v)}" for k, v in params.items()) or "-"


def _plot(ledger: Any, network: Network, path: str, title: str, warmup: int) -> None:
    """Inventory and backlog paths of the stocking nodes: the warm-up (shaded, left out of
    the statistics) and the first 200 periods after it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check_plot_target(path)  # checked before the simulation too; the folder may have gone
    target = Path(path)
    n = min(ledger.periods, warmup + 200)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if warmup:
        ax.axvspan(0, min(warmup, n), color="0.9", label=f"warm-up ({warmup} periods, not counted)")
    for node in network.stock_nodes:
        (line,) = ax.step(
            range(n),
            ledger.column("on_hand", node.name)[:n],
            where="post",
            label=f"{node.name} on hand",
        )
        backlog = ledger.column("backlog", node.name)[:n]
        if backlog.any():
            ax.step(
                range(n),
                -backlog,
                where="post",
                ls="--",
                color=line.get_color(),
                label=f"{node.name} backlog (negative)",
            )
    ax.axhline(0, color="black", lw=0.5)
    ax.set(xlabel="period", ylabel="units (on hand; backlog below 0)", title=title)
    ax.set_xlim(0, n)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=target.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


EPILOG = """\
errors: a mistake in the input ends the command with one line on stderr and status 2,
before any output file is written; Ctrl-C ends it with one line (interrupted) and status
130 (an interrupted train keeps its last checkpoint: continue with train --resume DIR).

memory: simulate and optimize --verify keep running summaries (about 8 bytes per period
and replication); a kept ledger (simulate --plot/--keep-ledger, evaluate, compare) holds
every period of every node (about 390 bytes per node-period per replication); DPs and
MIPs estimate their size before building.  Anything over the limit
is refused with the estimate and the parameter to lower; the limit is 4 GiB unless the
environment sets DES_SUPPLY_MEMORY_LIMIT (e.g. DES_SUPPLY_MEMORY_LIMIT=16GiB)."""


def build_parser() -> argparse.ArgumentParser:
    from .offline import add_collect_command, add_dt_train_arguments, add_merge_command
    from .sweep import add_sweep_command

    parser = _Parser(
        prog="des-supply",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"des-supply {des_supply.__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scenarios", help="list the registered scenarios")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("policies", help="list the registered policies and their parameters")
    p.add_argument(
        "scenario", nargs="?", help="only the policies that apply to this scenario or network file"
    )
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_policies)
    p = sub.add_parser("simulate", help="simulate a scenario or network file under a policy")
    p.add_argument("scenario", help="scenario name or path to a network .json file")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--policy", required=True, help="a registered policy (des-supply policies)")
    p.add_argument("--policy-param", action="append", default=[], metavar="K=V")
    p.add_argument("--periods", type=int, default=None, help="periods (periodic problems)")
    p.add_argument(
        "--horizon",
        type=float,
        default=None,
        metavar="T",
        help="length of a run in time units (continuous-time problems)",
    )
    p.add_argument(
        "--review",
        default=None,
        metavar="demand|arrival|event|R",
        help="continuous-time problems: review at each demand (default), each receipt, both, "
        "or every R time units",
    )
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--replications", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--processes", type=int, default=1, help="worker processes (0: all CPUs)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="FILE.png")
    p.add_argument(
        "--keep-ledger",
        metavar="FILE.csv",
        help="write every replication's full ledger (replication, period, node, fields) as CSV; "
        "without it only running summaries are kept, so memory does not grow with the horizon",
    )
    add_backend_arguments(p)
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("optimize", help="the optimum (or bound) and the best heuristics")
    p.add_argument("scenario")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument(
        "--verify",
        action="store_true",
        help="simulate every returned policy and show its mean and 95%% CI",
    )
    p.add_argument(
        "--periods",
        type=int,
        default=None,
        help=f"periods per replication (--verify; default {VERIFY_PERIODS:,})",
    )
    p.add_argument(
        "--horizon",
        type=float,
        default=None,
        metavar="T",
        help=f"time units per replication (--verify on continuous-time problems; default "
        f"{VERIFY_PERIODS:,})",
    )
    p.add_argument("--replications", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--json", action="store_true")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("train", help="train an RL agent on a scenario")
    p.add_argument("scenario", nargs="?")
    p.add_argument(
        "--algo",
        choices=["ppo", "dt"],
        default="ppo",
        help="ppo (online) or dt (a Decision Transformer on a dataset: --data)",
    )
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: preset)")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default runs/SCENARIO__ppo__SEED, "
        "or the first free runs/SCENARIO__ppo__SEED-2, -3, ...)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue a run from its checkpoint, with its recorded settings (and "
        "its steps target unless --steps is given)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing run folder (otherwise it is refused)",
    )
    p.add_argument("--seed", type=int, default=None, help="training seed (default 1)")
    p.add_argument(
        "--engine",
        choices=PPO_ENGINES,
        default=None,
        help="PPO's rollout engine (PPOConfig.engine; default: the preset's, event): event, "
        "a vector of event-engine envs; batch, the envs advance in lockstep on the batch "
        "engine (same episodes and draws, several times faster; a problem or wrapper it "
        "cannot run falls back to event with one line saying why); auto, batch where it "
        "applies",
    )
    p.add_argument("--json", action="store_true")
    add_dt_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run or a named policy")
    p.add_argument("target", help="a training run folder, or a policy name")
    p.add_argument("--scenario", default=None, help="scenario (for a policy name)")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--policy-param", action="append", default=[], metavar="K=V")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--periods", type=int, default=None, help="periods per episode (default 1000)")
    p.add_argument(
        "--horizon",
        type=float,
        default=None,
        metavar="T",
        help="time units per episode, continuous-time problems (default 200)",
    )
    p.add_argument(
        "--review",
        default=None,
        metavar="demand|arrival|event|R",
        help="continuous-time problems, a policy by name: review at each demand (default), "
        "each receipt, both, or every R time units (a trained agent decides at its "
        "training env's epochs)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="optimum, heuristics and PPO: one table, one plot")
    p.add_argument(
        "scenario",
        nargs="+",
        help="one or more scenarios (e.g. pricing-a pricing-b "
        "pricing-c pricing-d: the seed paper's Figure 1)",
    )
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--steps", type=int, default=None, help="PPO training steps (default: preset)")
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="evaluation episodes (default 20; recommendation-*: 30)",
    )
    p.add_argument(
        "--periods",
        type=int,
        default=None,
        help="periods per evaluation episode (default 1000; recommendation-*: 128)",
    )
    p.add_argument(
        "--horizon",
        type=float,
        default=None,
        metavar="T",
        help="time units per evaluation episode, continuous-time problems (default 200)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument(
        "--engine",
        choices=PPO_ENGINES,
        default=None,
        help="PPO's rollout engine (as train --engine; default: the preset's, event)",
    )
    p.add_argument(
        "--dt-data",
        default=None,
        metavar="DIR",
        help="a dataset of the problem (des-supply collect): adds a Decision Transformer "
        "trained on it (target chosen on validation seeds)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default runs/compare-SCENARIO, "
        "or the first free runs/compare-SCENARIO-2, -3, ...)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output folder (otherwise it is refused)",
    )
    p.add_argument("--json", action="store_true")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_compare)
    add_sweep_command(sub)
    add_collect_command(sub)
    add_merge_command(sub)
    return parser


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal; on a log or pipe, lines (:func:`_progress_lines`)."""
    return not getattr(args, "json", False) and (
        sys.stderr.isatty() or isinstance(sys.stderr, command.ProgressLines)
    )


@contextmanager
def _progress_lines(enabled: bool) -> Iterator[None]:
    """While a command runs from the des-supply process (or with
    ``DES_SUPPLY_PROGRESS_INTERVAL`` set) and stderr is not a terminal, its progress bars
    become a line every few seconds (:class:`scenarios.command.ProgressLines`)."""
    if not enabled or sys.stderr.isatty():
        yield
        return
    with user_errors("", ValueError):
        interval = command.progress_interval()
    stderr = sys.stderr
    sys.stderr = command.ProgressLines(stderr, interval)
    try:
        yield
    finally:
        sys.stderr = stderr


def _interrupted(exc: BaseException, command_process: bool) -> int:
    detail = " ".join(str(exc).split()) if isinstance(exc, KeyboardInterrupt) else ""
    line = f"{command.INTERRUPTED}{f' ({detail})' if detail else ''}"
    if command_process:  # the one line and status 130, whatever Python would do next
        command.exit_interrupted(line)
    print(line, file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: 0 on success, 2 with one line for a user error, 130 with one line
    (``interrupted``) on Ctrl-C; no Python traceback for either."""
    command_process = command.release()  # Ctrl-C is a KeyboardInterrupt again from here
    name = "des-supply"
    try:
        args = build_parser().parse_args(argv)
        name = args.command
        lines = command_process or "DES_SUPPLY_PROGRESS_INTERVAL" in os.environ
        with _progress_lines(lines and not getattr(args, "json", False)):
            args.func(args)
    except CliError as exc:
        print(f"des-supply: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(exc, command_process)
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
    except Exception as exc:  # Ctrl-C inside an import or a class body arrives wrapped
        if command.caused_by_interrupt(exc):
            return _interrupted(exc, command_process)
        hint = extras.missing_extra(exc)  # a command of an extra that is not installed
        if hint is None:
            raise
        print(f"des-supply: error: {name} {hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
