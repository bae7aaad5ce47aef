"""Shared test setup: hypothesis profiles and small hand-built networks.

Profiles (attrs style): ``ci`` is the default; it is derandomized so a run is
reproducible and never flaky, has no deadline (the first example pays for
imports), and keeps ``max_examples`` modest so the suite stays fast.  ``dev``
explores more; pick it with ``HYPOTHESIS_PROFILE=dev python -m pytest``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# pytest puts tests/ on sys.path (for ``import strategies``), and tests/des_supply and
# tests/scenarios would then shadow the real packages as namespace packages when the
# project is installed through an editable finder.  The project root wins over them.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)

from des_supply import Deterministic, Edge, Network, Node  # noqa: E402  (after the path fix)

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=30,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class Script:
    """A policy that plays a fixed table ``{period: {node: quantity}}`` (0 elsewhere).

    It records every observation it was shown as ``(t, deciding)`` so tests can
    check when the engine asked.
    """

    def __init__(self, table: Mapping[int, Mapping[str, float]] | None = None) -> None:
        self.table = dict(table or {})
        self.epochs: list[tuple[int, tuple[str, ...]]] = []

    def act(self, obs: Any) -> dict[str, float]:
        self.epochs.append((obs.t, obs.deciding))
        row = self.table.get(obs.t, {})
        return {n: float(row.get(n, 0.0)) for n in obs.deciding}


def single(demand: Any = 3, lead_time: Any = 2, **node: Any) -> Network:
    """One unlimited supplier ``plant`` -> one stocking node ``store`` with demand."""
    timing = node.pop("order_timing", "order-before-demand")
    edge = node.pop("edge", {})
    node.setdefault("holding_cost", 1.0)
    node.setdefault("shortage_cost", 5.0)
    dist = Deterministic(demand) if isinstance(demand, (int, float)) else demand
    return Network(
        (Node("plant", kind="supply"), Node("store", demand=dist, **node)),
        (Edge("plant", "store", lead_time=lead_time, **edge),),
        name="single",
        order_timing=timing,
    )


@pytest.fixture
def script() -> type[Script]:
    return Script


@pytest.fixture
def single_net() -> Network:
    """Deterministic demand 3 per period, lead time 2, 9 units on hand."""
    return single(demand=3, lead_time=2, initial_on_hand=9)


@pytest.fixture
def serial_net() -> Network:
    """plant -> dc (6 on hand) -> store (4 on hand, demand 2 per period); lead times 1, 1."""
    return Network(
        (
            Node("plant", kind="supply"),
            Node("dc", holding_cost=0.5, initial_on_hand=6),
            Node(
                "store",
                holding_cost=1.0,
                shortage_cost=4.0,
                demand=Deterministic(2),
                initial_on_hand=4,
            ),
        ),
        (Edge("plant", "dc", lead_time=1), Edge("dc", "store", lead_time=1)),
        name="serial-2",
    )
