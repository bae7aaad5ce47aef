"""The study tables (``compare``, ``sweep``) as pandas DataFrames, and the one-line error
when pandas is not installed."""

from __future__ import annotations

import sys

import pytest
from networks import TINY_SEARCH

import scenarios
from scenarios.compare import compare
from scenarios.sweep import SweepSettings, sweep

pd = pytest.importorskip("pandas")


def test_a_sweep_table_as_a_dataframe(tmp_path):
    settings = SweepSettings(
        "single-stage",
        {"lead_time": (1, 2)},
        {"shortage": "backlog"},
        periods=200,
        warmup=20,
        replications=2,
        seed=3,
    )
    res = sweep(settings, tmp_path, progress=False)
    frame = res.to_pandas()
    assert len(frame) == len(res.rows) == 2  # one policy per cell: the optimum
    assert {"lead_time", "policy", "mean", "ci95_low", "ci95_high", "optimum"} <= set(frame)
    for (_, got), row in zip(frame.iterrows(), res.rows, strict=True):
        assert got["lead_time"] == row["lead_time"] and got["policy"] == row["policy"]
        assert got["mean"] == row["mean"] and got["ci95_high"] == row["ci95_high"]


def test_a_compare_table_as_a_dataframe(tmp_path):
    problem = scenarios.make("single-stage", shortage="backlog")
    res = compare(
        problem,
        steps=256,
        episodes=2,
        periods=16,
        out_dir=tmp_path,
        progress=False,
        optimize_options={"bound_periods": 8, "bound_replications": 1},
        search=TINY_SEARCH,
    )
    frame = res.to_pandas()
    assert list(frame.index) == [r["name"] for r in res.rows]
    assert frame.index.name == "name" and (frame["problem"] == res.name).all()
    for name, row in zip(frame.index, res.rows, strict=True):
        assert frame.loc[name, "mean"] == row["mean"]
        assert [frame.loc[name, "ci95_low"], frame.loc[name, "ci95_high"]] == row["ci95"]
        if row["vs_reference"] is not None:
            assert frame.loc[name, "vs_reference_high"] == row["vs_reference"][2]
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_without_pandas_to_pandas_says_how_to_install_it(tmp_path, monkeypatch):
    settings = SweepSettings(
        "single-stage", {"lead_time": (1,)}, {}, periods=50, warmup=5, replications=1, seed=1
    )
    res = sweep(settings, tmp_path, progress=False)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"^to_pandas needs pandas: pip install pandas"):
        res.to_pandas()
