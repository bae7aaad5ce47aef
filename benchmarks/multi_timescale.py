"""The multi-timescale study (second seed paper, Jiang, Han, Peng & Zhang 2025): issue 16, items 4-5.

Subcommands (each writes JSON/markdown/figures into ``--out``):

``study``   :func:`scenarios.recommendation_study.run_study` on one scenario for training
            seeds ``--seed`` .. ``--seed + --seeds - 1`` (one folder ``--out/seedS`` each),
            every seed evaluated on the SAME episodes (root seed ``--eval-seed``, default
            the test episodes training seed 1 always used; ``--validation``: other
            episodes, for choosing settings), through ``benchmarks/figure2.py``'s run loop:
            ``--json`` (rewritten after every seed) pooled with ``--pool`` results of the
            same case.  It trains the chosen agents (Joint IM-RS, IM-only, RS-only, the
            two-timescale MAPPO pair) and evaluates them with the heuristic references on
            common random numbers.  With ``--k K > 1`` the MAPPO replenishment agent
            decides every K periods and the table gets the periodic-review reference
            (base stock with review period K, levels covering L + K periods, searched on
            CRN, with the margin-optimal static recommendation).  On a selling season
            (``recommendation-fashion-*``) the references are the season policies
            (``base-stock-season-static/-resolve/-learn``) and the MAPPO replenishment
            agent decides once per season.  ``--score-mode structured``: the structured
            recommendation action (rl.recommendation_env, 2N + M components).
``heuristics``  only the heuristic rows, for review periods ``--ks`` (no training).
``trace``   recommendation intensity against stock over time per product for the
            trained agents of study seed folders (``--run`` one or more: Joint and
            MAPPO): per folder ``trace.png``/``trace.json``/``trace.npz``; over all folders
            the replenishment-cycle profile (:func:`cycle_profile`: push and stock by
            phase ``t mod k``, push in the product's low-stock phase over the rest,
            correlation of push with stock overall and in that phase, between products) in
            ``--out/trace_seeds.json`` and ``--out/trace_cycle.png``.
``report``  no training: result files pooled per ``--group LABEL=FILES`` (seeds on the
            same episodes; figure2.pool checks the heuristic rows agree), every agent
            paired with one ``--reference`` heuristic row per seed and pooled (seed
            spread, verdict rule of figure2), and ``--versus NEW OLD`` (repeatable) groups agent by
            agent (e.g. structured - free).  ``--json`` and ``--out/report.md``.
``pairs``   paired 95% CIs between any two rows of ``study.json`` files that share
            their evaluation episodes (e.g. MAPPO vs base-stock-season-learn).

Commands of the README figures (one at a time, ``nice -n 15``)::

    python benchmarks/multi_timescale.py heuristics --scenario recommendation-small --ks 1 3
    python benchmarks/multi_timescale.py study --scenario recommendation-small \\
        --param shortage=lost --k 3 --agents joint mappo --mpc 0 --seed 2 --seeds 2 \\
        --pool benchmarks/results/multi_timescale_small-k3.json \\
        --json runs/multi/small-k3_s23.json --out runs/multi/small-k3
    python benchmarks/multi_timescale.py report \\
        --group k3=benchmarks/results/multi_timescale_small-k3.json,runs/multi/small-k3_s23.json \\
        --reference "periodic base-stock (k=3) + margin" \\
        --json benchmarks/results/multi_timescale_small-k3_seeds.json --out runs/multi/small-k3
    python benchmarks/multi_timescale.py trace --scenario recommendation-small \\
        --param shortage=lost --run runs/multi/small-k3/seed1 runs/multi/small-k3/seed2 \\
        runs/multi/small-k3/seed3 --episodes-trace 10 --out runs/multi/small-k3
    # recommendation-large: validation (--validation) per score mode and initial log std,
    # then 3 seeds per mode at its validated std on the test episodes, then the report
    L="--scenario recommendation-large --agents joint --mpc 0 --episodes 20 --periods 64
       --search-periods 200 --search-replications 2 --steps 40000"
    python benchmarks/multi_timescale.py study $L --validation --score-mode structured \\
        --log-std-init -1.5 --json runs/multi/large-val-structured-std-1.5-40000.json \\
        --out runs/multi/large-val-structured-std-1.5-40000     # also -0.5, -2.5; free
    python benchmarks/multi_timescale.py study $L --score-mode structured --log-std-init -1.5 \\
        --seeds 3 --json runs/multi/large-structured.json --out runs/multi/large-structured
    python benchmarks/multi_timescale.py study $L --score-mode free --log-std-init -0.5 \\
        --seeds 3 --json runs/multi/large-free-std-0.5.json --out runs/multi/large-free-std-0.5
    python benchmarks/multi_timescale.py report --group structured=runs/multi/large-structured.json \\
        --group free=runs/multi/large-free-std-0.5.json --reference "base-stock + margin" \\
        --versus structured free --json benchmarks/results/multi_timescale_large_seeds.json
    python benchmarks/multi_timescale.py study --scenario recommendation-fashion-small \\
        --periods 12 --episodes 200 --gamma 0.99 --steps 100000 --out runs/multi/fashion-s1

Measured (2026-12-04, 2 cores at load 2-13; ``benchmarks/results/multi_timescale_*_seeds.json``):
k = 3 on recommendation-small (lost sales, 3 seeds, 30 common episodes): MAPPO 43.44 (43.39 /
43.42 / 43.52) vs the periodic reference 43.24, +0.21 [-0.10, +0.51] (no seed's CI above or
below 0); the push/stock cycle repeats across the traced seeds.  recommendation-large (3 seeds,
20 common episodes, 40k steps): structured (log std -1.5, chosen on validation) 1247.41, free
(-0.5, its validated std) 1248.35, structured - free -0.95 [-1.61, -0.28]; both below base stock
+ margin (1260.26) in every seed, by 12.86 and 11.91.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np


def figure2() -> Any:
    """``benchmarks/figure2.py`` as a module: its per-seed run loop, pooling over seeds (same
    evaluation episodes, heuristic rows checked equal), paired statistics and verdicts."""
    import importlib.util

    name = "figure2_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("figure2.py"))
        if spec is None or spec.loader is None:
            raise ImportError("benchmarks/figure2.py not found beside multi_timescale.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def eval_seed_of(args: argparse.Namespace) -> int:
    """The evaluation episodes' root seed: the test episodes (the ones training seed 1 of
    every study used, so all seeds pair on common random numbers) or, with
    ``--validation``, other episodes for choosing settings."""
    from scenarios.recommendation_study import EVAL_SEED_OFFSET

    if args.eval_seed is not None:
        return int(args.eval_seed)
    return VALIDATION_SEED if args.validation else EVAL_SEED_OFFSET + 1


# root seed of the validation episodes (tuning); never a test or training root seed
VALIDATION_SEED = 3_000_017


def _settings(args: argparse.Namespace) -> Any:
    from scenarios.recommendation_study import StudySettings

    return StudySettings(
        steps=args.steps,
        seed=args.seed,
        log_std_init=args.log_std_init,
        episodes=args.episodes,
        periods=args.periods,
        replenishment_period=args.k,
        agents=tuple(args.agents),
        mpc=bool(args.mpc),
        gamma=args.gamma,
        score_mode=args.score_mode,
        search_periods=args.search_periods,
        search_replications=args.search_replications,
    )


def _problem(args: argparse.Namespace) -> Any:
    import scenarios

    params = dict(p.split("=", 1) for p in args.param)
    parsed = {k: json.loads(v) if v[:1] in "0123456789-[{tfn" else v for k, v in params.items()}
    return scenarios.make(args.scenario, **parsed)


def cmd_study(args: argparse.Namespace) -> None:
    """Training seeds ``--seed`` .. ``--seed + --seeds - 1``, each in ``--out/seedS``, all
    evaluated on the same episodes (figure2.run); ``--json`` rewritten after every seed,
    pooled with the ``--pool`` results of the same case."""
    fig2 = figure2()
    stderr = sys.stderr
    if not stderr.isatty():  # training progress bars as a line every few seconds in a log
        from scenarios.command import ProgressLines, progress_interval

        sys.stderr = ProgressLines(stderr, max(progress_interval(), 30.0))
    try:
        result = _study_seeds(fig2, args)
    finally:
        sys.stderr = stderr
    for seed, study in result["studies"].items():
        print(f"seed {seed}:")
        for r in study["rows"]:
            print(f"  {r['name']}: {r['mean']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]")


def _study_seeds(fig2: Any, args: argparse.Namespace) -> dict[str, Any]:
    settings = replace(_settings(args), eval_seed=eval_seed_of(args))
    earlier = [json.loads(Path(p).read_text()) for p in args.pool]
    seeds = list(range(args.seed, args.seed + args.seeds))
    return dict(
        fig2.run(
            _problem(args),
            settings,
            seeds,
            Path(args.out),
            Path(args.json) if args.json else None,
            progress=True,
            earlier=earlier,
        )
    )


def cmd_heuristics(args: argparse.Namespace) -> None:
    from scenarios.recommendation_study import run_study

    out = {}
    for k in args.ks:
        settings = replace(_settings(args), agents=(), replenishment_period=k)
        res = run_study(_problem(args), settings, Path(args.out) / f"k{k}", progress=False)
        print(f"k = {k}\n{res.table()}\n")
        out[str(k)] = res.to_dict()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "heuristics.json").write_text(json.dumps(out, indent=2, default=str) + "\n")


def cmd_trace(args: argparse.Namespace) -> None:
    """Trace the trained agents of each ``--run`` folder (a study seed folder), print each
    trace's correlations, and with several folders (training seeds) or ``--json`` the review
    cycle profile of every seed (:func:`cycle_profile`), its JSON and figure."""
    from scenarios.recommendation_study import trace_agents

    problem = _problem(args)
    profiles: dict[str, Any] = {}
    for run in args.run:
        path = trace_agents(problem, run, episodes=args.episodes, seed=args.trace_seed)
        print(f"wrote {path}")
        summary = json.loads((Path(run) / "trace.json").read_text())["summary"]
        for agent, rows in summary.items():
            for product, s in rows.items():
                print(f"{agent:>6} {product:>5}: corr(exposure, stock) {s['corr_stock']:+.2f}")
        profiles[str(run)] = run_profiles(Path(run))
    doc = {"episodes": args.episodes, "trace_seed": args.trace_seed, "runs": profiles}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out / "trace_seeds.json"
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    print(cycle_table(doc))
    print(f"wrote {json_path} and {plot_cycles(doc, problem.name, out / 'trace_cycle.png')}")


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, None where either side is constant."""
    if x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def cycle_profile(
    stock: np.ndarray, push: np.ndarray, period: int, products: Sequence[str]
) -> dict[str, Any]:
    """Synchronized adjustments of one trace (``stock``/``push`` ``[episode, t, product]``,
    ``Trace`` of scenarios.recommendation_study) over the replenishment cycle of *period*
    periods (the replenishment agent orders in the periods ``t % period == 0``).  Per
    product: mean push and stock by phase ``t mod period``; the phase where the product's
    stock is lowest on average (``low_phase``) and the push there over the push in the
    other phases (below 1: the agent steers demand away from the product when it runs
    low); the correlation of push with the product's own stock over all periods, and
    within the low phase (across cycles: is the push cut harder when the stock is
    lower?).  Across products: the correlation of their pushes over time (synchronized:
    moving together, or against each other as demand is shifted between them)."""
    episodes, periods, n = push.shape
    if stock.shape != push.shape or n != len(products):
        raise ValueError(f"stock {stock.shape} and push {push.shape} must be [episode, t, {n}]")
    if period < 1:
        raise ValueError(f"period(={period}) must be >= 1")
    phase = np.arange(periods) % period
    rows: dict[str, Any] = {}
    for i, p in enumerate(products):
        x, s = push[..., i], stock[..., i]
        by_stock = [float(s[:, phase == f].mean()) for f in range(period)]
        low = int(np.argmin(by_stock))
        at = phase == low
        rows[p] = {
            "push_by_phase": [float(x[:, phase == f].mean()) for f in range(period)],
            "stock_by_phase": by_stock,
            "low_phase": low,
            "push_low_over_rest": float(x[:, at].mean() / x[:, ~at].mean()) if period > 1 else None,
            "corr_push_stock": _corr(x.ravel(), s.ravel()),
            "corr_push_stock_low_phase": _corr(x[:, at].ravel(), s[:, at].ravel()),
            "push_mean": float(x.mean()),
        }
    flat = push.reshape(-1, n)
    pairs = {
        f"{products[i]}~{products[j]}": _corr(flat[:, i], flat[:, j])
        for i in range(n)
        for j in range(i + 1, n)
    }
    return {"period": period, "products": rows, "corr_push_between_products": pairs}


def run_profiles(run: Path) -> dict[str, Any]:
    """:func:`cycle_profile` of every agent traced in *run* (``trace.npz``); the cycle is
    the MAPPO replenishment period of that study (``team_env.json``; 1 if absent)."""
    data = np.load(run / "trace.npz")
    team = run / "team_env.json"
    period = (
        int(json.loads(team.read_text()).get("replenishment_period", 1)) if team.exists() else 1
    )
    products = [str(p) for p in data["products"]]
    out = {}
    for i, agent in enumerate(str(a) for a in data["agents"]):
        out[agent] = cycle_profile(data[f"stock_{i}"], data[f"push_{i}"], period, products)
        out[agent]["profit_per_period"] = float(data[f"profit_{i}"].mean())
    return out


def cycle_table(doc: Mapping[str, Any]) -> str:
    """Markdown: per run (seed) and agent, each product's push by phase, the push in its
    low-stock phase over the rest and the correlations with its stock."""
    lines = [
        "| run | agent | product | push by phase (0: orders) | stock by phase | low-stock "
        "phase: push / rest | corr(push, stock) | same, in that phase |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:+.2f}"

    for run, agents in doc["runs"].items():
        for agent, prof in agents.items():
            for p, r in prof["products"].items():
                ratio = r["push_low_over_rest"]
                lines.append(
                    f"| {Path(run).name} | {agent} | {p} | "
                    f"{' / '.join(f'{v:.2f}' for v in r['push_by_phase'])} | "
                    f"{' / '.join(f'{v:.1f}' for v in r['stock_by_phase'])} | "
                    f"{r['low_phase']}: {'-' if ratio is None else f'{ratio:.2f}'} | "
                    f"{f(r['corr_push_stock'])} | {f(r['corr_push_stock_low_phase'])} |"
                )
    return "\n".join(lines)


def plot_cycles(doc: Mapping[str, Any], problem_name: str, path: Path) -> Path:
    """Per product (column): push (top) and on-hand stock (bottom) by phase of the
    replenishment cycle, one line per run (training seed) and agent."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = doc["runs"]
    first = next(iter(next(iter(runs.values())).values()))
    products = list(first["products"])
    period = int(first["period"])
    fig = Figure(figsize=(4.0 * len(products), 6.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(products), squeeze=False)
    styles = {"MAPPO": "-", "Joint IM-RS": "--"}
    for k, (run, agents) in enumerate(runs.items()):
        for agent, prof in agents.items():
            for i, p in enumerate(products):
                r = prof["products"][p]
                label = f"{Path(run).name} {agent}"
                kw = {"color": f"C{k}", "ls": styles.get(agent, ":"), "marker": "o"}
                axes[0, i].plot(
                    range(len(r["push_by_phase"])), r["push_by_phase"], label=label, **kw
                )
                axes[1, i].plot(range(len(r["stock_by_phase"])), r["stock_by_phase"], **kw)
    for i, p in enumerate(products):
        for ax in axes[:, i]:
            ax.set_xticks(range(period))
        axes[0, i].axhline(1.0, color="grey", lw=0.8, ls=":")
        axes[0, i].set(title=f"{p}: recommendation push", ylabel="push: E[demand] / static")
        axes[1, i].set(
            title=f"{p}: stock",
            xlabel=f"period t mod {period} (0: replenishment orders)",
            ylabel="on hand at period start (units)",
        )
    axes[0, 0].legend(fontsize="x-small")
    fig.suptitle(
        f"{problem_name}: recommendation push and stock by phase of the replenishment cycle\n"
        f"per training seed ({doc['episodes']} traced episodes each; solid: MAPPO, "
        "dashed: Joint IM-RS)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def cmd_report(args: argparse.Namespace) -> None:
    """Pool result files by group (``--group LABEL=FILE,FILE``: this script's ``--json``
    results or ``study.json`` files; one case, seeds on the same episodes), compare every
    agent with ``--reference`` (a heuristic row) per seed and pooled, and group
    ``--versus NEW OLD`` agent by agent (same seeds and episodes).  JSON and markdown."""
    fig2 = figure2()
    doc: dict[str, Any] = {
        "benchmark": "multi_timescale-report",
        "reference": args.reference,
        "groups": {},
        "rule": fig2.RULE,
    }
    texts = []
    for spec in args.group:
        label, _, files = spec.partition("=")
        if not files:
            raise SystemExit(f"--group {spec!r}: expected LABEL=FILE[,FILE...]")
        pooled = fig2.pool([json.loads(Path(f).read_text()) for f in files.split(",")])
        pooled["files"] = files.split(",")
        for key, case in pooled["cases"].items():
            case["versus_reference"] = versus_reference(fig2, case["studies"], args.reference)
            case["heuristic_max_abs_difference_between_seeds"] = heuristic_spread(
                fig2, case["studies"]
            )
            spread = case["heuristic_max_abs_difference_between_seeds"]
            texts.append(
                f"# {label}: {key}\n\n{reference_table(case['versus_reference'])}\n\n"
                f"heuristic rows: largest difference of an episode between training seeds "
                f"{max(spread.values(), default=0.0):.3g} per period"
            )
        texts.append(fig2.report(pooled))
        doc["groups"][label] = pooled
    doc["versus"] = []
    for new_label, old_label in args.versus:
        new, old = (doc["groups"][label] for label in (new_label, old_label))
        diff = fig2.versus(
            *({"benchmark": "figure2", "studies": studies_of(g)} for g in (new, old))
        )
        doc["versus"].append({"new": new_label, "old": old_label, "cases": diff})
        for key, d in diff.items():
            texts.append(f"# {new_label} - {old_label}: {key}\n")
            for name, t in d["new_minus_old"].items():
                seeds = ", ".join(f"{s}: {_fmt(v)}" for s, v in t["per_seed"].items())
                texts.append(f"{name}: {_fmt(t['pooled'])} (seeds {seeds}), {t['verdict']}")
    text = "\n\n".join(texts) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str) + "\n")


def heuristic_spread(fig2: Any, studies: Mapping[str, Any]) -> dict[str, float]:
    """Per heuristic row, the largest difference in an episode's profit per period between
    the training seeds' studies that have the row (0: the same episodes, the same policy)."""
    rows: dict[str, list[np.ndarray]] = {}
    for study in studies.values():
        for name, x in fig2.per_period(study).items():
            if name not in fig2.AGENTS:
                rows.setdefault(name, []).append(x)
    return {name: float(max(np.abs(x - xs[0]).max() for x in xs)) for name, xs in rows.items()}


def studies_of(pooled: Mapping[str, Any]) -> dict[str, Any]:
    """Every study of a pooled document by training seed (one case)."""
    cases = list(pooled["cases"].values())
    if len(cases) != 1:
        raise ValueError(f"a group must hold one case, got {len(cases)}")
    return dict(cases[0]["studies"])


def versus_reference(fig2: Any, studies: Mapping[str, Any], reference: str) -> dict[str, Any]:
    """figure2.summarise of the agents against one heuristic row *reference* alone (it is
    then the "best heuristic"): per agent the pooled paired CI, each seed's, the spread."""
    kept = {}
    for seed, study in studies.items():
        names = {r["name"] for r in study["rows"]}
        if reference not in names:
            raise ValueError(f"seed {seed} has no row {reference!r}; rows: {sorted(names)}")
        rows = [r for r in study["rows"] if r["name"] in fig2.AGENTS or r["name"] == reference]
        kept[int(seed)] = {**study, "rows": rows}
    summary = fig2.summarise(kept)
    return {
        "reference": reference,
        "episodes": summary["episodes"],
        "seeds": summary["seeds"],
        "rows": summary["rows"],
    }


def reference_table(s: Mapping[str, Any]) -> str:
    """Markdown: per agent the seeds' mean, spread and paired CIs against the reference."""
    ref = s["reference"]
    lines = [
        f"| policy | mean of seeds | seeds min / median / max | vs {ref} (pooled, paired 95% CI) "
        "| per seed | seeds above / below |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in s["rows"].items():
        if r["kind"] != "agent":
            lines.append(f"| {name} | {r['mean']:.2f} | - | - | - | - |")
            continue
        sp, per = r["seed_spread"], r["seed_vs_best_heuristic"]
        up = sum(v[1] > 0 for v in per.values())
        down = sum(v[2] < 0 for v in per.values())
        lines.append(
            f"| {name} | {r['mean']:.2f} | {sp['min']:.2f} / {sp['median']:.2f} / "
            f"{sp['max']:.2f} | {_fmt(r['vs_best_heuristic'])} | "
            f"{'; '.join(f'{k}: {_fmt(v)}' for k, v in per.items())} | {up} / {down} of {len(per)} |"
        )
    return "\n".join(lines)


def _fmt(ci: Sequence[float]) -> str:
    return f"{ci[0]:+.2f} [{ci[1]:+.2f}, {ci[2]:+.2f}]"


def cmd_pairs(args: argparse.Namespace) -> None:
    from rl.evaluation import Evaluation, paired

    rows: dict[str, Any] = {}
    for f in args.files:
        data = json.loads(Path(f).read_text())
        periods = data["settings"]["periods"]
        for r in data["rows"]:
            rows[r["name"]] = (np.asarray(r["per_episode"]) / periods, data["eval_seed"])
    a, b = rows[args.a], rows[args.b]
    if a[1] != b[1]:
        raise SystemExit(f"{args.a!r} and {args.b!r} were evaluated on different seeds")
    d = paired(Evaluation.of(args.a, a[0]), Evaluation.of(args.b, b[0]))
    print(f"{args.a} - {args.b}: {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] per period")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("study", "heuristics", "trace"):
        p = sub.add_parser(name)
        p.add_argument("--scenario", default="recommendation-small")
        p.add_argument("--param", action="append", default=[], metavar="K=V")
        p.add_argument("--out", default="runs/multi")
        p.add_argument("--steps", type=int, default=150_000)
        p.add_argument("--seed", type=int, default=1, help="(first) training seed")
        p.add_argument("--seeds", type=int, default=1, help="study: this many training seeds")
        p.add_argument(
            "--eval-seed",
            type=int,
            default=None,
            help="evaluation root seed (default: the test episodes of training seed 1)",
        )
        p.add_argument(
            "--validation", action="store_true", help="evaluate on the validation episodes"
        )
        p.add_argument("--log-std-init", type=float, default=-0.5)
        p.add_argument("--json", default=None, help="study: results JSON (after every seed)")
        p.add_argument("--pool", nargs="+", default=[], metavar="JSON", help="earlier results")
        p.add_argument("--episodes", type=int, default=30)
        p.add_argument("--periods", type=int, default=128)
        p.add_argument("--k", type=int, default=1, help="MAPPO replenishment decision period")
        p.add_argument("--ks", type=int, nargs="+", default=[1, 3])
        p.add_argument("--agents", nargs="+", default=["joint", "im", "rs", "mappo"])
        p.add_argument("--mpc", type=int, default=1)
        p.add_argument("--gamma", type=float, default=0.95)
        p.add_argument("--search-periods", type=int, default=600, help="base-stock search")
        p.add_argument("--search-replications", type=int, default=4)
        p.add_argument("--score-mode", default="free", choices=("free", "structured"))
        p.add_argument("--run", nargs="+", default=["runs/multi"], help="trace: study folders")
        p.add_argument("--episodes-trace", dest="episodes_trace", type=int, default=3)
        p.add_argument("--trace-seed", type=int, default=4242)
    p = sub.add_parser("report")
    p.add_argument("--group", action="append", required=True, metavar="LABEL=FILE[,FILE...]")
    p.add_argument("--reference", required=True, help="heuristic row the agents are paired with")
    p.add_argument(
        "--versus",
        nargs=2,
        action="append",
        default=[],
        metavar=("NEW", "OLD"),
        help="group labels (repeatable)",
    )
    p.add_argument("--json", default=None)
    p.add_argument("--out", default="runs/multi")
    p = sub.add_parser("pairs")
    p.add_argument("files", nargs="+")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    args = ap.parse_args(argv)
    if args.command == "trace":
        args.episodes = args.episodes_trace
    return args


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    args = parse(argv)
    {
        "study": cmd_study,
        "heuristics": cmd_heuristics,
        "trace": cmd_trace,
        "pairs": cmd_pairs,
        "report": cmd_report,
    }[args.command](args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        main()
    except FileNotFoundError as exc:  # an input file named on the command line is not there
        raise SystemExit(f"{Path(__file__).name}: no such file: {exc.filename}") from None
