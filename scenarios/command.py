"""The ``des-supply`` process itself: Ctrl-C from its first instant, and progress in logs.

Standard library only, because it must act before anything heavy is imported:
``scenarios/__init__.py`` calls :func:`guard_imports` as its first statement, so when this
process *is* the des-supply command (the console script, ``python -m scenarios.cli`` or
``python -m scenarios``) a Ctrl-C during the second or so of importing numpy, SimPy,
networkx, ... prints the command's one line (``des-supply: interrupted``) and exits with
status 130 instead of a Python traceback.  A program that merely imports ``scenarios`` is
left alone (its Ctrl-C stays a ``KeyboardInterrupt``).

:func:`scenarios.cli.main` then takes over: :func:`release` gives Ctrl-C back to Python
(a ``KeyboardInterrupt`` that the commands clean up after), and :func:`exit_interrupted`
ends an interrupted command with status 130 whatever the libraries did with the signal
(an interrupt inside an import can surface as a ``RuntimeError``, or make Python end
itself with SIGINT).

When stderr is not a terminal (a log file, a pipe, a batch job), :class:`ProgressLines`
turns the libraries' progress bars into a line every :func:`progress_interval` seconds
(``DES_SUPPLY_PROGRESS_INTERVAL``, default 10), instead of silence or a log of
carriage returns.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import signal
import sys
import time
from typing import Any, NoReturn, TextIO

__all__ = [
    "INTERRUPTED",
    "ProgressLines",
    "caused_by_interrupt",
    "exit_interrupted",
    "guard_imports",
    "is_command",
    "progress_interval",
    "release",
]

#: The one line an interrupted command prints (status 130 = 128 + SIGINT).
INTERRUPTED = "des-supply: interrupted"

#: Names the command runs under: the console script, and ``python -m`` of its modules.
COMMAND_NAMES = frozenset({"des-supply", "des-supply.exe", "des-supply-script.py"})
COMMAND_MODULES = frozenset({"scenarios.cli", "scenarios"})


def is_command() -> bool:
    """True when this process is the des-supply command (not a program importing us)."""
    if sys.argv and os.path.basename(sys.argv[0]) in COMMAND_NAMES:
        return True
    argv = list(getattr(sys, "orig_argv", ()))
    return any(a == "-m" and b in COMMAND_MODULES for a, b in itertools.pairwise(argv))


def _exit_now(signum: int, frame: Any) -> None:
    """SIGINT before the command runs (nothing to clean up yet): one line, status 130."""
    os.write(2, f"{INTERRUPTED}\n".encode())
    os._exit(130)


def _exit_silently(signum: int, frame: Any) -> None:
    """SIGINT again while an interrupted command ends (its line is printed already)."""
    os._exit(130)


def guard_imports() -> None:
    """In the des-supply process, make Ctrl-C end it quietly until :func:`release`."""
    if is_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_now)


def release() -> bool:
    """Give Ctrl-C back to Python (KeyboardInterrupt); True if :func:`guard_imports` had
    taken it, i.e. this process is the des-supply command."""
    if signal.getsignal(signal.SIGINT) is _exit_now:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return True
    return False


def caused_by_interrupt(exc: BaseException) -> bool:
    """*exc* is, or was raised while handling, a KeyboardInterrupt (e.g. the RuntimeError
    Python raises when Ctrl-C lands in a class body's ``__set_name__`` during an import)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def exit_interrupted(line: str) -> NoReturn:
    """End the des-supply process after an interrupt: print *line*, run the exit handlers
    (a Ray cluster this process started is shut down), exit with status 130 -- without
    Python's finalisation, which may print more or end the process with SIGINT."""
    signal.signal(signal.SIGINT, _exit_silently)
    try:
        print(line, file=sys.stderr, flush=True)
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe
        pass
    atexit._run_exitfuncs()
    os._exit(130)


def progress_interval() -> float:
    """Seconds between progress lines when stderr is not a terminal
    (``DES_SUPPLY_PROGRESS_INTERVAL``, default 10; 0: every update)."""
    text = os.environ.get("DES_SUPPLY_PROGRESS_INTERVAL", "10")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(
            f"DES_SUPPLY_PROGRESS_INTERVAL={text!r}: give seconds between progress lines (>= 0)"
        )
    return value


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ProgressLines:
    """A stderr for logs: what a progress bar redraws in place (``\\r`` + status, as tqdm
    does) becomes one line at most every *interval* seconds per bar, plus the bar's last
    state when it ends if it had printed before; everything else passes through."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        self.stream, self.interval = stream, interval
        self._shown = 0.0  # when the current bar last printed (0: not yet)
        self._started = 0.0  # when the current bar first drew
        self._last = ""  # its latest status
        self._printed = ""  # the last line printed

    def write(self, text: str) -> int:
        if "\r" not in text:
            if self._last and not text.strip():  # "\n" after a bar's last draw: it stays
                self._end()
                return len(text)
            return self.stream.write(text)
        now = time.monotonic()
        for piece in text.split("\r"):
            if not piece:
                continue
            status = _ESCAPES.sub("", piece).strip()
            if not status:  # spaces over the bar: it was cleared
                self._end()
                continue
            self._started = self._started or now
            self._last = status
            if now - max(self._started, self._shown) >= self.interval:
                self._print(status)
                self._shown = now
        return len(text)

    def _end(self) -> None:
        """The bar ended: print its last state if it printed before (a bar shorter than
        the interval stays silent)."""
        if self._last and self._last != self._printed and self._shown:
            self._print(self._last)
        self._last, self._shown, self._started = "", 0.0, 0.0

    def _print(self, status: str) -> None:
        self.stream.write(status + "\n")
        self.stream.flush()
        self._printed = status

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ...
        return getattr(self.stream, name)
