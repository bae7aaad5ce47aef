"""Discrete demand as a probability vector on 0, 1, ..., n (private helpers).

The exact optimizers for discrete demand (:mod:`~optimization.newsvendor`,
:mod:`~optimization.ss_policy`, :mod:`~optimization.finite_horizon`,
:mod:`~optimization.serial`) all work on a ``numpy`` array ``pmf`` with
``pmf[d] = P(D = d)``.  Distributions with unbounded support are cut where the
upper tail falls below :data:`TAIL`; that changes expected costs by far less
than 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "TAIL",
    "as_pmf",
    "convolve_all",
    "convolve_power",
    "expected_parts",
    "newsvendor_cost",
    "poisson_pmf",
]

#: Upper-tail mass at which unbounded discrete distributions are cut.
TAIL = 1e-16


def poisson_pmf(mean: float) -> np.ndarray:
    """pmf of a Poisson(``mean``) variable on 0..n, cut at upper tail :data:`TAIL`."""
    mean = float(mean)
    if not math.isfinite(mean) or mean < 0:
        raise ValueError(f"demand_mean(={mean}) must be a finite number >= 0")
    if mean == 0:
        return np.ones(1)
    return _trim(stats.poisson.pmf(np.arange(_upper(stats.poisson(mean)) + 1), mean))


def _upper(dist: Any) -> int:
    """A value above which the distribution has less than TAIL mass."""
    n = dist.isf(TAIL)
    if not math.isfinite(n):  # isf can fail this far out; a generous bound instead
        n = dist.mean() + 60 * dist.std() + 60
    return int(n) + 1


def as_pmf(demand: Any, name: str = "demand") -> np.ndarray:
    """Probability vector on 0..n from a frozen scipy discrete distribution, a
    mapping ``{value: probability}`` or a sequence of probabilities of 0, 1, ....

    Raises ValueError (naming ``name``) for negative or non-integer values, negative
    probabilities, or probabilities that do not sum to 1.
    """
    if hasattr(demand, "pmf") and hasattr(demand, "support"):  # frozen scipy rv_discrete
        lo, hi = demand.support()
        if lo < 0:
            raise ValueError(f"{name}: support starts at {lo}; demand must be >= 0")
        n = int(hi) if math.isfinite(hi) else _upper(demand)
        pmf = np.asarray(demand.pmf(np.arange(n + 1)), dtype=float)
    elif isinstance(demand, Mapping):
        if not demand:
            raise ValueError(f"{name} must not be empty")
        values = [float(v) for v in demand]
        if any(v < 0 or v != int(v) for v in values):
            raise ValueError(f"{name}: values must be integers >= 0 (got {sorted(values)})")
        pmf = np.zeros(int(max(values)) + 1)
        for v, prob in demand.items():
            pmf[int(v)] += float(prob)
    elif isinstance(demand, (Sequence, np.ndarray)) and not isinstance(demand, str):
        pmf = np.asarray(demand, dtype=float).ravel()
        if pmf.size == 0:
            raise ValueError(f"{name} must not be empty")
    else:
        raise ValueError(
            f"{name}(={demand!r}) must be a frozen scipy discrete distribution, "
            "a mapping {value: probability} or a sequence of probabilities"
        )
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError(f"{name}: probabilities must be finite and >= 0")
    total = pmf.sum()
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"{name}: probabilities sum to {total}, not 1")
    return _trim(pmf / total)


def _trim(pmf: np.ndarray) -> np.ndarray:
    """Drop trailing values whose total mass is below TAIL (keeps at least one)."""
    tail = np.cumsum(pmf[::-1])[::-1]  # tail[k] = P(D >= k)
    keep = np.nonzero(tail >= TAIL)[0]
    n = int(keep[-1]) + 1 if keep.size else 1
    return pmf[:n]


def convolve_all(pmfs: Sequence[np.ndarray]) -> np.ndarray:
    """pmf of the sum of independent variables (an empty list gives the point mass at 0)."""
    out = np.ones(1)
    for pmf in pmfs:
        out = _trim(np.convolve(out, pmf))
    return out


def convolve_power(pmf: np.ndarray, k: int) -> np.ndarray:
    """pmf of the sum of ``k`` independent copies of ``pmf``."""
    return convolve_all([pmf] * int(k))


def expected_parts(pmf: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(E[(y - D)^+], E[(D - y)^+])`` for integer levels ``y`` (any shape)."""
    y = np.asarray(y, dtype=float)
    d = np.arange(pmf.size)
    F = np.cumsum(pmf)  # P(D <= k)
    A = np.cumsum(d * pmf)  # E[D; D <= k]
    mean = A[-1]
    k = np.clip(np.floor(y), -1, pmf.size - 1).astype(int)
    inside = k >= 0
    kk = np.where(inside, k, 0)
    over = np.where(inside, y * F[kk] - A[kk], 0.0)  # E[(y - D)^+]
    under = over - (y - mean)  # E[(D - y)^+]
    return over, under


def newsvendor_cost(pmf: np.ndarray, holding: float, penalty: float, y: np.ndarray) -> np.ndarray:
    """One-period cost ``G(y) = h E[(y - D)^+] + p E[(D - y)^+]`` at levels ``y``."""
    over, under = expected_parts(pmf, y)
    return holding * over + penalty * under
