"""Best base-stock levels of any problem by simulation with common random numbers.

Where no exact method exists (general networks), the reference heuristic is a
base-stock policy whose levels are searched by simulation: every candidate is
evaluated on the same seeds, so differences between candidates are not noise
from different demand paths.  The search is deliberately simple:

1. levels ``S_n = round(f * d_n * (L_n + R_n))`` for each stocking node n, with
   ``d_n`` the mean demand per period flowing through n, ``L_n`` its largest mean
   inbound lead time and ``R_n`` its review period, over a grid of factors f;
2. then, for networks of at most ``refine_nodes`` nodes, coordinate descent on each
   node's level in steps that halve from ``d_n``.

It returns the best levels found, not a proven optimum.

Candidates are simulated together on the batch engine (:mod:`des_supply.batch`): the
replications of every candidate of a step (all the factors of the grid; in the
descent, the two moves of the step and of every smaller step it may fall back to)
advance in one lockstep batch, each row with its own levels, when they make at
least ``BATCH_MIN_REPLICATIONS`` rows.  A value enters the search only when the
search asks for it, so ``evaluations`` counts what it asked, as before.  The values
are the ones :func:`des_supply.evaluate.simulate` gives for each candidate (same
seeds, same engine arithmetic), so the search takes the same path; a problem the
batch engine does not run is searched candidate by candidate with ``simulate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from des_supply.batch import BatchSimulation, unsupported
from des_supply.evaluate import BATCH_MIN_REPLICATIONS, simulate
from des_supply.executors import Executor, SerialExecutor, chunks
from des_supply.network import Network
from des_supply.policies import BaseStock, EchelonBaseStock
from des_supply.problem import Problem, as_problem
from des_supply.rng import replication_seed

__all__ = ["CoordinateResult", "SearchResult", "mean_flows", "search_base_stock", "search_integers"]


@dataclass(frozen=True)
class SearchResult:
    levels: dict[str, float]
    value: float  # mean cost (or profit) per period on the search seeds
    evaluations: int
    policy: Any


def mean_flows(network: Network) -> dict[str, float]:
    """Mean external demand per period that each node serves, directly or downstream."""
    flow = {n.name: (n.demand.mean if n.demand is not None else 0.0) for n in network.nodes}
    G = network.graph()
    import networkx as nx

    for name in reversed(list(nx.topological_sort(G))):
        for e in network.suppliers(name):
            node = network.node(name)
            share = e.share if node.supply_rule == "split" and e.share is not None else 1.0
            flow[e.source] += flow[name] * share * e.bom
    return flow


def search_base_stock(
    problem: Problem | Network,
    *,
    echelon: bool = False,
    periods: int = 2_000,
    warmup: int = 200,
    replications: int = 4,
    seed: int = 12345,
    factors: tuple[float, ...] = (0.6, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5),
    refine_nodes: int = 5,
    progress: bool = False,
    executor: Executor | None = None,
) -> SearchResult:
    """Search base-stock levels (installation, or echelon if *echelon*) by CRN simulation.

    *problem* is simulated with its market, if any; levels minimise the cost or maximise
    the profit (``problem.objective``), and ``value`` is in the same unit.  Candidates
    (and replications) run on *executor* (default serial); the result does not depend on it.
    """
    ex = executor or SerialExecutor()
    problem = as_problem(problem)
    network = problem.network
    flows = mean_flows(network)
    stock = [n for n in network.stock_nodes]
    cover = {}
    for n in stock:
        lead = max((e.lead_time.mean for e in network.suppliers(n.name)), default=0.0)
        if echelon:
            lead += _downstream_lead(network, n.name)
        cover[n.name] = flows[n.name] * (lead + n.review_period)
    cls = EchelonBaseStock if echelon else BaseStock
    cache: dict[tuple[float, ...], float] = {}
    ahead: dict[tuple[float, ...], float] = {}  # simulated with others in one batch, not asked yet
    batch = unsupported(network, problem.market) is None
    sign = 1.0 if problem.objective == "cost" else -1.0

    def key_of(levels: dict[str, float]) -> tuple[float, ...]:
        return tuple(levels[n.name] for n in stock)

    def prefetch(candidates: list[dict[str, float]], needed: int | None = None) -> None:
        """Simulate *candidates* ahead, together: in batches on the batch engine, else side by
        side on the executor (only the first *needed*: the others are speculative)."""
        todo = {
            key_of(c): c for c in candidates if key_of(c) not in cache and key_of(c) not in ahead
        }
        keys = list(todo)
        if batch and len(todo) * replications >= BATCH_MIN_REPLICATIONS:
            run = partial(
                _batch_values,
                network,
                echelon=echelon,
                periods=periods,
                warmup=warmup,
                replications=replications,
                seed=seed,
            )
            parts = ex.map(run, [keys[r.start : r.stop] for r in chunks(len(keys), ex.workers)])
            values = [v for part in parts for v in part]
        elif ex.workers > 1 and len(keys[:needed]) > 1:
            keys = keys[:needed]
            values = ex.map(
                partial(
                    _simulated,
                    problem,
                    cls,
                    periods=periods,
                    warmup=warmup,
                    replications=replications,
                    seed=seed,
                ),
                [todo[k] for k in keys],
            )
        else:
            return
        ahead.update(zip(keys, (sign * v for v in values), strict=True))

    def cost(levels: dict[str, float]) -> float:
        key = key_of(levels)
        if key not in cache:
            if key in ahead:
                cache[key] = ahead.pop(key)
            else:
                res = simulate(
                    problem,
                    cls(dict(levels)),
                    periods=periods,
                    warmup=warmup,
                    replications=replications,
                    seed=seed,
                    executor=ex,
                )
                cache[key] = res.mean if res.objective == "cost" else -res.mean
        return cache[key]

    grid = [{n: float(round(f * c)) for n, c in cover.items()} for f in factors]
    prefetch(grid)
    bar = tqdm(grid, desc="base-stock search", disable=not progress, leave=False)
    best_levels, best = {}, np.inf
    for levels in bar:
        value = cost(levels)
        if value < best:
            best_levels, best = levels, value
    if len(stock) <= refine_nodes:
        for n in stock:
            step = max(1.0, float(round(flows[n.name])))
            while step >= 1:
                improved = False
                # the moves this step and, if it fails, the smaller steps after it might try
                moves, d = [], step
                while d >= 1:
                    moves += [d, -d]
                    d = np.floor(d / 2)
                prefetch(
                    [
                        {**best_levels, n.name: float(max(0.0, best_levels[n.name] + d))}
                        for d in moves
                    ],
                    needed=2,
                )
                for delta in (step, -step):
                    trial = dict(best_levels)
                    trial[n.name] = float(max(0.0, trial[n.name] + delta))
                    value = cost(trial)
                    if value < best - 1e-12:
                        best_levels, best, improved = trial, value, True
                        break
                if not improved:
                    step = np.floor(step / 2)
    return SearchResult(best_levels, sign * best, len(cache), cls(best_levels))


def _simulated(
    problem: Problem,
    cls: type,
    levels: dict[str, float],
    *,
    periods: int,
    warmup: int,
    replications: int,
    seed: int,
) -> float:
    """``simulate(...).mean`` of one candidate (a task of the executor)."""
    return simulate(
        problem,
        cls(dict(levels)),
        periods=periods,
        warmup=warmup,
        replications=replications,
        seed=seed,
    ).mean


class _RowLevels:
    """Base-stock levels per replication row: several candidates in one batch
    (``act_batch`` is the batch engine's generic policy path)."""

    def __init__(self, levels: np.ndarray, echelon: bool) -> None:
        self.levels, self.echelon = levels, echelon

    def act_batch(self, sim: BatchSimulation) -> np.ndarray:
        ip = sim.echelon_inventory_position() if self.echelon else sim.inventory_position()
        return np.maximum(0.0, self.levels - ip)


def _batch_values(
    network: Network,
    candidates: list[tuple[float, ...]],
    echelon: bool,
    periods: int,
    warmup: int,
    replications: int,
    seed: int,
) -> list[float]:
    """Mean cost (or profit) per period of each candidate (levels in stock-node order) over
    its *replications*, as ``simulate(...).mean`` computes it."""
    seeds = [replication_seed(seed, k) for _ in candidates for k in range(replications)]
    levels = np.repeat(np.array(candidates, dtype=float), replications, axis=0)
    run = BatchSimulation(network, periods, seeds).run(_RowLevels(levels, echelon), warmup=warmup)
    assert run.series is not None
    per_row = np.array([float(row.mean()) for row in run.series])
    return [
        float(per_row[c * replications : (c + 1) * replications].mean())
        for c in range(len(candidates))
    ]


def _downstream_lead(network: Network, name: str) -> float:
    """Longest mean lead time from *name* down to a node with external demand."""
    longest = 0.0
    for e in network.customers(name):
        longest = max(longest, e.lead_time.mean + _downstream_lead(network, e.target))
    return longest


@dataclass(frozen=True)
class CoordinateResult:
    """The best integer parameters :func:`search_integers` found, and their value."""

    params: dict[str, int]
    value: float  # mean cost (or profit) per period on the search seeds
    evaluations: int
    policy: Any


def search_integers(
    problem: Problem | Network,
    build: Callable[[dict[str, int]], Any],
    start: Mapping[str, int] | Sequence[Mapping[str, int]],
    *,
    lower: Mapping[str, int] | None = None,
    upper: Mapping[str, int] | None = None,
    periods: int = 2_000,
    warmup: int = 0,
    replications: int = 4,
    seed: int = 12345,
    steps: tuple[int, ...] = (1, 2, 4),
    max_evaluations: int = 300,
    descents: int = 1,
    progress: bool = False,
    label: str = "search",
    executor: Executor | None = None,
) -> CoordinateResult:
    """Integer parameters of a policy family searched by simulation on common random numbers.

    ``build(params) -> policy``.  *start* is one point or a list of points (a coarse grid);
    the search descends from the best *descents* of them and keeps the best end.  Every
    round of a descent tries each parameter moved by each of *steps* up and down, and each
    pair of parameters moved together by the two smallest steps each, all four ways (cost
    valleys often run diagonally), within *lower* and *upper*, and moves to the best candidate that improves on the current one;
    it stops when none does (a local optimum for those moves) or after *max_evaluations*
    candidates in all.  Every candidate runs on the
    same seeds (``simulate(problem, build(p), periods, warmup, replications, seed)``),
    so two candidates differ by their policies, not by their demand paths.
    """
    problem = as_problem(problem)
    sign = 1.0 if problem.objective == "cost" else -1.0
    lo = dict(lower or {})
    hi = dict(upper or {})
    starts = [dict(start)] if isinstance(start, Mapping) else [dict(p) for p in start]
    if not starts:
        raise ValueError("search_integers needs at least one start point")
    names = list(starts[0])
    cache: dict[tuple[int, ...], float] = {}

    def value(params: dict[str, int]) -> float:
        key = tuple(params[n] for n in names)
        if key not in cache:
            res = simulate(
                problem,
                build(dict(params)),
                periods=periods,
                warmup=warmup,
                replications=replications,
                seed=seed,
                executor=executor,
            )
            cache[key] = sign * res.mean
            bar.update(1)
        return cache[key]

    bar = tqdm(desc=label, disable=not progress, leave=False, unit="candidate")

    def descend(v: float, p: dict[str, int]) -> tuple[float, dict[str, int]]:
        return _descend(value, v, p, names, steps, lo, hi, lambda: max_evaluations - len(cache))

    scored_starts = sorted(
        ((value(p), i, p) for i, p in enumerate({n: int(p[n]) for n in names} for p in starts)),
        key=lambda x: (x[0], x[1]),
    )
    found = [descend(v, p) for v, _, p in scored_starts[:descents]]
    best_value, best = min(found, key=lambda x: x[0])
    bar.close()
    return CoordinateResult(best, sign * best_value, len(cache), build(dict(best)))


def _descend(
    value: Callable[[dict[str, int]], float],
    best_value: float,
    best: dict[str, int],
    names: list[str],
    steps: tuple[int, ...],
    lo: Mapping[str, int],
    hi: Mapping[str, int],
    budget: Callable[[], int],
) -> tuple[float, dict[str, int]]:
    """Descent from *best* (see :func:`search_integers`) while *budget()* is positive."""
    while budget() > 0:
        deltas: list[dict[str, int]] = [
            {n: sign * step} for step in steps for n in names for sign in (1, -1)
        ]
        # two parameters together, by the two smallest steps each, both ways: cost valleys
        # often run diagonally, at slopes 1:1, 1:2 or 2:1
        small = steps[:2]
        for i, n in enumerate(names):
            for other in names[i + 1 :]:
                for a in small:
                    for b in small:
                        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                            deltas.append({n: sa * a, other: sb * b})
        moves = []
        for delta in deltas:
            move = {k: best[k] + delta.get(k, 0) for k in names}
            if all(lo.get(k, -(2**62)) <= move[k] <= hi.get(k, 2**62) for k in names):
                moves.append(move)
        scored = [(value(m), i, m) for i, m in enumerate(moves[: budget()])]
        if not scored:
            break
        v, _, m = min(scored, key=lambda x: (x[0], x[1]))
        if v >= best_value - 1e-12:
            break
        best, best_value = m, v
    return best_value, best
