"""Seeding: one SeedSequence per run, one named stream per random element.

A stream is keyed by *names* (``("demand", "retailer")``), hashed with the
stable ``zlib.crc32`` rather than Python's salted ``hash``.  Adding a node
therefore never shifts another node's demand, and two policies run on the same
seed see the same demand and lead times (common random numbers).

Values are drawn per *period*, in blocks of consecutive periods, so that what a
random element produces in period t depends only on the seed and t, not on how
often the engine asked before (a lead time is drawn per edge and period, whether
or not anything ships that period).
"""

from __future__ import annotations

import zlib

import numpy as np

from .distributions import Distribution

__all__ = ["PeriodDraws", "replication_seed", "root_sequence", "stream"]

SeedLike = int | np.random.SeedSequence | None


def root_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """The root of a run: an int (or None for fresh entropy) becomes a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed(={seed!r}) must be a non-negative integer or None")
    return np.random.SeedSequence(seed)


def replication_seed(seed: SeedLike, k: int) -> np.random.SeedSequence:
    """Replication (or episode) *k* of a run: ``SeedSequence(seed, spawn_key=(k,))``."""
    root = root_sequence(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + (k,))


def stream(root: np.random.SeedSequence, *key: str) -> np.random.Generator:
    """An independent generator for the random element named by *key*."""
    words = tuple(zlib.crc32(k.encode()) for k in key)
    return np.random.default_rng(
        np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + words)
    )


class PeriodDraws:
    """The values of one random element, period by period, drawn in blocks.

    ``at(t)`` returns the draw of period t.  Blocks are always drawn in order, so
    the value of period t is the same however the periods before it were used.
    """

    __slots__ = ("_block", "_dist", "_next_start", "_rng", "_start", "_values")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = 256) -> None:
        self._dist, self._rng, self._block = dist, rng, block
        self._start, self._next_start = 0, 0
        self._values: list[float] = []

    def block(self, t: int) -> tuple[int, list[float]]:
        """The block of draws that holds period *t*: its first period and its values (the
        caller reads period ``t`` at ``values[t - first]``; the list is not changed later)."""
        self.at(t)
        return self._start, self._values

    def at(self, t: int) -> float:
        i = t - self._start
        if 0 <= i < len(self._values):
            return self._values[i]
        if t < self._start:
            raise ValueError(f"period {t} was already discarded (draws go forward only)")
        while t >= self._next_start:  # skipped blocks are drawn and dropped: stays aligned
            self._start = self._next_start
            self._values = self._dist.sample(self._rng, self._start, self._block).tolist()
            self._next_start += self._block
        return self._values[t - self._start]
