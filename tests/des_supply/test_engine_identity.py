"""The event engine's ledgers do not change: SHA-1 of every field, pinned per scenario and policy.

A regression test (the engine was rewritten for speed and must keep its semantics bit for
bit).  The hashes in ``tests/reference/data/engine_hashes.json`` come from
``python tests/reference/make_engine_hashes.py record /tmp/engine_ref --commit``; regenerate
them only for a deliberate change of the engine's semantics (or of numpy's random streams),
and say so in the commit.  The default run checks a few scenarios; ``-m slow`` checks all.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
_spec = importlib.util.spec_from_file_location(
    "make_engine_hashes", REFERENCE / "make_engine_hashes.py"
)
hashes = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(hashes)  # type: ignore[union-attr]
PINNED = json.loads((REFERENCE / "data" / "engine_hashes.json").read_text())
QUICK = {
    "single-stage",
    "serial",
    'serial{"decisions": "sequential"}',
    "orgym-inventory",
    "pricing-a",
}


def _check(labels: set[str]) -> None:
    now = hashes.scenario_hashes(only=labels)
    pinned = {k: v for k, v in PINNED.items() if k.split("|")[0] in labels}
    assert pinned and set(now) == set(pinned)
    changed = sorted(k for k in pinned if now[k] != pinned[k])
    assert not changed, f"ledgers changed: {', '.join(changed)}"


def test_regression_engine_ledgers_on_a_few_scenarios():
    _check(QUICK)


@pytest.mark.slow
def test_regression_engine_ledgers_on_every_scenario():
    _check({k.split("|")[0] for k in PINNED})


def test_the_hash_sees_every_field():
    import numpy as np

    import scenarios
    from des_supply import BaseStock
    from des_supply.ledger import FIELDS

    ledger = scenarios.make("serial").simulation(50, 0).run(BaseStock(20))
    base = hashes.ledger_hash(ledger)
    for f in FIELDS:
        data = dict(ledger.data)
        data[f] = data[f].copy()
        data[f][7, 0] = np.nextafter(data[f][7, 0], np.inf)
        assert hashes.ledger_hash(type(ledger)(**{**ledger.__dict__, "data": data})) != base, f
