"""The command line on continuous-time problems: ``simulate --horizon/--review``."""

from __future__ import annotations

import json

import pytest

import scenarios
from des_supply.continuous import simulate_continuous
from des_supply.policies import BaseStock
from scenarios.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err, match):
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("des-supply: error:") and match in err, err


SIM = ("simulate", "continuous-review", "--policy", "base-stock", "--policy-param", "level=12")


@pytest.mark.parametrize("review", ["demand", "arrival", "2.5"])
def test_simulate_json_is_the_library_run_per_unit_time(capsys, review):
    code, out, err = run(
        capsys, *SIM, "--horizon", "150.5", "--warmup", "10", "--review", review,
        "--replications", "3", "--seed", "4", "--json",
    )  # fmt: skip
    assert code == 0 and err == ""
    res = json.loads(out)
    expected = simulate_continuous(
        scenarios.make("continuous-review"),
        BaseStock(12.0),
        horizon=150.5,
        warmup=10.0,
        replications=3,
        seed=4,
        review=float(review) if review[0].isdigit() else review,
    )
    assert res["horizon"] == 150.5 and res["time"] == "continuous"
    assert res["review"] == (float(review) if review[0].isdigit() else review)
    assert res["mean"] == expected.mean and res["ci95"] == list(expected.ci95)
    stage = res["nodes"]["stage"]
    want = expected.nodes["stage"]
    assert (stage["on_hand"], stage["backlog"], stage["fill_rate"]) == (
        want.on_hand,
        want.backlog,
        want.fill_rate,
    )
    assert 0 < stage["fill_rate"] < 1 and stage["on_hand"] > 0


def test_review_changes_the_run(capsys):
    means = {}
    for review in ("demand", "4"):
        code, out, _ = run(capsys, *SIM, "--horizon", "200", "--review", review, "--json")
        assert code == 0
        means[review] = json.loads(out)["mean"]
    # reviewing every 4 time units with a level set for continuous review backlogs more
    assert means["4"] > means["demand"]


def test_text_output_names_the_units(capsys):
    code, out, err = run(capsys, *SIM, "--horizon", "100", "--replications", "2")
    assert code == 0 and err == ""
    assert "horizon 100 time units, review at demand" in out and "per unit time" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        ((*SIM, "--periods", "100"), "give its length with --horizon T"),
        ((*SIM, "--horizon", "0"), "--horizon(=0.0) must be a number > 0"),
        ((*SIM, "--horizon", "nan"), "must be a number > 0"),
        ((*SIM, "--review", "often"), "--review 'often' must be demand, arrival, event"),
        ((*SIM, "--review", "-1"), "review interval R > 0"),
        ((*SIM, "--horizon", "50", "--warmup", "50"), "--warmup(=50) must be smaller than"),
        (
            ("simulate", "single-stage", "--policy", "base-stock", "--horizon", "10"),
            "--horizon is for continuous-time problems",
        ),
        (
            ("simulate", "single-stage", "--policy", "base-stock", "--review", "demand"),
            "--review is for continuous-time problems",
        ),
    ],
)
def test_wrong_time_options_are_refused_in_one_line(capsys, argv, match):
    one_line_error(*run(capsys, *argv), match)


@pytest.mark.parametrize("review", ["arrival", "2.5"])
def test_evaluate_a_policy_under_a_review_rule_is_the_library_evaluation(capsys, review):
    from rl.evaluation import evaluate_policy

    code, out, err = run(
        capsys, "evaluate", "base-stock", "--scenario", "continuous-review", "--policy-param",
        "level=12", "--horizon", "60", "--episodes", "3", "--review", review, "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    rule = float(review) if review[0].isdigit() else review
    expected = evaluate_policy(
        scenarios.make("continuous-review"),
        BaseStock(12.0),
        periods=60,  # type: ignore[arg-type]
        seed=0,
        episodes=3,
        review=rule,
    )
    demand = evaluate_policy(
        scenarios.make("continuous-review"), BaseStock(12.0), periods=60, seed=0, episodes=3
    )
    assert res["review"] == rule and res["per_episode"] == list(expected.per_episode)
    assert res["per_episode"] != list(demand.per_episode)
    code, out, err = run(
        capsys, "evaluate", "base-stock", "--scenario", "continuous-review", "--policy-param",
        "level=12", "--horizon", "60", "--episodes", "3", "--review", "2.5",
    )  # fmt: skip
    assert code == 0 and "review every 2.5 time units" in out, err
    one_line_error(
        *run(capsys, "evaluate", "base-stock", "--scenario", "single-stage", "--review", "2"),
        "--review is for continuous-time problems",
    )


def test_library_simulate_takes_review():
    from des_supply.evaluate import simulate

    problem = scenarios.make("continuous-review")
    res = simulate(problem, BaseStock(12.0), periods=100, replications=2, review=3.0)
    direct = simulate_continuous(
        problem, BaseStock(12.0), horizon=100, warmup=0, replications=2, review=3.0
    )
    assert res.mean == direct.mean
    with pytest.raises(ValueError, match="review.*periodic"):
        simulate(scenarios.make("single-stage"), BaseStock(12.0), periods=10, review="demand")


def test_optimize_continuous_owmr(capsys):
    code, out, err = run(capsys, "optimize", "continuous-owmr", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["optimal"]["name"] == "base-stock"
    assert set(res["optimal"]["params"]["level"]) == {"warehouse", "r1", "r2", "r3"}
    assert [p["name"] for p in res["policies"]] == ["base-stock-metric"]
    code, out, err = run(capsys, "optimize", "continuous-owmr")
    assert code == 0 and "optimal cost per unit time" in out


def test_optimize_verify_takes_a_horizon_in_continuous_time(capsys):
    """``optimize --verify`` runs a continuous problem for ``--horizon`` time units (recorded
    under that name), refuses ``--periods`` there and ``--horizon`` on a periodic problem."""
    argv = ("optimize", "continuous-review", "--verify", "--replications", "2", "--json")
    code, out, err = run(capsys, *argv, "--horizon", "800")
    assert code == 0, err
    check = json.loads(out)["verification"]
    assert check["horizon"] == 800 and "periods" not in check
    assert {row["name"] for row in check["policies"]} >= {"rq", "base-stock"}
    one_line_error(*run(capsys, *argv, "--periods", "800"), "--horizon T")
    one_line_error(
        *run(capsys, "optimize", "single-stage", "--verify", "--horizon", "800"),
        "--horizon is for continuous-time problems",
    )
    one_line_error(*run(capsys, *argv, "--horizon", "300"), "must be > 500")
