"""Optimal echelon base-stock levels of a serial system (Clark-Scarf / Chen-Zheng).

Stages 1, ..., N from downstream (stage 1 faces i.i.d. customer demand,
backlogged at cost ``p`` per unit per period) to upstream (stage N orders from a
supplier with unlimited stock).  Stage j has local holding cost ``h'_j`` per unit
on hand, and the units it has shipped to stage j-1 are charged ``h'_j`` while in
transit; units on their way to stage N cost nothing.  Shipments from stage j+1
to stage j take ``L_j`` periods.  With echelon holding costs
``h_j = h'_j - h'_{j+1}`` (``h'_{N+1} = 0``) the optimal echelon base-stock
levels and the optimal expected cost per period follow from the recursion of
Chen & Zheng (1994), after Clark & Scarf (1960) (Snyder & Shen 2nd ed.,
Ch. 6, the stochastic-service model of a serial system; Example 6.1):

    C_0(x)   = (p + h'_1) x^-
    Ĉ_j(x)   = h_j x + C_{j-1}(x)                       j = 1, ..., N
    C̄_j(y)   = E[Ĉ_j(y - D_j)],   D_j = demand of L_j periods
    S*_j     = argmin C̄_j(y)
    C_j(x)   = C̄_j(min{S*_j, x})

and the optimal cost is ``C̄_N(S*_N)``.  Fixing the levels instead of
minimising gives the exact cost of any echelon base-stock policy
(:func:`serial_cost`).

Timing.  ``order_timing="order-after-demand"`` (the default, Snyder & Shen): in
each period shipments arrive, demand occurs, then every stage orders up to its
echelon level and its supplier ships what it has on hand; costs are charged at
the end of the period.  ``order_timing="order-before-demand"`` (the engine's
default): arrive, order and ship (a stage may forward what arrived this
period), demand, charge.  Then stage 1 covers the demand of ``L_1 + 1`` periods,
and stage j >= 2 allocates stock to stage j-1 one demand earlier than its
holding cost is charged, which adds the constant ``-mu (h_2 + ... + h_N)`` to
the cost; the recursion is otherwise unchanged.  Both names are those of the
engine's ``Network.order_timing``; in the engine the model is a chain with lead
time ``L_j`` on the edge into stage j, ``transit_holding_cost = h'_{j+1}`` on that
edge (0 into stage N), no shortage cost at stages 2..N, and
:class:`~des_supply.policies.EchelonBaseStock`.  Non-integer lead times with
Poisson demand give the continuous-review model with Poisson arrivals of Chen &
Zheng (1994) and Shang & Song (2003), with costs per unit time.

Numerics.  Poisson demand is handled exactly on the integers (pmfs cut at upper
tail 1e-16).  Normal demand N(mu, sigma) per period is discretised on a lattice
of step ``grid_step`` (default ``min_j sigma sqrt(L_j) / 100``): ``D_j`` puts the
probability of each cell ``[k - 1/2, k + 1/2) * grid_step`` on its centre,
within ``mu_j +- 8 sigma_j``, and every C̄_j is computed by one convolution on the
lattice, without truncating its argument (the lattice is wide enough that no
value outside it is ever needed).  The error in cost is O(grid_step^2); the
reported levels refine the lattice minimum by a parabola through its
neighbours.  Normal demand is not truncated at zero, as in the textbook.

References
----------
A. J. Clark and H. Scarf, Optimal policies for a multi-echelon inventory problem,
*Management Science* 6(4):475-490, 1960.
F. Chen and Y.-S. Zheng, Lower bounds for multi-echelon stochastic inventory
systems, *Management Science* 40(11):1426-1443, 1994.
K. H. Shang and J.-S. Song, Newsvendor bounds and heuristic for optimal policies
in serial supply chains, *Management Science* 49(5):618-638, 2003.

Example (Snyder & Shen Example 6.1):

>>> r = serial_base_stock(local_holding=[7, 4, 2], lead_times=[1, 1, 2], penalty=37.12,
...                       demand_mean=5, demand="normal", demand_std=1)
>>> [round(S, 2) for S in r.echelon_levels], round(r.expected_cost, 2)
([6.49, 12.02, 22.71], 47.66)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import signal, stats

from ._pmf import poisson_pmf
from .memory import check_memory

if TYPE_CHECKING:
    from des_supply.policies import BaseStock, EchelonBaseStock

__all__ = ["SerialResult", "serial_base_stock", "serial_cost"]

#: Demand of a stage is discretised within mean +- SPAN standard deviations.
SPAN = 8.0
TIMINGS = ("order-after-demand", "order-before-demand")
Timing = Literal["order-after-demand", "order-before-demand"]


@dataclass(frozen=True, slots=True)
class SerialResult:
    """Echelon base-stock levels (stage 1 = downstream first) and the cost per period."""

    echelon_levels: tuple[float, ...]  # [S*_1, ..., S*_N] units
    local_levels: tuple[float, ...]  # [S*_j - S*_{j-1}] installation levels, units
    expected_cost: float  # [C̄_N(S*_N)] $ per period
    grid_step: float  # lattice step (1 for Poisson demand)

    def _names(self, node_names: Sequence[str]) -> list[str]:
        names = list(node_names)
        if len(names) != len(self.echelon_levels):
            raise ValueError(
                f"node_names: need {len(self.echelon_levels)} names, "
                f"downstream to upstream (got {len(names)})"
            )
        return names

    def policy(self, node_names: Sequence[str]) -> EchelonBaseStock:
        """Engine policy for stages named ``node_names`` (downstream to upstream)."""
        # imported here so that the optimizers run without the engine
        from des_supply.policies import EchelonBaseStock

        names = self._names(node_names)
        return EchelonBaseStock(dict(zip(names, self.echelon_levels, strict=True)))

    def installation_policy(self, node_names: Sequence[str]) -> BaseStock:
        """The equivalent installation (local) base-stock policy (Axsäter & Rosling 1993)."""
        from des_supply.policies import BaseStock

        names = self._names(node_names)
        return BaseStock(dict(zip(names, self.local_levels, strict=True)))


class _Instance:
    """Validated data: echelon holding costs and one demand kernel per stage."""

    def __init__(
        self,
        local_holding: Sequence[float],
        lead_times: Sequence[float],
        penalty: float,
        demand_mean: float,
        demand: str,
        demand_std: float | None,
        grid_step: float | None,
        order_timing: str,
        memory_limit: float | None = None,
    ) -> None:
        hl = np.asarray(local_holding, dtype=float).ravel()
        L = np.asarray(lead_times, dtype=float).ravel()
        if hl.size == 0:
            raise ValueError("local_holding must name at least one stage")
        if L.size != hl.size:
            raise ValueError(
                f"lead_times has {L.size} values, local_holding {hl.size}: "
                "give one per stage, downstream to upstream"
            )
        if not np.all(np.isfinite(hl)) or np.any(hl < 0):
            raise ValueError(f"local_holding(={hl.tolist()}) must be finite and >= 0")
        h = hl - np.append(hl[1:], 0.0)
        if np.any(h < 0):
            raise ValueError(
                f"local_holding(={hl.tolist()}) must not increase upstream "
                "(echelon holding costs h_j = h'_j - h'_(j+1) must be >= 0)"
            )
        if not np.all(np.isfinite(L)) or np.any(L < 0):
            raise ValueError(f"lead_times(={L.tolist()}) must be finite and >= 0")
        if not math.isfinite(float(penalty)) or float(penalty) <= 0:
            raise ValueError(f"penalty(={penalty}) must be a finite number > 0")
        mu = float(demand_mean)
        if not math.isfinite(mu) or mu < 0:
            raise ValueError(f"demand_mean(={demand_mean}) must be a finite number >= 0")
        if order_timing not in TIMINGS:
            raise ValueError(f"order_timing(={order_timing!r}) must be one of {TIMINGS}")
        self.h, self.h_local, self.p = h, hl, float(penalty)
        self.shift = 0.0
        if order_timing == "order-before-demand":
            L = L + np.eye(L.size)[0]  # stage 1 also covers this period's demand
            self.shift = -mu * float(h[1:].sum())

        if demand == "poisson":
            if demand_std is not None:
                raise ValueError("demand_std applies to normal demand only")
            if grid_step not in (None, 1, 1.0):
                raise ValueError(f"grid_step(={grid_step}) must be 1 for Poisson demand")
            self.discrete, self.step = True, 1.0
            total_mean, total_sd = mu * L.sum(), math.sqrt(mu * L.sum())
            widths = [mu * Lj + 10 * math.sqrt(mu * Lj) + 10 for Lj in L]
            _check_lattice(total_mean, total_sd, 1.0, widths, "lower demand_mean", memory_limit)
            self.kernels = [(0, poisson_pmf(mu * Lj)) for Lj in L]
        elif demand == "normal":
            sd = float("nan") if demand_std is None else float(demand_std)
            if not math.isfinite(sd) or sd <= 0:
                raise ValueError(
                    f"demand_std(={demand_std}) must be a finite number > 0 for normal demand"
                )
            positive = L[L > 0]
            default = sd * math.sqrt(positive.min()) / 100 if positive.size else sd / 100
            step = default if grid_step is None else float(grid_step)
            if not math.isfinite(step) or step <= 0:
                raise ValueError(f"grid_step(={grid_step}) must be a finite number > 0")
            self.discrete, self.step = False, step
            total_mean, total_sd = mu * L.sum(), sd * math.sqrt(L.sum())
            widths = [(mu * Lj + SPAN * sd * math.sqrt(Lj)) / step + 2 for Lj in L]
            _check_lattice(
                total_mean,
                total_sd,
                step,
                widths,
                f"lower demand_mean relative to demand_std, or pass a larger "
                f"grid_step (now {step:.3g}; default demand_std x sqrt(shortest "
                f"lead time) / 100)",
                memory_limit,
            )
            self.kernels = [_normal_kernel(mu * Lj, sd * math.sqrt(Lj), step) for Lj in L]
        else:
            raise ValueError(f"demand(={demand!r}) must be 'poisson' or 'normal'")
        # every level lies well inside [lo, hi]; the lattice is widened below so that
        # C̄_N is known exactly on [lo, hi] without truncation
        self.lo = min(0.0, total_mean) - 10 * total_sd - 1
        self.hi = total_mean + 10 * total_sd + 1


#: Peak bytes per lattice point of :func:`_solve` (measured 61-64 with tracemalloc at 1e4 to
#: 4e6 points: a few float arrays and the convolution's buffers).
BYTES_PER_POINT = 72


def _check_lattice(
    total_mean: float,
    total_sd: float,
    step: float,
    widths: list[float],
    driver: str,
    memory_limit: float | None,
) -> None:
    """Refuse, before any array exists, a lattice over the memory limit (its size is
    the span ``[lo, hi]`` of :class:`_Instance` plus the kernels' reach, in steps)."""
    span = max(total_mean, 0.0) + 20 * total_sd + 2 + abs(min(0.0, total_mean))
    points = span / step + sum(widths)
    check_memory(
        BYTES_PER_POINT * points,
        f"the serial recursion's lattice (about {points:,.0f} points of step {step:.3g})",
        driver,
        memory_limit,
    )


def _normal_kernel(mean: float, sd: float, step: float) -> tuple[int, np.ndarray]:
    """Cell probabilities of N(mean, sd) on the lattice k * step, within mean +- SPAN sd."""
    if sd == 0:
        return 0, np.ones(1)
    k0 = math.floor((mean - SPAN * sd) / step)
    k1 = math.ceil((mean + SPAN * sd) / step)
    edges = (np.arange(k0, k1 + 2) - 0.5) * step
    w = np.diff(stats.norm.cdf(edges, mean, sd))
    return k0, w / w.sum()


def _argmin(values: np.ndarray) -> int:
    """Smallest index within round-off of the minimum (flat minima: the lowest level)."""
    best = values.min()
    return int(np.argmax(values <= best + 1e-12 * max(1.0, abs(best))))


def _solve(inst: _Instance, levels: Sequence[float] | None) -> tuple[list[float], float]:
    """Run the recursion; minimise at each stage, or use the given echelon ``levels``."""
    step, N = inst.step, inst.h.size
    kmax = sum(k0 + w.size - 1 for k0, w in inst.kernels)
    kmin = sum(min(0, k0) for k0, _ in inst.kernels)
    start = math.floor(inst.lo / step) - kmax
    stop = math.ceil(inst.hi / step) - kmin
    x = np.arange(start, stop + 1) * step
    C_prev = (inst.p + inst.h_local[0]) * np.maximum(-x, 0.0)  # C_0 on the lattice
    S_out: list[float] = []
    cost = math.nan
    for j in range(N):
        k0, w = inst.kernels[j]
        C_hat = inst.h[j] * x + C_prev
        C_bar = (
            np.convolve(C_hat, w, mode="valid")
            if inst.discrete or w.size < 64
            else signal.fftconvolve(C_hat, w, mode="valid")
        )
        start += k0 + w.size - 1
        x = (start + np.arange(C_bar.size)) * step
        if levels is None:
            i = _argmin(C_bar)
            if i == 0 or i == C_bar.size - 1:
                raise RuntimeError(f"stage {j + 1}: optimum at the edge of the lattice")
            S, value = float(x[i]), float(C_bar[i])
            if not inst.discrete:
                a, b, c = C_bar[i - 1], C_bar[i], C_bar[i + 1]
                curv = a - 2 * b + c
                if curv > 0:
                    delta = 0.5 * (a - c) / curv
                    S, value = float(S + delta * step), float(b - 0.25 * (a - c) * delta)
        else:
            S = float(levels[j])
            if not x[0] <= S <= x[-1]:
                raise ValueError(
                    f"echelon level of stage {j + 1} (={S}) is outside [{x[0]:.6g}, {x[-1]:.6g}]"
                )
            value = float(np.interp(S, x, C_bar))
        S_out.append(S)
        cost = value + inst.shift
        C_prev = np.where(x < S, C_bar, value)  # C_j(x) = C̄_j(min(S, x))
    return S_out, cost


def _local(echelon: Sequence[float]) -> tuple[float, ...]:
    """Installation levels from echelon levels made non-decreasing upstream."""
    mono = np.minimum.accumulate(np.asarray(echelon, dtype=float)[::-1])[::-1]
    return tuple(np.diff(np.concatenate([[0.0], mono])).tolist())


def serial_base_stock(
    local_holding: Sequence[float],
    lead_times: Sequence[float],
    penalty: float,
    demand_mean: float,
    demand: Literal["normal", "poisson"] = "normal",
    demand_std: float | None = None,
    *,
    order_timing: Timing = "order-after-demand",
    grid_step: float | None = None,
    memory_limit: float | None = None,
) -> SerialResult:
    """Optimal echelon base-stock levels and expected cost per period of a serial system.

    Parameters
    ----------
    local_holding : sequence of float
        Local holding cost per unit per period [h'_1, ..., h'_N], stage 1
        (downstream) first; must not increase upstream.
    lead_times : sequence of float
        Shipment lead time into each stage [L_1, ..., L_N], periods, >= 0.
    penalty : float
        Backorder cost per unit per period at stage 1 [p] > 0.
    demand_mean, demand_std : float
        Demand per period at stage 1: Poisson(mean) or N(mean, std).
    demand : "normal" or "poisson"
    order_timing : "order-after-demand" or "order-before-demand"
        Order of events in a period (see the module notes).
    grid_step : float, optional
        Lattice step for normal demand (see the module notes).
    memory_limit : float, optional
        Bytes; a lattice that would need more raises
        :class:`~optimization.memory.SizeLimitError` before allocating (default: see
        :mod:`optimization.memory`).
    """
    inst = _Instance(
        local_holding,
        lead_times,
        penalty,
        demand_mean,
        demand,
        demand_std,
        grid_step,
        order_timing,
        memory_limit,
    )
    levels, cost = _solve(inst, None)
    return SerialResult(tuple(levels), _local(levels), cost, inst.step)


def serial_cost(
    echelon_levels: Sequence[float],
    local_holding: Sequence[float],
    lead_times: Sequence[float],
    penalty: float,
    demand_mean: float,
    demand: Literal["normal", "poisson"] = "normal",
    demand_std: float | None = None,
    *,
    order_timing: Timing = "order-after-demand",
    grid_step: float | None = None,
    memory_limit: float | None = None,
) -> float:
    """Expected cost per period of the echelon base-stock policy with ``echelon_levels``
    (stage 1 first); other parameters as in :func:`serial_base_stock`."""
    inst = _Instance(
        local_holding,
        lead_times,
        penalty,
        demand_mean,
        demand,
        demand_std,
        grid_step,
        order_timing,
        memory_limit,
    )
    levels = [float(v) for v in echelon_levels]
    if len(levels) != inst.h.size:
        raise ValueError(f"echelon_levels: need {inst.h.size} values (got {len(levels)})")
    if inst.discrete and any(v != int(v) for v in levels):
        raise ValueError(f"echelon_levels(={levels}) must be integers for Poisson demand")
    return _solve(inst, levels)[1]
