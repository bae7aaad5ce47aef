"""The block-by-block lost-sales DP (``GridBlocks``) against the whole-grid one it replaces
on large grids: the same Bellman values, the same policies, the same chain evaluations, and
size guards that bound what it allocates."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import optimization.lost_sales as ls
import optimization.lost_sales_model as lsm
from optimization.lost_sales import _bellman, check_memory, solve_lost_sales
from optimization.lost_sales_model import (
    GridBlocks,
    LostSalesModel,
    StateSpace,
    Truncation,
    evaluate_orders,
)

CASES = [(2, 4.0, 0.0), (3, 9.0, 0.0), (3, 19.0, 5.0), (4, 39.0, 0.0)]


@pytest.mark.parametrize(("L", "p", "K"), CASES)
def test_block_bellman_equals_the_whole_grid_one(L, p, K):
    model = LostSalesModel(L, 1.0, p, fixed_cost=K)
    trunc = Truncation.default(model)
    S = trunc.max_position
    blocks = GridBlocks(model, trunc)
    V = np.random.default_rng(L).random(blocks.feasible.shape) * 50
    T = _bellman(model, trunc)
    flat = V.reshape(S + 1, -1)
    inside = blocks.feasible.reshape(S + 1, -1)
    new = blocks.bellman(V, model.period_cost(S + 1), blocks.grid()).reshape(S + 1, -1)
    assert np.allclose(new[inside], T(flat)[inside], rtol=1e-13, atol=0)
    assert np.isinf(new[~inside]).all()
    table = blocks.argmin(V, blocks.grid(np.int64)).reshape(S + 1, -1)
    assert np.array_equal(table[inside], T(flat, True)[inside])
    assert (table[~inside] == -1).all()


@pytest.mark.parametrize(("L", "p", "K"), CASES[:3])
def test_chain_on_the_grid_equals_the_sparse_chain(L, p, K, monkeypatch):
    model = LostSalesModel(L, 1.0, p, fixed_cost=K)
    trunc = Truncation.default(model)
    space = StateSpace.build(L, trunc)
    wanted = np.random.default_rng(0).integers(0, trunc.max_order + 3, len(space))
    sparse_ev, sparse_pi = evaluate_orders(model, space, wanted)
    monkeypatch.setattr(lsm, "SPARSE_TRANSITIONS", 0)  # every chain goes to the grid
    assert lsm.grid_chain(L, trunc)
    grid_ev, grid_pi = evaluate_orders(model, space, wanted)
    assert grid_ev.iterations == sparse_ev.iterations and grid_ev.states == sparse_ev.states
    for field in ("average_cost", "holding_cost", "lost_sales", "order_frequency", "clipped_mass"):
        assert getattr(grid_ev, field) == pytest.approx(getattr(sparse_ev, field), abs=1e-12)
    assert np.allclose(grid_pi, sparse_pi, atol=1e-14)
    assert sparse_ev.clipped_mass > 0.01  # the random orders do hit the caps


@pytest.mark.parametrize(("L", "p", "K"), [(3, 9.0, 0.0), (4, 4.0, 0.0), (3, 19.0, 5.0)])
def test_block_solver_equals_the_whole_grid_solver(L, p, K, monkeypatch):
    dense = solve_lost_sales(L, 1.0, p, fixed_cost=K)
    monkeypatch.setattr(ls, "DENSE_Q", 0)  # relative value iteration block by block
    monkeypatch.setattr(lsm, "SPARSE_TRANSITIONS", 0)  # and the chain on the grid
    blocks = solve_lost_sales(L, 1.0, p, fixed_cost=K)
    assert blocks.iterations == dense.iterations
    assert blocks.average_cost == pytest.approx(dense.average_cost, rel=1e-12)
    assert blocks.stationary_cost == pytest.approx(dense.stationary_cost, rel=1e-12)
    assert blocks.boundary_mass == pytest.approx(dense.boundary_mass, abs=1e-15)
    assert blocks.states == dense.states
    assert np.array_equal(blocks.table, dense.table)
    assert np.allclose(blocks.values, dense.values, rtol=1e-12, atol=1e-9)


def peak_of(f) -> int:
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("route", ["whole grid", "blocks"])
def test_the_size_guard_bounds_the_solver(route, monkeypatch):
    model = LostSalesModel(4, 1.0, 19.0)
    trunc = Truncation.default(model)
    if route == "blocks":
        monkeypatch.setattr(ls, "DENSE_Q", 0)
        monkeypatch.setattr(lsm, "SPARSE_TRANSITIONS", 0)
    need = check_memory(4, trunc, float("inf"))
    peak = peak_of(lambda: solve_lost_sales(4, 1.0, 19.0))
    assert peak <= need <= 6 * peak + 2**21, (peak, need)


def test_large_lead_times_are_sized_by_blocks_not_q_values():
    """L = 6, p = 39 (18.6M grid points, 241M Q-values): the block solver's estimate is
    about 2 GiB, the whole-grid Q-values' over 13 GiB (the myopic tables are refused)."""
    trunc = Truncation.default(LostSalesModel(6, 1.0, 39.0))
    assert check_memory(6, trunc, float("inf")) < 3 * 2**30
    with pytest.raises(ValueError, match="would need about 1[0-9].[0-9] GiB"):
        check_memory(6, trunc, 4 * 2**30, dense=True)


@pytest.mark.parametrize(("L", "p", "K"), CASES)
def test_block_myopic_tables_equal_the_whole_grid_ones(L, p, K):
    """The myopic and myopic-2 tables built block by block (what L = 6 needs) are the
    whole-grid tables, entry for entry."""
    from optimization.lost_sales_heuristics import myopic_tables, myopic_tables_blocks

    model = LostSalesModel(L, 1.0, p, fixed_cost=K)
    trunc = Truncation.default(model)
    for dense, blocks in zip(
        myopic_tables(model, trunc), myopic_tables_blocks(model, trunc), strict=True
    ):
        assert np.array_equal(dense, blocks)


def test_heuristics_build_myopic_tables_by_blocks_when_the_grid_is_too_large(monkeypatch):
    """With the whole-grid guard refusing, heuristics() takes the block route and gets the
    same costs (L = 3, p = 9)."""
    import optimization.lost_sales_heuristics as lsh

    want = ls.heuristics(3, 1.0, 9.0, names=("myopic", "myopic-2"))
    used = []

    def refuse(L, trunc, limit, *, dense=False):
        if dense:
            raise ValueError("whole-grid Q-values refused (test)")
        return 0

    blocks = lsh.myopic_tables_blocks
    monkeypatch.setattr(ls, "check_memory", refuse)
    monkeypatch.setattr(lsh, "myopic_tables_blocks", lambda *a: used.append(1) or blocks(*a))
    got = ls.heuristics(3, 1.0, 9.0, names=("myopic", "myopic-2"))
    assert used == [1]
    for name in ("myopic", "myopic-2"):
        assert got[name].value == want[name].value
