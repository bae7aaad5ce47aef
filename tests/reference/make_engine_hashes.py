"""SHA-1 hashes of event-engine ledgers: the reference that engine speed-ups must not change.

Two sets of cases:

* ``scenarios``: every registered periodic scenario (and a few variants with other
  conventions) under every registered family, pricing and recommendation policy with its
  default parameters, run through ``Simulation.run`` and through the outside-agent path
  (``reset``/``act``/``advance``), 300 periods, seeds 0 and 1;
* ``random``: random networks and policies drawn by the hypothesis strategies of
  ``tests/strategies.py`` (every shape and convention).  They are drawn once and pickled, so
  that a later comparison runs the very same networks whatever hypothesis does.

Usage::

    python tests/reference/make_engine_hashes.py record /tmp/engine_ref   # before a change
    python tests/reference/make_engine_hashes.py check /tmp/engine_ref    # after it

``check`` exits 1 and names the cases whose ledgers changed.  The scenario hashes are also
written to ``tests/reference/data/engine_hashes.json`` by ``record --commit`` for the
regression test ``tests/des_supply/test_engine_identity.py``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository (the packages)
sys.path.append(str(HERE.parent))  # tests/strategies.py (after the packages: tests/des_supply)

import numpy as np  # noqa: E402

import scenarios  # noqa: E402
from des_supply import Simulation  # noqa: E402
from des_supply.ledger import FIELDS, Ledger  # noqa: E402
from des_supply.policy_registry import PolicyError, make_policy, policy_entry  # noqa: E402

PERIODS = 300
SEEDS = (0, 1)
RANDOM_CASES = 150
GROUPS = ("family", "pricing", "recommendation")
COMMITTED = HERE / "data" / "engine_hashes.json"
#: parameters of the family policies (the others run on their defaults or a level of 20)
PARAMS: dict[str, dict[str, Any]] = {
    "base-stock": {"level": 20},
    "capped-base-stock": {"level": 20, "cap": 8},
    "constant": {"quantity": 4},
    "constant-rate": {"rate": 4},
    "echelon-base-stock": {"level": 45},
    "rq": {"r": 6, "Q": 12},
    "ss": {"s": 6, "S": 25},
    "bslp": {"level": 20, "price": 10},
    "ssp": {"s": 6, "S": 25, "price": 10},
}
#: convention variants of registered scenarios (name, parameters)
VARIANTS = (
    ("single-stage", {"shortage": "backlog"}),
    ("single-stage", {"lead_time": 0}),
    ("serial", {"decisions": "sequential"}),
    ("beer-game", {}),
)


def ledger_hash(ledger: Ledger) -> str:
    """SHA-1 over every field of *ledger* (bytes of the float64 arrays, in FIELDS order)."""
    h = hashlib.sha1()
    h.update(repr((ledger.nodes, ledger.objective, ledger.periods)).encode())
    for f in FIELDS:
        h.update(np.ascontiguousarray(ledger[f], dtype=float).tobytes())
    h.update(np.asarray(ledger.initial_on_hand, dtype=float).tobytes())
    h.update(np.asarray(ledger.initial_pipeline, dtype=float).tobytes())
    return h.hexdigest()


def _driven(sim: Simulation, policy: Any, seed: int) -> Ledger:
    """The outside-agent path: reset / act / advance, answering from *policy*."""
    start = getattr(policy, "start_run", None)
    obs = sim.reset(seed)
    if callable(start):
        from des_supply.rng import stream

        start(stream(sim.root, "policy"))
    while obs is not None:
        sim.act(policy.act(obs))
        obs = sim.advance()
    return sim.ledger()


def scenario_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = [(n, {}) for n in scenarios.names() if scenarios.make(n).network.time == "periodic"]
    return cases + [v for v in VARIANTS if v not in cases]


def scenario_hashes(periods: int = PERIODS, only: set[str] | None = None) -> dict[str, str]:
    """Hashes of the scenario cases (*only*: the scenario labels to run, e.g. those of a
    recorded reference; scenarios registered since are left out)."""
    out: dict[str, str] = {}
    for name, params in scenario_cases():
        label = f"{name}{json.dumps(params, sort_keys=True) if params else ''}"
        if only is not None and label not in only:
            continue
        problem = scenarios.make(name, **params)
        from des_supply.policy_registry import policy_names

        for pname in policy_names(problem):
            if policy_entry(pname).group not in GROUPS:
                continue
            try:
                policy = make_policy(pname, problem, PARAMS.get(pname))
            except PolicyError:
                try:  # pricing and recommendation rules over a base-stock level
                    policy = make_policy(pname, problem, {"level": 20})
                except PolicyError:
                    continue
            for seed in SEEDS:
                key = f"{label}|{pname}|{seed}"
                sim = problem.simulation(periods, seed)
                out[key + "|run"] = ledger_hash(sim.run(policy))
                sim = problem.simulation(periods, seed)
                out[key + "|driven"] = ledger_hash(_driven(sim, policy, seed))
    return out


def draw_random_cases(n: int = RANDOM_CASES) -> list[tuple[Any, Any, int, int]]:
    """*n* (network, policy, periods, seed) drawn deterministically by hypothesis."""
    from hypothesis import strategies as st
    from strategies import draw_examples, networks, policies, seeds

    def one(data: Any) -> tuple[Any, Any, int, int]:
        net = data.draw(networks(conventions=data.draw(st.booleans())))
        policy = data.draw(policies(net))
        return net, policy, data.draw(st.integers(1, 120)), data.draw(seeds)

    return draw_examples(n, one)


def random_hashes(cases: list[tuple[Any, Any, int, int]]) -> list[str]:
    return [ledger_hash(Simulation(net, T, seed).run(policy)) for net, policy, T, seed in cases]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("record", "check"):
        print(__doc__)
        return 2
    folder = Path(argv[1])
    if argv[0] == "record":
        folder.mkdir(parents=True, exist_ok=True)
        cases = draw_random_cases()
        (folder / "random_cases.pkl").write_bytes(pickle.dumps(cases))
        ref = {"scenarios": scenario_hashes(), "random": random_hashes(cases)}
        (folder / "hashes.json").write_text(json.dumps(ref, indent=1, sort_keys=True))
        if "--commit" in argv:
            COMMITTED.write_text(json.dumps(ref["scenarios"], indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(ref['scenarios'])} scenario and {len(cases)} random ledgers")
        return 0
    ref = json.loads((folder / "hashes.json").read_text())
    cases = pickle.loads((folder / "random_cases.pkl").read_bytes())
    labels = {k.split("|")[0] for k in ref["scenarios"]}
    now = {"scenarios": scenario_hashes(only=labels), "random": random_hashes(cases)}
    bad = [k for k, v in ref["scenarios"].items() if now["scenarios"].get(k) != v]
    bad += [
        f"random #{i}: {cases[i][0].name}"
        for i, (a, b) in enumerate(zip(ref["random"], now["random"]))
        if a != b
    ]
    for b in bad:
        print("CHANGED", b)
    print(
        f"{len(ref['scenarios'])} scenario and {len(cases)} random ledgers: "
        + (f"{len(bad)} changed" if bad else "all identical")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
