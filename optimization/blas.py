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
block of code and restores the counts after.  It uses ``threadpoolctl`` where it is
installed; otherwise it finds the OpenBLAS libraries loaded in the process
(``/proc/self/maps``) and calls their own ``*_set_num_threads`` through ``ctypes``.  Where neither works (another BLAS, another
system) it changes nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path

__all__ = ["blas_threads", "limit_blas_threads", "single_blas_thread"]

#: symbol prefixes of OpenBLAS builds: numpy/scipy's wheels, 64-bit and plain builds
_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


def _openblas() -> list[tuple[ctypes.CDLL, str]]:
    """The OpenBLAS libraries mapped in this process, with their symbol prefix."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    paths = {
        line.split()[-1]
        for line in maps.read_text().splitlines()
        if "openblas" in line.lower() and ".so" in line
    }
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, no second copy
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                    found.append((lib, f"{prefix}_%s_num_threads{suffix}"))
                    break
            else:
                continue
            break
    return found


def blas_threads() -> list[int]:
    """Thread counts of the OpenBLAS libraries this module can reach (empty: none)."""
    return [int(getattr(lib, name % "get")()) for lib, name in _openblas()]


@contextlib.contextmanager
def limit_blas_threads(threads: int | None) -> Iterator[None]:
    """Run the block with at most *threads* BLAS threads (None: leave them as they are);
    the previous counts are restored after."""
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"blas_threads(={threads!r}) must be an integer >= 1 or None")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        with threadpool_limits(threads, user_api="blas"):
            yield
        return
    libs = _openblas()
    before = [int(getattr(lib, name % "get")()) for lib, name in libs]
    for (lib, name), n in zip(libs, before, strict=True):
        getattr(lib, name % "set")(min(n, threads))
    try:
        yield
    finally:
        for (lib, name), n in zip(libs, before, strict=True):
            getattr(lib, name % "set")(n)


def single_blas_thread() -> contextlib.AbstractContextManager[None]:
    """Run the block with one BLAS thread (see the module docstring)."""
    return limit_blas_threads(1)
