"""One seam for independent work: serial, local processes, or Ray.

Replications, policy searches, evaluations, sweep cells and training seeds are lists of
independent tasks: with common random numbers every task carries its own seed, so its
result is a function of the task alone.  An :class:`Executor` maps a function over such
a list and returns the results in task order, so a study gives the same numbers, bit for
bit, whichever executor ran it::

    with make_executor("processes", workers=4) as ex:     # or "serial", or "ray"
        values = ex.map(cost_of_level, [10, 12, 14])

================  ==========================================================================
``serial``        in this process, one task after the other (the reference)
``processes``     a pool of local worker processes, started on the first ``map`` and reused
                  until :meth:`Executor.close` (start-up is paid once, not per call)
``ray``           Ray tasks: a local cluster (``address=None``, ``workers`` CPUs) or an
                  existing one (``address="auto"`` or ``"ray://head:10001"``); Ray is
                  imported only here, and only when asked for (``pip install des-supply[ray]``)
================  ==========================================================================

Functions and tasks travel with ``cloudpickle`` where it is installed (it comes with
Gymnasium and Ray), so closures and lambdas run on every executor; results travel with
``pickle``.  A task that raises comes back as its own exception (a ``ValueError`` stays a
``ValueError``, not a pool or Ray wrapper), with a note naming the task; the tasks not yet
started are cancelled.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "BACKENDS",
    "THREAD_VARIABLES",
    "Executor",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "add_backend_arguments",
    "chunks",
    "executor_from_args",
    "make_executor",
    "use_executor",
]

T = TypeVar("T")
R = TypeVar("R")
OnResult = Callable[[int, Any], object]  # what it returns is ignored

#: The names :func:`make_executor` and ``--backend`` take.
BACKENDS = ("serial", "processes", "ray")


def _describe(index: int, task: Any, limit: int = 200) -> str:
    text = repr(task)
    return f"task {index} ({text[:limit]}{'...' if len(text) > limit else ''})"


def _named(exc: BaseException, index: int, task: Any, where: str) -> BaseException:
    """*exc* with a note naming the task that raised it (Python 3.11 exception notes)."""
    exc.add_note(f"raised by {_describe(index, task)} on {where}")
    return exc


class Executor(ABC):
    """Maps a function over independent tasks; results come back in task order.

    Use it as a context manager (or call :meth:`close`) to release its workers.
    """

    name: str = ""
    workers: int = 1

    @abstractmethod
    def map(
        self, fn: Callable[[T], R], tasks: Iterable[T], *, on_result: OnResult | None = None
    ) -> list[R]:
        """``[fn(t) for t in tasks]``, computed by this executor's workers.

        *on_result(i, result)* is called in this process as each task finishes (in
        completion order): progress bars and incremental writes hook in here.
        """

    def close(self) -> None:  # noqa: B027  (not abstract: serial has nothing to release)
        """Release the workers (a closed executor starts new ones if used again)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class SerialExecutor(Executor):
    """Every task in this process, in order: the reference every other executor matches."""

    name = "serial"

    def map(
        self, fn: Callable[[T], R], tasks: Iterable[T], *, on_result: OnResult | None = None
    ) -> list[R]:
        out: list[R] = []
        for i, task in enumerate(tasks):
            try:
                result = fn(task)
            except Exception as exc:
                _named(exc, i, task, "the serial executor")
                raise
            out.append(result)
            if on_result is not None:
                on_result(i, result)
        return out


# -- local processes ------------------------------------------------------------------------------
def _dumps(obj: Any) -> bytes:
    """cloudpickle (closures, lambdas, classes defined in scripts) where installed, else pickle."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle comes with gymnasium
        return pickle.dumps(obj)
    return cloudpickle.dumps(obj)


_LOADED: dict[bytes, Any] = {}  # in a worker: the function of the current map, unpickled once

#: Thread-pool sizes of the numeric libraries, set to 1 in every worker process: N workers
#: each running a BLAS or OpenMP pool of one thread per CPU would oversubscribe the machine.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


#: Seconds the command waits on its workers at most before it looks again: a Ctrl-C handled
#: by another thread of this process (the signal goes to any thread) is raised by then.
WAKE_INTERVAL = 0.5


@contextmanager
def _ctrl_c_after_forks() -> Iterator[None]:
    """Defer Ctrl-C while worker processes are forked, then raise it.

    One arriving inside ``fork`` would be raised in an at-fork handler, where Python only
    prints it (the interrupt is lost and the command runs on); so while the workers are
    forked a handler that only records the signal is installed, and the previous handler
    is called once the forks are done.  A worker inherits the recording handler until its
    initializer ignores Ctrl-C, so it never raises there either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives KeyboardInterrupt)
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        if callable(previous):
            previous(signal.SIGINT, None)  # Python's default raises KeyboardInterrupt here
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


def _start_worker() -> None:
    """Initializer of every worker process: one thread per numeric library, and Ctrl-C
    left to the parent (which cancels the tasks and stops the workers; a worker of its
    own would print a traceback per process).

    The variables reach libraries the worker loads from now on and its child processes;
    a library already loaded (numpy's BLAS in a forked worker) is limited through
    ``threadpoolctl`` where it is installed, and PyTorch, if imported, by
    ``torch.set_num_threads(1)`` (it is not imported here otherwise).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _run_pickled(fn_bytes: bytes, task_bytes: bytes) -> Any:
    """Worker side of :class:`ProcessExecutor`: unpickle (the function once per map), call."""
    fn = _LOADED.get(fn_bytes)
    if fn is None:
        _LOADED.clear()
        fn = _LOADED[fn_bytes] = pickle.loads(fn_bytes)
    return fn(pickle.loads(task_bytes))


class ProcessExecutor(Executor):
    """A pool of *workers* local processes (default: one per CPU), reused across maps."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if workers < 1:
            raise ValueError(f"workers(={workers}) must be >= 1")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map(
        self, fn: Callable[[T], R], tasks: Iterable[T], *, on_result: OnResult | None = None
    ) -> list[R]:
        tasks = list(tasks)
        if not tasks:
            return []
        try:
            fn_bytes = _dumps(fn)
            payloads = [_dumps(t) for t in tasks]
        except Exception as exc:
            raise TypeError(
                f"the processes executor cannot send {fn!r} or its tasks to a worker process: {exc}"
            ) from exc
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_start_worker)
        futures: dict[Future[Any], int] = {}
        results: list[Any] = [None] * len(tasks)
        pending: set[Future[Any]] = set()
        try:
            with _ctrl_c_after_forks():  # submit forks the workers
                for i, p in enumerate(payloads):
                    futures[self._pool.submit(_run_pickled, fn_bytes, p)] = i
            pending = set(futures)
            while pending:
                done, pending = wait(pending, WAKE_INTERVAL, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    i = futures[fut]
                    failure = fut.exception()
                    if isinstance(failure, BrokenProcessPool):  # a worker died: new pool next
                        self.close()
                        raise RuntimeError(
                            f"a worker process died running {_describe(i, tasks[i])}"
                        ) from failure
                    if failure is not None:
                        raise _named(failure, i, tasks[i], "a worker process")
                    results[i] = fut.result()
                    if on_result is not None:
                        on_result(i, results[i])
        except KeyboardInterrupt:  # the workers ignore Ctrl-C: stop them, do not wait
            self._terminate()
            raise
        finally:
            for fut in pending:
                fut.cancel()
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _terminate(self) -> None:
        """Stop the workers now (their running tasks are abandoned)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public handle (3.11)
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)


# -- Ray ------------------------------------------------------------------------------------------
def _ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:  # keeps the module name: the CLI names the extra
        raise ModuleNotFoundError(
            "the ray backend needs Ray: pip install 'des-supply[ray]'", name=exc.name
        ) from None
    return ray


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    """Body of a Ray task (module level, so workers import it instead of unpickling it)."""
    return fn(task)


class RayExecutor(Executor):
    """Ray tasks, one CPU each, on a local cluster or on the cluster at *address*.

    *address* None starts a local cluster with *workers* CPUs (default: all) unless Ray is
    already initialised in this process, which is then used as it is; ``"auto"`` joins the
    cluster ``ray start --head`` runs on this machine; ``"ray://host:10001"`` a remote one
    (Ray Client).  *init_options* go to ``ray.init`` (``runtime_env=...``, ...).  The
    cluster is shut down on :meth:`close` only if this executor started or joined it.
    """

    name = "ray"

    def __init__(
        self, workers: int | None = None, address: str | None = None, **init_options: Any
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers(={workers}) must be >= 1")
        if workers is not None and address is not None:
            raise ValueError(
                f"workers(={workers}) sizes a local Ray cluster; the cluster at "
                f"address {address!r} has its own CPUs"
            )
        self._workers, self.address, self._options = workers, address, init_options
        self._owned = False
        self._remote: Any = None

    def _start(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                **self._options,
            }
            if self.address is None:
                options.setdefault("num_cpus", self._workers or os.cpu_count() or 1)
            else:
                options["address"] = self.address
            ray.init(**options)
            self._owned = True
        if self._remote is None:
            self._remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        return ray

    # read-only here (the cluster's CPUs once started), a plain attribute in Executor
    @property
    def workers(self) -> int:  # type: ignore[override]
        """CPUs of the cluster (once started), else the CPUs asked for."""
        ray = _ray() if self._remote is not None else None
        if ray is not None and ray.is_initialized():
            return int(ray.cluster_resources().get("CPU", 1))
        return self._workers or os.cpu_count() or 1

    def map(
        self, fn: Callable[[T], R], tasks: Iterable[T], *, on_result: OnResult | None = None
    ) -> list[R]:
        tasks = list(tasks)
        if not tasks:
            return []
        ray = self._start()
        fn_ref = ray.put(fn)  # sent once, not once per task
        refs = [self._remote.remote(fn_ref, t) for t in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(tasks)
        pending = list(refs)
        try:
            while pending:
                # one at a time for few tasks; in slices for many (ray.wait scans the list)
                done, pending = ray.wait(
                    pending, num_returns=max(1, len(pending) // 16) if len(pending) > 64 else 1
                )
                for ref in done:
                    i = index[ref]
                    try:
                        results[i] = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                        raise _named(cause, i, tasks[i], "a Ray worker") from None
                    if on_result is not None:
                        on_result(i, results[i])
        finally:
            for ref in pending:
                ray.cancel(ref)
        return results

    def close(self) -> None:
        if self._owned:
            _ray().shutdown()
            self._owned = False
        self._remote = None


# -- construction ---------------------------------------------------------------------------------
def make_executor(
    backend: str = "serial",
    *,
    workers: int | None = None,
    address: str | None = None,
    **ray_options: Any,
) -> Executor:
    """The executor named *backend* (one of :data:`BACKENDS`).

    *workers*: processes or local Ray CPUs (default: one per CPU; ignored by serial).
    *address*: an existing Ray cluster (ray only).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (backends: {', '.join(BACKENDS)})")
    if backend != "ray" and (address is not None or ray_options):
        raise ValueError(f"address and Ray options apply to the ray backend, not {backend!r}")
    if backend == "serial":
        return SerialExecutor()
    if backend == "processes":
        return ProcessExecutor(workers)
    return RayExecutor(workers, address, **ray_options)


@contextmanager
def use_executor(executor: Executor | None = None, processes: int | None = 1) -> Iterator[Executor]:
    """*executor* (left open: it belongs to the caller), or one made for this call from the
    older ``processes`` argument: 1 serial, N a pool of N processes, 0 or None one per CPU.

    For functions such as ``simulate(..., processes=, executor=)`` that take both.
    """
    if executor is not None:
        yield executor
        return
    workers = processes or os.cpu_count() or 1
    own = SerialExecutor() if workers == 1 else ProcessExecutor(workers)
    with own:
        yield own


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--workers`` and ``--address`` on a command's parser."""
    group = parser.add_argument_group("execution")
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="where independent tasks run (default: serial)",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes, or CPUs of a local Ray cluster (default: one per CPU)",
    )
    group.add_argument(
        "--address",
        default=None,
        help="an existing Ray cluster ('auto' after `ray start --head` here, or "
        "ray://HOST:10001); default: start a local one",
    )


def executor_from_args(args: argparse.Namespace) -> Executor:
    """The executor of :func:`add_backend_arguments`' options (ValueError on a bad mix).

    A command that also has the older ``--processes N`` (N != 1) gets a pool of N processes
    (0: one per CPU), the same as ``--backend processes --workers N``.
    """
    processes = getattr(args, "processes", 1)
    if processes != 1:
        if args.backend != "serial" or args.workers is not None:
            raise ValueError(
                f"--processes {processes} is --backend processes --workers "
                f"{processes}: give one of the two"
            )
        return ProcessExecutor(processes or None)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers(={args.workers}) must be >= 1")
    if args.address is not None and args.backend != "ray":
        raise ValueError(f"--address applies to --backend ray, not {args.backend}")
    return make_executor(args.backend, workers=args.workers, address=args.address)


def chunks(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into at most *parts* contiguous, nearly equal ranges (none empty)."""
    if n < 0 or parts < 1:
        raise ValueError(f"chunks(n={n}, parts={parts}): n must be >= 0 and parts >= 1")
    parts = min(parts, n) or 1
    bounds = [n * j // parts for j in range(parts + 1)]
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]
