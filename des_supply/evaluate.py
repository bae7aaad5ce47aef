"""Replications and KPIs: mean cost (or profit) per period with a 95% CI, service levels.

Replication k runs on ``SeedSequence(seed, spawn_key=(k,))`` (:func:`des_supply.rng.replication_seed`),
so results do not depend on how replications are spread over processes: a
parallel run gives exactly the serial run's numbers.  Two policies evaluated
with the same seed see the same demand and lead-time draws (common random
numbers), so their difference can be judged with a paired CI
(:func:`paired_difference`).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from .ledger import Ledger
from .network import Network
from .policies import Policy
from .problem import Problem, as_problem
from .rng import replication_seed
from .sim import Market, Simulation, objective_of

__all__ = ["NodeSummary", "Results", "simulate", "confidence_interval", "paired_difference"]

BATCHES = 20  # batch means for a CI from a single replication


def confidence_interval(samples: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t CI ``(mean, lo, hi)``; a single sample has an infinite CI."""
    x = np.asarray(samples, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, -math.inf, math.inf
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
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

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "periods": self.periods, "warmup": self.warmup,
                "replications": self.replications, "seed": self.seed, "mean": self.mean,
                "ci95": list(self.ci95), "fill_rate": self.fill_rate,
                "cycle_service_level": self.cycle_service_level,
                "per_replication": self.per_replication.tolist(),
                "nodes": {n: asdict(s) for n, s in self.nodes.items()}}


def _summarise(ledger: Ledger, warmup: int) -> dict[str, Any]:
    """The numbers one replication contributes (arrays per node, after warm-up)."""
    d = {f: v[warmup:] for f, v in ledger.data.items()}
    costs = sum(d[f] for f in ("holding_cost", "shortage_cost", "fixed_cost", "variable_cost",
                               "transit_cost"))
    series = ledger.objective_series()[warmup:]
    stockout = d["served"] < d["demand"] - 1e-9
    return {
        "value": float(series.mean()),
        "batches": [float(b.mean()) for b in np.array_split(series, BATCHES) if len(b)],
        "on_hand": d["on_hand"].mean(0), "backlog": d["backlog"].mean(0),
        "lost": d["lost"].mean(0), "ordered": d["ordered"].mean(0),
        "cost": costs.mean(0), "revenue": d["revenue"].mean(0),
        "demand": d["demand"].sum(0), "served": d["served"].sum(0),
        "has_demand": d["demand"].sum(0) > 0,
        "in_stock_periods": (~stockout).sum(0), "periods": len(series),
    }


def _replicate(network: Network, policy: Policy, periods: int, seed: int | None, k: int,
               warmup: int, market: Market | None, keep: bool) -> tuple[dict[str, Any], Ledger | None]:
    ledger = Simulation(network, periods, replication_seed(seed, k), market).run(policy)
    return _summarise(ledger, warmup), (ledger if keep else None)


def simulate(problem: Problem | Network, policy: Policy, *, periods: int,
             replications: int = 1, seed: int | None = 0, warmup: int = 0, processes: int = 1,
             market: Market | None = None, progress: bool = False,
             keep_ledgers: bool = False) -> Results:
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
        Worker processes (1: run here; 0 or None: one per CPU).
    progress : bool
        Show a progress bar over replications.
    """
    if replications < 1:
        raise ValueError(f"replications(={replications}) must be >= 1")
    if not 0 <= warmup < periods:
        raise ValueError(f"warmup(={warmup}) must be in [0, periods={periods})")
    if not callable(getattr(policy, "act", None)):
        raise TypeError(f"policy must have an act(observation) method, got {policy!r}")
    problem = as_problem(problem, market)
    network, market = problem.network, problem.new_market()
    workers = processes or os.cpu_count() or 1
    args = [(network, policy, periods, seed, k, warmup, market, keep_ledgers)
            for k in range(replications)]
    bar = tqdm(total=replications, desc="replications", disable=not progress, leave=False)
    outputs: list[tuple[dict[str, Any], Ledger | None]] = []
    if workers == 1 or replications == 1:
        for a in args:
            outputs.append(_replicate(*a))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=min(workers, replications)) as pool:
            for out in pool.map(_replicate, *zip(*args)):
                outputs.append(out)
                bar.update()
    bar.close()
    summaries = [o[0] for o in outputs]
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
            on_hand=float(avg("on_hand")[i]), backlog=float(avg("backlog")[i]),
            lost=float(avg("lost")[i]), ordered=float(avg("ordered")[i]),
            cost=float(avg("cost")[i]), revenue=float(avg("revenue")[i]),
            fill_rate=float(served[i] / demand[i]) if with_demand and demand[i] > 0 else None,
            cycle_service_level=float(in_stock[i] / n_periods) if with_demand else None)
    total_demand = demand[demand_nodes].sum() if demand_nodes else 0.0
    fill = float(served[demand_nodes].sum() / total_demand) if total_demand > 0 else None
    csl = (float(np.mean([nodes[network.nodes[i].name].cycle_service_level for i in demand_nodes]))
           if demand_nodes else None)
    return Results(objective=objective_of(network, market), periods=periods,
                   warmup=warmup, replications=replications, seed=seed, per_replication=values,
                   mean=mean, ci95=(lo, hi), fill_rate=fill, cycle_service_level=csl, nodes=nodes,
                   ledgers=[o[1] for o in outputs if o[1] is not None])


def paired_difference(a: Results, b: Results) -> tuple[float, float, float]:
    """Mean of ``a - b`` over replications with its 95% CI; needs common random numbers."""
    if a.seed != b.seed or a.replications != b.replications or a.periods != b.periods:
        raise ValueError("paired differences need the same seed, replications and periods")
    return confidence_interval(a.per_replication - b.per_replication)
