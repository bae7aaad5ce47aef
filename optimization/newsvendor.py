"""Newsvendor and single-stage base-stock (backlog) optimum.

One period, order ``S`` before demand ``D`` is seen; leftover units cost ``h``
each, unmet units ``p`` each.  The expected cost and its minimiser are
(Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., Ch. 4,
eqs. (4.24) and (4.27); normal closed form eqs. (4.30), (4.37); Example 4.1):

    g(S) = E[h (S - D)^+ + p (D - S)^+],     S* = F^{-1}(p / (p + h)).

For discrete demand S* is the smallest integer with ``F(S) >= p / (p + h)``.

The periodic-review single-stage backlog model with lead time ``L`` is the same
newsvendor over the demand of ``L + 1`` periods (Snyder & Shen Example 4.4):
the order placed at the start of period t, before that period's demand, arrives
at the start of period t + L, so the inventory level at the end of period t + L
is the inventory position after ordering at t minus the demand of periods
t, ..., t + L.  In the engine this is ``order_timing="order-before-demand"``
with lead time ``L``.

Example (Snyder & Shen Example 4.1):

>>> from scipy.stats import norm
>>> r = newsvendor(0.18, 0.70, norm(50, 8))
>>> round(r.base_stock_level, 4), round(r.expected_cost, 4)
(56.604, 1.9976)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import stats

from ._pmf import as_pmf, poisson_pmf
from ._pmf import newsvendor_cost as _pmf_cost

if TYPE_CHECKING:
    from des_supply.policies import BaseStock

__all__ = ["NewsvendorResult", "base_stock_backlog", "newsvendor", "newsvendor_cost"]


@dataclass(frozen=True, slots=True)
class NewsvendorResult:
    """Optimal level and expected cost of a newsvendor / single-stage base-stock model."""

    base_stock_level: float  # [S*] units
    expected_cost: float  # [g(S*)] $ per period
    critical_ratio: float  # p / (p + h)

    def policy(self) -> BaseStock:
        """Engine policy: order up to ``base_stock_level`` in inventory position."""
        # imported here so that the optimizers run without the engine
        from des_supply.policies import BaseStock

        return BaseStock(self.base_stock_level)


def _check_costs(holding: float, penalty: float) -> tuple[float, float]:
    h, p = float(holding), float(penalty)
    if not math.isfinite(h) or h <= 0:
        raise ValueError(f"holding(={holding}) must be a finite number > 0")
    if not math.isfinite(p) or p <= 0:
        raise ValueError(f"penalty(={penalty}) must be a finite number > 0")
    return h, p


def _demand(demand: Any, mean: float | None, std: float | None) -> Any:
    """A frozen scipy distribution or a pmf array, from the accepted inputs."""
    if demand is None:
        if mean is None or std is None:
            raise ValueError("demand: give a distribution, or both mean and std for normal demand")
        if not math.isfinite(float(mean)):
            raise ValueError(f"mean(={mean}) must be finite")
        if not math.isfinite(float(std)) or float(std) <= 0:
            raise ValueError(f"std(={std}) must be a finite number > 0")
        return stats.norm(float(mean), float(std))
    if mean is not None or std is not None:
        raise ValueError("demand: give either a distribution or mean/std, not both")
    if _is_continuous(demand):
        return demand
    return as_pmf(demand)


def _is_continuous(dist: Any) -> bool:
    return isinstance(getattr(dist, "dist", None), stats.rv_continuous)


def _is_normal(dist: Any) -> bool:
    return getattr(getattr(dist, "dist", None), "name", None) == "norm"


def _continuous_cost(dist: Any, h: float, p: float, level: float) -> float:
    if _is_normal(dist):
        mu, sigma = float(dist.mean()), float(dist.std())
        z = (level - mu) / sigma
        loss = stats.norm.pdf(z) - z * stats.norm.sf(z)  # E[(Z - z)^+]
        return float(h * (level - mu) + (h + p) * sigma * loss)
    under = float(dist.expect(lambda x: x - level, lb=level))  # E[(D - S)^+]
    return h * (level - float(dist.mean()) + under) + p * under


def newsvendor_cost(
    holding: float,
    penalty: float,
    demand: Any = None,
    level: float = 0.0,
    *,
    mean: float | None = None,
    std: float | None = None,
) -> float:
    """Expected cost ``g(S) = E[h (S - D)^+ + p (D - S)^+]`` of level ``S = level``.

    ``demand`` is as in :func:`newsvendor`.
    """
    h, p = _check_costs(holding, penalty)
    dist = _demand(demand, mean, std)
    if isinstance(dist, np.ndarray):
        return float(_pmf_cost(dist, h, p, np.asarray(float(level))))
    return _continuous_cost(dist, h, p, float(level))


def newsvendor(
    holding: float,
    penalty: float,
    demand: Any = None,
    *,
    mean: float | None = None,
    std: float | None = None,
) -> NewsvendorResult:
    """Optimal newsvendor level ``S*`` and cost ``g(S*)`` (Snyder & Shen eqs. (4.24), (4.27)).

    Parameters
    ----------
    holding : float
        Cost per unit left over [h], > 0.
    penalty : float
        Cost per unit short [p], > 0.
    demand : frozen scipy distribution, mapping or sequence, optional
        Continuous (``scipy.stats.norm(50, 8)``, ``lognorm(...)``) or discrete
        (``scipy.stats.poisson(6)``, ``{1: 0.25, 2: 0.75}``, or probabilities of
        0, 1, 2, ...).  Discrete demand must live on the integers >= 0.
    mean, std : float, optional
        Normal demand N(mean, std), instead of ``demand``.
    """
    h, p = _check_costs(holding, penalty)
    dist = _demand(demand, mean, std)
    ratio = p / (p + h)
    if isinstance(dist, np.ndarray):
        F = np.cumsum(dist)
        S_star: float = int(np.argmax(F >= ratio - 1e-12))
        cost = float(_pmf_cost(dist, h, p, np.asarray(float(S_star))))
        return NewsvendorResult(float(S_star), cost, ratio)
    S_star = float(dist.ppf(ratio))
    return NewsvendorResult(S_star, _continuous_cost(dist, h, p, S_star), ratio)


def base_stock_backlog(
    lead_time: int,
    holding: float,
    penalty: float,
    demand_mean: float,
    demand: Literal["poisson", "normal"] = "poisson",
    demand_std: float | None = None,
) -> NewsvendorResult:
    """Optimal base-stock level of the periodic-review single-stage backlog model.

    Demand per period is i.i.d. Poisson(``demand_mean``) or N(``demand_mean``,
    ``demand_std``); the order placed at the start of a period arrives ``lead_time``
    periods later, at the start of a period, so the relevant demand is that of
    ``L + 1`` periods (Snyder & Shen Example 4.4: h=0.18, p=0.7,
    N(50, 8), L=4 gives S* = 264.77).

    Returns the level [S*] and the expected holding + backorder cost per period
    in steady state.
    """
    L = int(lead_time)
    if L != lead_time or L < 0:
        raise ValueError(f"lead_time(={lead_time}) must be an integer >= 0")
    h, p = _check_costs(holding, penalty)
    if not math.isfinite(float(demand_mean)) or float(demand_mean) < 0:
        raise ValueError(f"demand_mean(={demand_mean}) must be a finite number >= 0")
    if demand == "poisson":
        if demand_std is not None:
            raise ValueError("demand_std applies to normal demand only")
        return newsvendor(h, p, poisson_pmf((L + 1) * float(demand_mean)))
    if demand == "normal":
        if demand_std is None or not math.isfinite(float(demand_std)) or float(demand_std) <= 0:
            raise ValueError(
                f"demand_std(={demand_std}) must be a finite number > 0 for normal demand"
            )
        return newsvendor(
            h, p, mean=(L + 1) * float(demand_mean), std=math.sqrt(L + 1) * float(demand_std)
        )
    raise ValueError(f"demand(={demand!r}) must be 'poisson' or 'normal'")
