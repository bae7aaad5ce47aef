"""Worker processes of the processes backend: one thread per numeric library (N workers
must not each start a BLAS/OpenMP pool per CPU), and Ctrl-C left to the parent."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys

from des_supply.executors import THREAD_VARIABLES, ProcessExecutor


def _worker_state(_: int) -> dict[str, object]:
    torch = sys.modules.get("torch")
    return {
        "env": {v: os.environ.get(v) for v in THREAD_VARIABLES},
        "sigint_ignored": signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "pid": os.getpid(),
    }


def test_workers_run_one_thread_per_library_and_ignore_ctrl_c(monkeypatch):
    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    import torch  # imported in the parent: forked workers have it, and must limit it

    with ProcessExecutor(2) as ex:
        states = ex.map(_worker_state, range(4))
    assert {s["pid"] for s in states} - {os.getpid()}, "ran in worker processes"
    for state in states:
        assert state["env"] == dict.fromkeys(THREAD_VARIABLES, "1")
        assert state["sigint_ignored"] is True
        # a forked worker has the parent's torch and must limit it; a spawned one has none
        forked = multiprocessing.get_start_method() == "fork"
        assert state["torch_threads"] == (1 if forked else None)
    # the parent is untouched
    assert all(os.environ.get(v) is None for v in THREAD_VARIABLES)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert torch.get_num_threads() >= 1
