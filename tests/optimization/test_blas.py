"""optimization.blas: BLAS thread caps for the lost-sales DP, restored after; the DP's
answer does not depend on them."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.blas import blas_threads, limit_blas_threads, single_blas_thread
from optimization.lost_sales import DENSE_Q, solve_lost_sales
from optimization.lost_sales_model import Truncation


def test_one_thread_inside_and_the_counts_restored_after():
    before = blas_threads()
    with single_blas_thread():
        inside = blas_threads()
    assert blas_threads() == before
    assert before, "numpy's BLAS (OpenBLAS in the wheels) was not found"
    assert inside == [1] * len(before)


def test_none_changes_nothing_and_bad_counts_are_refused():
    before = blas_threads()
    with limit_blas_threads(None):
        assert blas_threads() == before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="blas_threads"):
            with limit_blas_threads(bad):  # type: ignore[arg-type]
                pass


@pytest.mark.parametrize("lead_time,penalty", [(2, 9.0), (3, 39.0)])
def test_dp_answer_does_not_depend_on_the_blas_threads(lead_time, penalty):
    a = solve_lost_sales(lead_time, 1.0, penalty, blas_threads=1)
    b = solve_lost_sales(lead_time, 1.0, penalty, blas_threads=None)
    assert a.average_cost == b.average_cost
    assert np.array_equal(a.policy.table, b.policy.table)


def test_block_route_answer_does_not_depend_on_the_blas_threads():
    """A truncation large enough for the block-by-block update (GridBlocks) at L = 3."""
    trunc = Truncation(50, 50)
    assert (trunc.max_position + 1) * (trunc.max_order + 1) ** 3 > DENSE_Q
    a = solve_lost_sales(3, 1.0, 9.0, truncation=trunc, blas_threads=1)
    b = solve_lost_sales(3, 1.0, 9.0, truncation=trunc, blas_threads=None)
    assert a.iterations == b.iterations
    assert a.average_cost == b.average_cost
    assert np.array_equal(a.policy.table, b.policy.table)
