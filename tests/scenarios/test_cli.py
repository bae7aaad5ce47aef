"""The ``des-supply`` command line, run in-process (``main(argv)``) with captured output."""

from __future__ import annotations

import dataclasses
import json

import pytest

import scenarios
from des_supply.distributions import Trace
from scenarios.cli import main, parse_policy_params

SIX = {
    "assembly",
    "beer-game",
    "orgym-inventory",
    "orgym-inventory-lost",
    "owmr",
    "random-dag",
    "serial",
    "single-stage",
    "continuous-review",
    "dual-sourcing",
    "continuous-owmr",
    "recommendation-fashion-small",
    "recommendation-fashion-medium",
    "pricing-a",
    "pricing-b",
    "pricing-c",
    "pricing-d",
    "recommendation-small",
    "recommendation-medium",
    "recommendation-large",
    "collaborative",
}
FAST = ["--periods", "300", "--replications", "2"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, match=""):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("des-supply: error:"), err
    assert match in lines[0]
    assert out == ""


def test_scenarios_lists_every_scenario(capsys):
    code, out, err = run(capsys, "scenarios")
    assert code == 0 and err == ""
    for name in SIX:
        assert any(line.startswith(name) for line in out.splitlines()), name
    assert "parameters: lead_time=2" in out


def test_scenarios_json(capsys):
    code, out, _ = run(capsys, "scenarios", "--json")
    data = json.loads(out)
    assert code == 0 and {s["name"] for s in data} == SIX == set(scenarios.names())
    single = next(s for s in data if s["name"] == "single-stage")
    assert set(single) == {"name", "summary", "parameters", "periods", "warmup"}
    assert single["parameters"]["lead_time"] == 2 and single["periods"] == 20_000


def test_simulate_json(capsys):
    code, out, err = run(
        capsys,
        "simulate",
        "single-stage",
        "--param",
        "lead_time=2",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=18",
        "--json",
        "--periods",
        "2000",
        "--replications",
        "3",
    )
    assert code == 0 and err == ""
    res = json.loads(out)
    for key in (
        "scenario",
        "params",
        "policy",
        "periods",
        "replications",
        "seed",
        "objective",
        "mean",
        "ci95",
        "fill_rate",
        "nodes",
    ):
        assert key in res, key
    assert res["scenario"] == "single-stage" and res["params"] == {"lead_time": 2}
    assert res["policy"] == "base-stock" and res["policy_params"] == {"level": 18.0}
    assert res["periods"] == 2000 and res["replications"] == 3 and res["seed"] == 0
    assert res["objective"] == "cost" and len(res["per_replication"]) == 3
    lo, hi = res["ci95"]
    assert lo < res["mean"] < hi
    assert set(res["nodes"]) == {"supplier", "stage"} and 0 < res["fill_rate"] <= 1
    assert res["warmup"] == 200  # the scenario's warm-up, capped at a tenth of the periods


def test_simulate_json_is_reproducible_and_matches_the_library(capsys):
    from des_supply import BaseStock
    from des_supply.evaluate import simulate

    argv = [
        "simulate",
        "owmr",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=12",
        "--json",
        "--warmup",
        "10",
        *FAST,
    ]
    first = json.loads(run(capsys, *argv)[1])
    second = json.loads(run(capsys, *argv)[1])
    assert first["mean"] == second["mean"]
    lib = simulate(
        scenarios.make("owmr").network,
        BaseStock(12),
        periods=300,
        replications=2,
        warmup=10,
        seed=0,
    )
    assert first["mean"] == lib.mean and first["per_replication"] == lib.per_replication.tolist()


def test_keep_ledger_writes_every_replications_ledger_as_csv(capsys, tmp_path):
    """``--keep-ledger`` writes the full ledgers (the library's, value for value, repr floats);
    the summary on stdout is the same as without it."""
    import csv

    from des_supply import BaseStock
    from des_supply.evaluate import simulate
    from des_supply.ledger import FIELDS

    target = tmp_path / "ledger.csv"
    argv = ["simulate", "owmr", "--policy", "base-stock", "--policy-param", "level=12", "--json"]
    argv += ["--warmup", "10", *FAST]
    with_csv = json.loads(run(capsys, *argv, "--keep-ledger", str(target))[1])
    assert with_csv["mean"] == json.loads(run(capsys, *argv)[1])["mean"]
    lib = simulate(
        scenarios.make("owmr").network,
        BaseStock(12),
        periods=300,
        replications=2,
        warmup=10,
        seed=0,
        keep_ledgers=True,
    )
    with target.open() as f:
        rows = list(csv.DictReader(f))
    nodes = lib.ledgers[0].nodes
    assert len(rows) == 2 * 300 * len(nodes)
    for row in rows[:: len(nodes) * 7] + rows[-len(nodes) :]:
        ledger = lib.ledgers[int(row["replication"])]
        t, i = int(row["period"]), nodes.index(row["node"])
        assert [float(row[f]) for f in FIELDS] == [ledger.data[f][t, i] for f in FIELDS]
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.csv"]  # no temporary file left


def test_simulate_table(capsys):
    code, out, err = run(
        capsys,
        "simulate",
        "single-stage",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=18",
        *FAST,
    )
    assert code == 0 and err == ""
    assert "mean cost per period" in out and "95% CI" in out and "fill rate" in out
    assert any(line.startswith("stage") for line in out.splitlines())


def test_network_json_file(capsys, tmp_path):
    path = tmp_path / "net.json"
    scenarios.make("single-stage", lead_time=1).network.to_json(path)
    code, out, _ = run(
        capsys,
        "simulate",
        str(path),
        "--policy",
        "base-stock",
        "--policy-param",
        "level=12",
        "--json",
        *FAST,
    )
    res = json.loads(out)
    assert code == 0 and res["scenario"] == str(path) and res["params"] == {}
    assert res["periods"] == 300 and res["warmup"] == 30  # min(problem warm-up 100, periods // 10)


def test_per_node_policy_params(capsys):
    code, out, _ = run(
        capsys,
        "simulate",
        "serial",
        "--policy",
        "echelon-base-stock",
        "--policy-param",
        "level=stage1:6.49,stage2:12.02,stage3:22.71",
        "--json",
        *FAST,
    )
    res = json.loads(out)
    assert code == 0
    assert res["policy_params"] == {"level": {"stage1": 6.49, "stage2": 12.02, "stage3": 22.71}}
    assert 30 < res["mean"] < 70


def test_parse_policy_params():
    assert parse_policy_params(["level=20", "cap=a:1, b:2"]) == {
        "level": 20.0,
        "cap": {"a": 1.0, "b": 2.0},
    }


def test_plot_writes_a_png(capsys, tmp_path):
    target = tmp_path / "run.png"
    code, _, _ = run(
        capsys,
        "simulate",
        "single-stage",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=18",
        "--plot",
        str(target),
        *FAST,
    )
    assert code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.png"]  # no temporary file left


def test_failing_run_leaves_no_plot(capsys, tmp_path):
    net = scenarios.make("single-stage").network  # a demand trace that stops after 5 periods
    net = net.replace_node("stage", demand=Trace((3.0, 4.0, 5.0, 4.0, 3.0), after="stop"))
    path = tmp_path / "net.json"
    net.to_json(path)
    target = tmp_path / "run.png"
    code, out, err = run(
        capsys,
        "simulate",
        str(path),
        "--policy",
        "base-stock",
        "--policy-param",
        "level=10",
        "--plot",
        str(target),
        *FAST,
    )
    assert_one_line_error(code, out, err, "simulation failed")
    assert list(tmp_path.iterdir()) == [path]


def test_optimize_text_shows_the_solver_status_that_json_carries(capsys, monkeypatch):
    import optimization.optimize as opt

    real = opt.optimize

    def with_status(problem, **kw):
        res = real(problem, **kw)
        return dataclasses.replace(
            res, details={**res.details, "bound_terminations": ["maxTimeLimit"]}
        )

    monkeypatch.setattr(opt, "optimize", with_status)
    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    assert code == 0 and "solver bound_terminations: maxTimeLimit" in out
    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog", "--json")
    assert json.loads(out)["details"]["bound_terminations"] == ["maxTimeLimit"]


def test_optimize_headline_calls_a_bound_a_bound(capsys, monkeypatch):
    """When the optimizer returns a bound (no runnable policy) the first line says "lower bound
    on cost" (or "upper bound on profit"), never "optimal"."""
    import optimization.optimize as opt

    real = opt.optimize

    def as_bound(problem, **kw):
        res = real(problem, **kw)
        bound = dataclasses.replace(
            res.optimal, name="some-bound", value=0.5, method="a test bound", policy=None
        )
        return dataclasses.replace(res, optimal=bound, policies=[res.optimal, *res.policies])

    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    assert code == 0 and "optimal cost per period" in out.splitlines()[0]
    monkeypatch.setattr(opt, "optimize", as_bound)
    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    first = out.splitlines()[0]
    assert code == 0 and "lower bound on cost per period 0.5000" in first, first
    assert "optimal" not in first
    assert "some-bound is a bound" in out


def test_optimize_headline_calls_a_searched_best_best_known(capsys, monkeypatch):
    """Without an exact method (``details["exact_method_skipped"]``) the best searched policy
    stands in for the optimum: the first line says "best known", never "optimal", and the
    policy is listed once (not as the headline row and again among the policies)."""
    import optimization.optimize as opt

    real = opt.optimize

    def not_exact(problem, **kw):
        res = real(problem, **kw)
        top = res.policies[0]
        return dataclasses.replace(
            res, optimal=top, details={**res.details, "exact_method_skipped": "a test"}
        )

    monkeypatch.setattr(opt, "optimize", not_exact)
    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    first, lines = out.splitlines()[0], out.splitlines()
    assert code == 0 and "best known cost per period" in first and "optimal" not in first
    top = real(scenarios.make("single-stage", shortage="backlog")).policies[0].name
    assert sum(line.startswith(f"{top} ") for line in lines) == 1, out


def test_optimize_says_which_values_are_on_its_sampled_paths(capsys, monkeypatch):
    """Values on the optimizer's short sampled paths include the start-up, unlike simulate's
    long-run means: the text output names those policies and the paths."""
    import optimization.optimize as opt

    real = opt.optimize

    def on_paths(problem, **kw):
        res = real(problem, **kw)
        heuristic = dataclasses.replace(res.policies[0], periods=52)
        return dataclasses.replace(
            res,
            policies=[heuristic, *res.policies[1:]],
            details={**res.details, "periods": 52, "replications": 3},
        )

    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    assert code == 0 and "sampled paths" not in out
    monkeypatch.setattr(opt, "optimize", on_paths)
    code, out, _ = run(capsys, "optimize", "single-stage", "--param", "shortage=backlog")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("values of "))
    assert "3 sampled paths of 52 periods" in line and "start-up included" in line


def test_help_documents_errors_interrupts_and_the_memory_limit(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for text in ("status 2", "status\n130", "train --resume DIR", "DES_SUPPLY_MEMORY_LIMIT"):
        assert text in out, text


def test_installation_policy_under_simultaneous_decisions_gets_one_line_note(capsys):
    """Issue 11: the CLI says when a policy runs under a convention that changes its meaning."""
    args = (
        "simulate",
        "serial",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=20",
        "--periods",
        "30",
        "--replications",
        "2",
        "--json",
    )
    code, out, err = run(capsys, *args, "--param", "decisions=simultaneous")
    assert code == 0 and json.loads(out)["mean"] > 0
    assert err.count("\n") == 1 and "decides simultaneously" in err and "'base-stock'" in err
    code, out, err = run(capsys, *args)  # serial's default: sequential decisions
    assert code == 0 and err == ""
    code, out, err = run(
        capsys, *args[:3], "echelon-base-stock", *args[4:], "--param", "decisions=simultaneous"
    )
    assert code == 0 and err == ""  # echelon positions are unaffected


def test_version(capsys):
    import des_supply

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"des-supply {des_supply.__version__}"


def test_simulate_a_continuous_time_scenario(capsys):
    """simulate routes a time='continuous' problem to the continuous engine (per unit time)."""
    code, out, err = run(
        capsys,
        "simulate",
        "continuous-review",
        "--policy",
        "rq",
        "--policy-param",
        "r=9",
        "--policy-param",
        "Q=16",
        "--horizon",
        "400",
        "--replications",
        "2",
        "--json",
    )
    assert code == 0 and err == ""
    res = json.loads(out)
    assert res["time"] == "continuous" and res["horizon"] == 400 and res["mean"] > 0
    code, out, err = run(
        capsys,
        "simulate",
        "continuous-owmr",
        "--policy",
        "base-stock",
        "--policy-param",
        "level=5",
        "--horizon",
        "100",
        "--replications",
        "2",
    )
    assert code == 0 and "per unit time" in out and err == ""  # no convention note here
