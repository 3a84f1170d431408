"""The CLI's one console pair and its one error funnel: the only place the lab prints from.

``out`` is stdout (results, JSON), ``err`` is stderr (progress, errors). Neither reads rich
markup, so user text (a scenario id like ``[/foo]``, a path) prints exactly as given. Widths
honour ``COLUMNS``; piped output is 80 columns of tables, no trailing spaces, and prose that is
never wrapped (a command stays on one line for pasting).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from typing import IO, Any

import typer
from rich.console import Console

from lab.errors import LabError, UserInputError

PIPED_WIDTH = 80


def _width(stream: IO[str]) -> int | None:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if stream.isatty() else PIPED_WIDTH


out = Console(highlight=False, markup=False, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, markup=False, width=_width(sys.stderr))


def emit(renderable: Any, console: Console = out) -> None:
    """Print a table or other layout; to a pipe or file without the padding rich adds at line ends."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    stream = sys.stderr if console is err else sys.stdout
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    stream.flush()


def print_json(data: Any) -> None:
    """JSON for scripts on stdout: written as is, never wrapped, padded or highlighted."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def say(text: Any = "", console: Console = out, **kwargs: Any) -> None:
    """One line of prose or a command: never hard-wrapped, so it pastes as one line."""
    console.print(text, soft_wrap=True, **kwargs)


def para(text: Any, console: Console = out, **kwargs: Any) -> None:
    """Prose: wrapped at word boundaries to the width (80 when piped), no trailing spaces."""
    emit(text, console) if not console.is_terminal else console.print(text, **kwargs)


class Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, unwound like Ctrl-C so every context manager cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def interrupted_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process that signal ended: 130 for Ctrl-C
    (SIGINT), 143 for SIGTERM, 129 for SIGHUP. The same for every command, `up` included."""
    return 128 + (exc.signum if isinstance(exc, Signalled) else signal.SIGINT)


EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_MACHINE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def exit_code(exc: LabError) -> int:
    """Whose fault: the user's input (2) or what this machine cannot do (3)."""
    return EXIT_INPUT if isinstance(exc, UserInputError) else EXIT_MACHINE


@contextlib.contextmanager
def lab_errors() -> Iterator[None]:
    """Every command runs inside this: a LabError is one line on stderr and its exit code, never a
    traceback; Ctrl-C (and SIGTERM, which the CLI turns into it) is 130 once everything is stopped."""
    try:
        yield
    except LabError as exc:
        say(f"error: {exc}", err, style="bold red")
        raise typer.Exit(exit_code(exc)) from None
    except KeyboardInterrupt as exc:
        # Context managers have already stopped every server, probe process and container.
        say("\ninterrupted; nothing left running.", err)
        raise typer.Exit(interrupted_code(exc)) from None
