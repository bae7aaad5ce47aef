"""scenarios.sweep: cells, files, resuming, the CLI handler, the same numbers on every executor."""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import replace

import pytest
from ray_cluster import ray_cluster_fixture  # noqa: F401  (the module's Ray cluster)

from des_supply.executors import ProcessExecutor, make_executor
from scenarios import ScenarioError
from scenarios.cli import CliError
from scenarios.sweep import (
    PolicyChoice,
    SweepError,
    SweepSettings,
    add_sweep_command,
    parse_grid,
    sweep,
)

# backlog single stage: the newsvendor fractile, so optimize takes milliseconds
FAST = SweepSettings(
    "single-stage",
    {"lead_time": (1, 2), "penalty": (4.0,)},
    {"shortage": "backlog"},
    periods=300,
    warmup=30,
    replications=3,
    seed=5,
)
LEVELS = replace(
    FAST,
    policies=(
        PolicyChoice("base-stock", {"level": 8.0}),
        PolicyChoice("base-stock", {"level": 12.0}),
    ),
    optimize=False,
)


def numbers(result) -> list[tuple]:
    return [
        (
            r["lead_time"],
            r["penalty"],
            r["policy"],
            json.dumps(r["policy_params"]),
            r["mean"],
            r["ci95_low"],
            r["ci95_high"],
            r["optimum"],
        )
        for r in result.rows
    ]


def test_cells_rows_and_files(tmp_path, capsys) -> None:
    res = sweep(FAST, tmp_path)
    assert [(r["lead_time"], r["policy"]) for r in res.rows] == [
        (1, "optimal"),
        (2, "optimal"),
    ]  # best-base-stock is the same policy: listed once
    for r in res.rows:
        assert r["ci95_low"] < r["mean"] < r["ci95_high"]
        assert r["exact"] is True and r["optimum"] == r["optimizer_value"]
        assert r["mean"] == pytest.approx(r["optimum"], rel=0.15)
        assert r["gap_pct"] == 0.0
    assert res.rows[1]["optimum"] > res.rows[0]["optimum"]  # a longer lead time costs
    with (tmp_path / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [float(t["mean"]) for t in table] == [r["mean"] for r in res.rows]
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(res.rows))
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert len(list((tmp_path / "cells").glob("*.json"))) == 2
    assert "sweep single-stage: 2/2 cells (100%)" in capsys.readouterr().err  # not a terminal


def test_resume_skips_done_cells_and_refuses_other_settings(tmp_path) -> None:
    first = sweep(LEVELS, tmp_path, progress=False)
    assert (first.computed, first.reused) == (2, 0)
    assert [r["policy_params"]["level"] for r in first.rows] == [8.0, 12.0, 8.0, 12.0]
    assert first.rows[0]["gap_pct"] > 0 and first.rows[1]["gap_pct"] == 0  # level 12 is better
    wider = replace(LEVELS, grid={"lead_time": (1, 2, 3), "penalty": (4.0,)})
    again = sweep(wider, tmp_path, progress=False)
    assert (again.computed, again.reused) == (1, 2)
    assert numbers(again)[:4] == numbers(first)
    with pytest.raises(SweepError, match=r"other settings \(replications: 3 there, 4 now\)"):
        sweep(replace(wider, replications=4), tmp_path, progress=False)


def test_a_policy_that_does_not_apply_gets_its_reason(tmp_path) -> None:
    s = replace(
        LEVELS,
        grid={"lead_time": (1,)},
        policies=(
            PolicyChoice("ss", {"s": 9.0, "S": 5.0}),
            PolicyChoice("base-stock", {"level": 9.0}),
        ),
    )
    bad, good = sweep(s, tmp_path, progress=False).rows
    assert bad["mean"] is None and "S(=5.0) must be >= s(=9.0)" in bad["error"]
    assert good["error"] is None and good["mean"] > 0


def test_settings_are_checked() -> None:
    with pytest.raises(SweepError, match="no parameter 'lead'.*lead_time"):
        replace(FAST, grid={"lead": (1,)})
    with pytest.raises(SweepError, match="'lead_time' is both fixed"):
        replace(FAST, params={"lead_time": 2})
    with pytest.raises(SweepError, match="repeats a value"):
        replace(FAST, grid={"lead_time": (1, 1)})
    with pytest.raises(SweepError, match="unknown policy 'base-stok'"):
        replace(FAST, policies=(PolicyChoice("base-stok"),))
    with pytest.raises(SweepError, match="'base-stock' has no parameter.*size.*level"):
        replace(FAST, policies=(PolicyChoice("base-stock", {"size": 3.0}),))
    with pytest.raises(SweepError, match="'list-price' needs parameter.*level"):
        replace(FAST, policies=(PolicyChoice("list-price"),))
    with pytest.raises(SweepError, match="nothing to simulate"):
        replace(FAST, optimize=False)
    with pytest.raises(SweepError, match=r"replications\(=0\)"):
        replace(FAST, replications=0)
    with pytest.raises(SweepError, match=r"periods\(=0\) must be >= 1"):
        replace(FAST, periods=0)
    with pytest.raises(SweepError, match=r"warmup\(=300\) must be smaller than periods\(=300\)"):
        replace(FAST, warmup=300)
    assert parse_grid("single-stage", ["lead_time=1, 2", "penalty=4"]) == {
        "lead_time": (1, 2),
        "penalty": (4.0,),
    }
    with pytest.raises(ScenarioError, match="lead_time=.1.5. is not a valid int"):
        parse_grid("single-stage", ["lead_time=1.5"])
    with pytest.raises(SweepError, match="must look like key=value1,value2"):
        parse_grid("single-stage", ["lead_time="])


def run_cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="des-supply")
    add_sweep_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.func(args)


def test_cli_handler(tmp_path, capsys) -> None:
    out = tmp_path / "s"
    run_cli(
        [
            "sweep",
            "single-stage",
            "--grid",
            "lead_time=1,2",
            "--param",
            "shortage=backlog",
            "--policy",
            "base-stock",
            "level=8",
            "--policy",
            "base-stock",
            "level=12",
            "--no-optimize",
            "--periods",
            "300",
            "--warmup",
            "30",
            "--replications",
            "3",
            "--seed",
            "5",
            "--out",
            str(out),
            "--backend",
            "processes",
            "--workers",
            "2",
            "--json",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert [r["policy_params"]["level"] for r in printed["rows"]] == [8.0, 12.0, 8.0, 12.0]
    expected = sweep(replace(LEVELS, grid={"lead_time": (1, 2)}), tmp_path / "ref", progress=False)
    assert [r["mean"] for r in printed["rows"]] == [r["mean"] for r in expected.rows]
    with pytest.raises(CliError, match="no parameter 'lead'"):
        run_cli(["sweep", "single-stage", "--grid", "lead=1,2", "--out", str(out)])
    with pytest.raises(CliError, match="--address applies to --backend ray"):
        run_cli(["sweep", "single-stage", "--grid", "lead_time=1", "--address", "auto"])
    other = [
        "sweep",
        "single-stage",
        "--grid",
        "lead_time=1",
        "--param",
        "shortage=backlog",
        "--policy",
        "base-stock",
        "level=8",
        "--no-optimize",
        "--periods",
        "100",
        "--out",
        str(out),
    ]
    with pytest.raises(CliError, match="other settings"):
        run_cli(other)
    run_cli([*other, "--overwrite", "--json"])  # starts afresh
    assert len(json.loads(capsys.readouterr().out)["rows"]) == 1
    assert len(list((out / "cells").iterdir())) == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a sweep")
    with pytest.raises(CliError, match="holds files but no sweep"):
        run_cli([*other[:-1], str(tmp_path / "mine")])
    with pytest.raises(CliError, match="--overwrite replaces a sweep; .* holds none"):
        run_cli([*other[:-1], str(tmp_path / "mine"), "--overwrite"])


def test_processes_give_the_serial_numbers(tmp_path) -> None:
    serial = sweep(FAST, tmp_path / "serial", progress=False)
    with ProcessExecutor(2) as ex:
        parallel = sweep(FAST, tmp_path / "processes", executor=ex, progress=False)
    assert numbers(parallel) == numbers(serial)


def test_ray_gives_the_serial_numbers(tmp_path, ray_cluster) -> None:
    serial = sweep(FAST, tmp_path / "serial", progress=False)
    with make_executor("ray") as ex:
        distributed = sweep(FAST, tmp_path / "ray", executor=ex, progress=False)
    assert numbers(distributed) == numbers(serial)
