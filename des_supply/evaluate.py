"""Replications and KPIs: mean cost (or profit) per period with a 95% CI, service levels.

Replication k runs on ``SeedSequence(seed, spawn_key=(k,))``
(:func:`des_supply.rng.replication_seed`), so results do not depend on how replications are spread over processes: a
parallel run gives exactly the serial run's numbers.  Two policies evaluated
with the same seed see the same demand and lead-time draws (common random
numbers), so their difference can be judged with a paired CI
(:func:`paired_difference`).

Many replications of a periodic problem run on the batch engine
(:mod:`des_supply.batch`: all replications in lockstep on numpy, the event engine's
model and draws) when it runs the problem and the policy has a vectorised version;
otherwise on the event engine.  ``Results.engine`` says which ran and
``Results.engine_note`` why the batch engine did not.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from scipy import special
from tqdm.auto import tqdm

from . import batch as _batch
from .batch_policies import vectorise
from .executors import Executor, use_executor
from .ledger import Ledger, LedgerSummary
from .network import Network
from .policies import Policy
from .problem import Problem, as_problem
from .rng import replication_seed
from .sim import Market, Simulation, objective_of

__all__ = [
    "BATCH_MIN_REPLICATIONS",
    "ENGINES",
    "NodeSummary",
    "NonFiniteResultError",
    "ResultFrames",
    "Results",
    "batch_note",
    "confidence_interval",
    "paired_difference",
    "simulate",
]

BATCHES = 20  # batch means for a CI from a single replication
ENGINES = ("auto", "event", "batch")
#: Replications per lockstep batch: bounds its memory (the objective per period of every
#: replication is kept, 80 MB at 10,000 periods); more run batch after batch.
BATCH_CHUNK = 1024
#: Fewest replications for which ``engine="auto"`` takes the batch engine: below, the per-period
#: cost of numpy calls outweighs what lockstep saves (break-even 10-25 on small networks,
#: benchmarks/batch.py).
BATCH_MIN_REPLICATIONS = 16
log = logging.getLogger(__name__)


class NonFiniteResultError(ValueError):
    """A run whose cost or profit is not finite (an input that makes a cost overflow)."""


def confidence_interval(
    samples: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and two-sided Student-t CI ``(mean, lo, hi)``; a single sample has an infinite CI."""
    x = np.asarray(samples, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, -math.inf, math.inf
    # Student's t quantile: scipy.stats.t.ppf computes this very special.stdtrit; importing
    # scipy.stats for it would cost every PPO run ~0.5 s of start-up
    t = special.stdtrit(len(x) - 1, 0.5 + level / 2)
    half = float(t * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class NodeSummary:
    """Per-node averages per period after warm-up (fill rates only where there is demand)."""

    on_hand: float
    backlog: float
    lost: float
    ordered: float
    cost: float
    revenue: float
    fill_rate: float | None
    cycle_service_level: float | None


class ResultFrames(NamedTuple):
    """:meth:`Results.to_pandas`: tidy pandas DataFrames of one :class:`Results`."""

    nodes: Any  # one row per node: node, then the NodeSummary fields
    replications: Any  # one row per replication: replication, value (its mean per period)
    summary: Any  # one row: objective, mean, ci95_low, ci95_high, fill rate, ...


@dataclass(frozen=True)
class Results:
    """What :func:`simulate` measured.

    ``per_replication`` holds each replication's mean cost (or profit) per
    period after warm-up; ``mean`` and ``ci95`` summarise them (with one
    replication, the CI comes from ``BATCHES`` batch means of that run).
    """

    objective: str
    periods: int
    warmup: int
    replications: int
    seed: int | None
    per_replication: np.ndarray
    mean: float
    ci95: tuple[float, float]
    fill_rate: float | None
    cycle_service_level: float | None
    nodes: dict[str, NodeSummary]
    ledgers: list[Ledger] = field(default_factory=list, repr=False)
    engine: str = "event"  # which engine ran: "event" or "batch"
    engine_note: str = ""  # why the batch engine did not run (empty when it did)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "periods": self.periods,
            "warmup": self.warmup,
            "replications": self.replications,
            "seed": self.seed,
            "engine": self.engine,
            "engine_note": self.engine_note,
            "mean": self.mean,
            "ci95": list(self.ci95),
            "fill_rate": self.fill_rate,
            "cycle_service_level": self.cycle_service_level,
            "per_replication": self.per_replication.tolist(),
            "nodes": {n: asdict(s) for n, s in self.nodes.items()},
        }

    def to_pandas(self) -> ResultFrames:
        """The results as tidy DataFrames: per node (the :class:`NodeSummary` fields), per
        replication (its mean cost or profit per period after warm-up) and one summary row.
        Needs pandas (not a core dependency)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - exercised only without pandas
            raise ImportError("Results.to_pandas needs pandas: pip install pandas") from None
        nodes = pd.DataFrame(
            [{"node": name, **asdict(s)} for name, s in self.nodes.items()],
            columns=["node", *NodeSummary.__dataclass_fields__],
        )
        replications = pd.DataFrame(
            {
                "replication": np.arange(len(self.per_replication)),
                "value": np.asarray(self.per_replication, dtype=float),
            }
        )
        summary = pd.DataFrame(
            [
                {
                    "objective": self.objective,
                    "mean": self.mean,
                    "ci95_low": self.ci95[0],
                    "ci95_high": self.ci95[1],
                    "fill_rate": self.fill_rate,
                    "cycle_service_level": self.cycle_service_level,
                    "periods": self.periods,
                    "warmup": self.warmup,
                    "replications": self.replications,
                    "seed": self.seed,
                    "engine": self.engine,
                }
            ]
        )
        return ResultFrames(nodes, replications, summary)


def _summarise(ledger: Ledger | LedgerSummary, warmup: int) -> dict[str, Any]:
    """The numbers one replication contributes (arrays per node, after warm-up), from its full
    ledger or from the running summary kept during the run (the same numbers bit for bit); an
    overflow gives inf silently here: :func:`_check_finite` refuses the run with its cause."""
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(ledger, Ledger):
            ledger = LedgerSummary.of_ledger(ledger, warmup)
        return _summary_numbers(ledger)


def _summary_numbers(summary: LedgerSummary) -> dict[str, Any]:
    series = np.frombuffer(summary.series, dtype=float)
    n = summary.counted
    demand = summary.field_sum("demand")
    return {
        "value": float(series.mean()),
        "batches": [float(b.mean()) for b in np.array_split(series, BATCHES) if len(b)],
        **{k: summary.field_sum(k) / n for k in ("on_hand", "backlog", "lost", "ordered")},
        "cost": summary.node_cost / n,
        "revenue": summary.field_sum("revenue") / n,
        "demand": demand,
        "served": summary.field_sum("served"),
        "has_demand": demand > 0,
        "in_stock_periods": summary.in_stock,
        "periods": n,
    }


def _batch_summaries(run: _batch.BatchRun, with_batches: bool) -> list[dict[str, Any]]:
    """The numbers of :func:`_summarise`, replication by replication, from the running sums of a
    batch run (the same sums in the same order: equal to the event engine's)."""
    F = _batch.BATCH_FIELDS
    sums, n = run.sums, run.periods - run.warmup
    assert sums is not None and run.series is not None and run.node_cost is not None
    assert run.in_stock is not None
    out = []
    for r in range(sums.shape[1]):
        series = run.series[r]
        demand, served = sums[F.index("demand"), r], sums[F.index("served"), r]
        out.append(
            {
                "value": float(series.mean()),
                "batches": (
                    [float(b.mean()) for b in np.array_split(series, BATCHES) if len(b)]
                    if with_batches
                    else []
                ),
                **{
                    k: sums[F.index(k), r] / n
                    for k in ("on_hand", "backlog", "lost", "ordered", "revenue")
                },
                "cost": run.node_cost[r] / n,
                "demand": demand,
                "served": served,
                "has_demand": demand > 0,
                "in_stock_periods": run.in_stock[r],
                "periods": n,
            }
        )
    return out


def _replicate(
    network: Network,
    policy: Policy,
    periods: int,
    seed: int | None,
    k: int,
    warmup: int,
    market: Market | None,
    keep: bool,
    window: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], Ledger | None]:
    sim = Simulation(network, periods, replication_seed(seed, k), market)
    if keep:
        ledger = sim.run(policy)
        return _summarise(ledger, warmup), ledger
    summary = sim.run_summary(policy, warmup=warmup, window=window)
    return _summarise(summary, warmup), summary.window_ledger()


def _replicate_batch(
    network: Network,
    policy: Policy,
    periods: int,
    seed: int | None,
    ks: range,
    warmup: int,
    keep: bool,
    with_batches: bool,
    window: tuple[int, int] | None = None,
) -> list[tuple[dict[str, Any], Ledger | None]]:
    """Replications *ks* in one lockstep batch (with a *window*, all rows are recorded and
    cut to it afterwards)."""
    sim = _batch.BatchSimulation(network, periods, [replication_seed(seed, k) for k in ks])
    run = sim.run(policy, record=keep or window is not None, warmup=warmup)
    if keep:
        return [(_summarise(ledger, warmup), ledger) for ledger in run.ledgers]
    summaries = _batch_summaries(run, with_batches)
    if window is not None:
        return [(s, ledger.window(*window)) for s, ledger in zip(summaries, run.ledgers)]
    return [(s, None) for s in summaries]


def batch_note(problem: Problem | Network, policy: Policy) -> str:
    """Why :func:`simulate` cannot use the batch engine for *problem* and *policy* ('' if it
    can)."""
    problem = as_problem(problem)
    reason = _batch.unsupported(problem.network, problem.market)
    if reason:
        return f"batch engine not used: {reason}"
    if vectorise(policy, problem.network) is None:
        return f"batch engine not used: policy {type(policy).__name__} has no vectorised version"
    return ""


def _check_finite(summaries: list[dict[str, Any]], network: Network, objective: str) -> None:
    """Refuse a run whose cost or profit is not finite, naming the replication and the node."""
    for k, s in enumerate(summaries):
        if math.isfinite(s["value"]):
            continue
        names = [n.name for n in network.nodes]
        culprits = [
            f"node {names[i]!r}: cost per period {s['cost'][i]:g}, revenue "
            f"{s['revenue'][i]:g}, on hand {s['on_hand'][i]:g}, backlog {s['backlog'][i]:g}"
            for i in range(len(names))
            if not (math.isfinite(s["cost"][i]) and math.isfinite(s["revenue"][i]))
        ]
        cause = "; ".join(culprits) or "a cost overflowed in the sum over nodes"
        raise NonFiniteResultError(
            f"replication {k}: the {objective} per period is {s['value']:g}, not a finite number "
            f"({cause}); an input makes a cost overflow: check the magnitudes of demand, costs and "
            "initial stock"
        )


def simulate(
    problem: Problem | Network,
    policy: Policy,
    *,
    periods: int,
    replications: int = 1,
    seed: int | None = 0,
    warmup: int = 0,
    processes: int = 1,
    market: Market | None = None,
    progress: bool = False,
    keep_ledgers: bool = False,
    ledger_window: tuple[int, int] | None = None,
    engine: str = "auto",
    executor: Executor | None = None,
    review: str | float | None = None,
) -> Results:
    """Run *replications* independent replications and summarise them.

    Parameters
    ----------
    problem : Problem or Network
        What to simulate; a Network with *market* (or none) is a problem too.
    periods : int
        Periods per replication, warm-up included.
    warmup : int
        Leading periods dropped from every statistic.
    processes : int
        Worker processes (1: run here; 0 or None: one per CPU), when no *executor* is given.
    executor : Executor, optional
        Runs the replications (:mod:`des_supply.executors`: serial, a process pool, Ray) and
        stays open for the caller's next use; the numbers do not depend on it.
    progress : bool
        Show a progress bar over replications.
    engine : str
        ``"auto"`` (the batch engine for :data:`BATCH_MIN_REPLICATIONS` or more replications
        when it runs the problem and the policy, else the event engine), ``"event"`` or
        ``"batch"`` (the batch engine, falling back to the event engine with a warning
        naming what it does not run).
        Both engines give the same numbers (the batch engine's money may differ in the
        last bits: sums in another order).
    keep_ledgers : bool
        Keep every replication's full ledger in ``Results.ledgers`` (memory grows with
        *periods*: about 300 bytes per node and period).  By default a replication keeps
        running summaries only (:class:`~des_supply.ledger.LedgerSummary`: the same numbers,
        memory independent of the horizon but for 8 bytes a period).
    ledger_window : (start, stop), optional
        Keep the rows of periods start..stop-1 of each replication in ``Results.ledgers``
        (ledgers with ``start`` set), e.g. for plots of a long run; the numbers still come
        from the whole run after warm-up.

    review : str or float, optional
        Continuous-time problems only: when nodes review (``"demand"``, the default,
        ``"arrival"``, ``"event"`` or an interval R in time units; see
        :class:`~des_supply.continuous.ContinuousSimulation`).  A continuous-time problem's
        *periods* and *warmup* are its horizon and warm-up in time units, and the result is
        a :class:`~des_supply.continuous.ContinuousResults` (per unit time).

    Raises :class:`NonFiniteResultError` when a replication's cost or profit is not finite.
    """
    if replications < 1:
        raise ValueError(f"replications(={replications}) must be >= 1")
    if not 0 <= warmup < periods:
        raise ValueError(f"warmup(={warmup}) must be in [0, periods={periods})")
    if not (callable(getattr(policy, "act", None)) or callable(getattr(policy, "act_batch", None))):
        raise TypeError(f"policy must have an act(observation) method, got {policy!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine(={engine!r}) must be one of {', '.join(ENGINES)}")
    if ledger_window is not None:
        pair = tuple(ledger_window) if isinstance(ledger_window, (tuple, list)) else ()
        start, stop = pair if len(pair) == 2 else (None, None)
        if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop):
            raise ValueError(
                f"ledger_window(={ledger_window!r}) must be (start, stop): periods with "
                "0 <= start < stop"
            )
    problem = as_problem(problem, market)
    if problem.network.time == "continuous":  # time units: periods is the horizon
        if ledger_window is not None:
            raise ValueError(
                "ledger_window is for periodic problems: keep_ledgers=True keeps a "
                "continuous-time run's ledgers"
            )
        from .continuous import simulate_continuous

        return simulate_continuous(
            problem,
            policy,
            # a ContinuousResults, not the Results annotated (callers read it with getattr)
            horizon=periods,  # type: ignore[return-value]
            replications=replications,
            seed=seed,
            warmup=warmup,
            keep_ledgers=keep_ledgers,
            review="demand" if review is None else review,
        )
    if review is not None:
        raise ValueError(
            f"review(={review!r}) is for continuous-time problems; {problem.name!r} is "
            "periodic (its nodes review every review_period periods)"
        )
    network, market = problem.network, problem.new_market()
    workers = executor.workers if executor is not None else processes or os.cpu_count() or 1
    note = "" if engine == "event" else batch_note(problem, policy)
    use_batch = engine == "batch" or (engine == "auto" and replications >= BATCH_MIN_REPLICATIONS)
    if use_batch and note:
        (warnings.warn if engine == "batch" else log.info)(note + "; running the event engine")
        use_batch = False
    elif engine == "event":
        note = "event engine requested"
    elif not use_batch:
        note = (
            f"batch engine not used: {replications} replication(s), fewer than "
            f"{BATCH_MIN_REPLICATIONS}"
        )
    bar = tqdm(total=replications, desc="replications", disable=not progress, leave=False)
    outputs: list[tuple[dict[str, Any], Ledger | None]] = []
    if use_batch:
        step = max(1, min(BATCH_CHUNK, -(-replications // max(1, min(workers, replications)))))
        tasks: list[Any] = [
            range(k, min(k + step, replications)) for k in range(0, replications, step)
        ]
        run: Any = partial(
            _replicate_batch,
            network,
            policy,
            periods,
            seed,
            warmup=warmup,
            keep=keep_ledgers,
            with_batches=replications == 1,
            window=ledger_window,
        )
    else:
        tasks = list(range(replications))
        run = partial(
            _replicate,
            network,
            policy,
            periods,
            seed,
            warmup=warmup,
            market=market,
            keep=keep_ledgers,
            window=ledger_window,
        )
    with use_executor(executor, processes if len(tasks) > 1 else 1) as ex:
        for out in ex.map(
            run, tasks, on_result=lambda i, out: bar.update(len(out) if use_batch else 1)
        ):
            outputs += out if use_batch else [out]
    bar.close()
    summaries = [o[0] for o in outputs]
    _check_finite(summaries, network, objective_of(network, market))
    values = np.array([s["value"] for s in summaries])
    mean, lo, hi = confidence_interval(values if replications > 1 else summaries[0]["batches"])
    mean = float(values.mean())

    def avg(key: str) -> np.ndarray:
        return np.mean([s[key] for s in summaries], axis=0)

    demand = np.sum([s["demand"] for s in summaries], axis=0)
    served = np.sum([s["served"] for s in summaries], axis=0)
    in_stock = np.sum([s["in_stock_periods"] for s in summaries], axis=0)
    n_periods = sum(s["periods"] for s in summaries)
    has_demand = np.any([s["has_demand"] for s in summaries], axis=0)
    demand_nodes = [i for i, n in enumerate(network.nodes) if n.demand is not None or has_demand[i]]
    nodes = {}
    for i, n in enumerate(network.nodes):
        with_demand = i in demand_nodes
        nodes[n.name] = NodeSummary(
            on_hand=float(avg("on_hand")[i]),
            backlog=float(avg("backlog")[i]),
            lost=float(avg("lost")[i]),
            ordered=float(avg("ordered")[i]),
            cost=float(avg("cost")[i]),
            revenue=float(avg("revenue")[i]),
            fill_rate=float(served[i] / demand[i]) if with_demand and demand[i] > 0 else None,
            cycle_service_level=float(in_stock[i] / n_periods) if with_demand else None,
        )
    total_demand = demand[demand_nodes].sum() if demand_nodes else 0.0
    fill = float(served[demand_nodes].sum() / total_demand) if total_demand > 0 else None
    csl = (
        float(np.mean([nodes[network.nodes[i].name].cycle_service_level for i in demand_nodes]))
        if demand_nodes
        else None
    )
    return Results(
        objective=objective_of(network, market),
        periods=periods,
        warmup=warmup,
        replications=replications,
        seed=seed,
        per_replication=values,
        mean=mean,
        ci95=(lo, hi),
        fill_rate=fill,
        cycle_service_level=csl,
        nodes=nodes,
        ledgers=[o[1] for o in outputs if o[1] is not None],
        engine="batch" if use_batch else "event",
        engine_note="" if use_batch else note,
    )


def paired_difference(a: Results, b: Results) -> tuple[float, float, float]:
    """Mean of ``a - b`` over replications with its 95% CI; needs common random numbers."""
    if a.seed != b.seed or a.replications != b.replications or a.periods != b.periods:
        raise ValueError("paired differences need the same seed, replications and periods")
    return confidence_interval(a.per_replication - b.per_replication)
