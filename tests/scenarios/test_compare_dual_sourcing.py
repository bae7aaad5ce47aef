"""Problems with no PPO preset (a node that orders per supplier) are compared without PPO."""

from __future__ import annotations

import pytest

import scenarios
from scenarios.compare import compare
from scenarios.presets import NoPreset, check_steps, preset


def test_no_preset_for_a_node_that_orders_per_supplier_in_one_line():
    problem = scenarios.make("dual-sourcing")
    for call in (lambda: preset(problem), lambda: check_steps(problem, 1000)):
        with pytest.raises(
            NoPreset, match=r"no PPO preset for node 'store', which orders per"
        ) as e:
            call()
        assert "\n" not in str(e.value)


@pytest.mark.slow
def test_compare_dual_sourcing_runs_without_ppo(tmp_path):
    res = compare(
        scenarios.make("dual-sourcing"), episodes=2, periods=50, out_dir=tmp_path, progress=False
    )
    names = [r["name"] for r in res.rows]
    assert names[0] == "optimal" and "ppo" not in names and len(names) == 5
    assert "no PPO preset" in res.details["ppo_skipped"]
    assert "PPO not trained" in res.table()
    assert (tmp_path / "compare.png").is_file() and not (tmp_path / "ppo").exists()
