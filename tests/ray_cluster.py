"""The Ray test fixture ``ray_cluster`` (tests/ is on sys.path)::

from ray_cluster import ray_cluster_fixture  # noqa: F401  (provides ray_cluster)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module", name="ray_cluster")
def ray_cluster_fixture() -> Iterator[Any]:
    """One local Ray cluster with 2 CPUs per test module (5-13 s to start, ~730 MiB); the
    tests using it skip where Ray is not installed (``pip install 'des-supply[ray]'``)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
