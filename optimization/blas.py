"""One BLAS thread for loops of small matrix products (the lost-sales DP's Bellman blocks).

numpy's OpenBLAS starts one thread per core for every product above a small size.  The
lost-sales value iteration does thousands of products of a few hundred thousand
multiply-adds each; with two threads each of them pays a hand-over and, on a machine
whose cores are busy with other work, a wait for the second core.  On the project's
2-core machine at load average 10.6, L = 5, p = 39 took a median 48.8 s wall and 11.7 s
CPU with numpy's two threads, 15.1 s wall and 2.6 s CPU with one, the same optimal cost
bit for bit and the same policy (``python benchmarks/lost_sales_dp.py --leads 5
--penalties 39 --compare 5 --no-heuristics``).

:func:`limit_blas_threads` (:func:`single_blas_thread`: one) caps the threads for a
block of code and restores the counts after, through ``threadpoolctl`` (which knows
OpenBLAS, MKL and BLIS; a BLAS it does not know is left as it is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["blas_threads", "limit_blas_threads", "single_blas_thread"]


def blas_threads() -> list[int]:
    """Thread counts of the BLAS libraries loaded in this process (empty: none found)."""
    return [int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"]


@contextlib.contextmanager
def limit_blas_threads(threads: int | None) -> Iterator[None]:
    """Run the block with at most *threads* BLAS threads (None: leave them as they are);
    the previous counts are restored after."""
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"blas_threads(={threads!r}) must be an integer >= 1 or None")
    with threadpool_limits(threads, user_api="blas"):
        yield


def single_blas_thread() -> contextlib.AbstractContextManager[None]:
    """Run the block with one BLAS thread (see the module docstring)."""
    return limit_blas_threads(1)
