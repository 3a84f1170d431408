"""``tlslab explain TEXT``: which client said this, which catalog scenarios cause it, how to tell them apart.

Registered by :mod:`lab.cli` as ``app.command("explain")(explain)``. The logic is
:func:`lab.explain.explain_text`; this module reads the text, prints, and sets the exit code
(0 explained, 1 not recognised, 2 bad input).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.commands import err, lab_errors, out
from lab.errors import UserInputError
from lab.explain import FAMILIES, Explanation, explain_text
from lab.scenario import Catalog

WIDTH = 80
MAX_TEXT = 1_000_000  # characters: a pasted log, not a disk image


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first if first is not None else indent,
                         subsequent_indent=indent, break_on_hyphens=False, break_long_words=True) or [indent]


def _command(cmd: str) -> list[str]:
    """A shell command at 80 columns: continued with a backslash, never cut inside a word."""
    words, lines, current = cmd.split(" "), [], "    $"
    for word in words:
        if len(current) + 1 + len(word) > WIDTH - 2 and current.strip() not in ("$", ""):
            lines.append(current + " \\")
            current = "       "
        current += " " + word
    return lines + [current]


def render(e: Explanation, limit: int = 6) -> list[str]:
    """The human report, every line at most 80 columns."""
    lines = [f"recognised {len(e.messages)} message(s):"]
    for m in e.messages:
        lines += _wrap(f"{m.family_names} -> {m.symptom}", "    ", "  ")
        lines += _wrap(m.text if len(m.text) <= 300 else m.text[:299] + "…", "      ", "    said: ")
        for note in m.notes:
            lines += _wrap(note, "      ", "    note: ")
    for s in e.unexplained:
        lines += _wrap(f"{s}: no catalog scenario produces this symptom; the lab cannot reproduce it yet.",
                       "    ", "  ")
    if not e.candidates:
        return lines
    shown = e.candidates[:limit]
    lines += ["", "candidates, best first:"]
    for i, c in enumerate(shown, 1):
        lines += _wrap(f"{c.scenario}  (score {c.score:.2f})", "     ", f"{i:>2}. ")
        lines += _wrap(c.title, "     ")
        for why in c.why[:3]:
            lines += _wrap(why, "          ", "     why: ")
        for f in c.fix[:2]:
            lines += _wrap(f"{f.resolution}{' (recommended)' if f.recommended else ''}: {f.summary}",
                           "          ", "     fix: ")
        lines += _wrap(c.reproduce, "          ", "     run: ")
    if len(e.candidates) > limit:
        rest = ", ".join(c.scenario for c in e.candidates[limit:])
        lines += _wrap(f"also possible, with weaker evidence: {rest} (--all shows them)", "  ", "  ")
    if e.tell_apart:
        lines += ["", "to tell them apart:" if len(shown) > 1 else "to confirm it:"]
        for o in e.tell_apart:
            lines += _wrap(o.question, "    ", "  ")
            for cmd in o.commands:
                lines += _command(cmd)
            for scenario, answer in o.answers.items():
                lines += _wrap(answer, "        ", f"    {scenario}: ") if len(scenario) < 24 else (
                    [f"    {scenario}:"] + _wrap(answer, "        "))
    return lines


def _read(text: str) -> str:
    if text == "-":
        if sys.stdin.isatty():
            raise UserInputError("TEXT is '-': paste the message or log on stdin, then Ctrl-D")
        # Logs are not always UTF-8 (a Windows event log, Latin-1 server logs): never a traceback for that.
        data = sys.stdin.buffer.read(MAX_TEXT * 4 + 1).decode("utf-8", errors="replace")
    else:
        data = text
    if len(data) > MAX_TEXT:
        raise UserInputError(f"TEXT is longer than {MAX_TEXT} characters; paste the lines around the error")
    if not data.strip():
        raise UserInputError("TEXT is empty: give the error message a client printed (or '-' for stdin)")
    return data


def explain(
    text: Annotated[Optional[str], typer.Argument(metavar="[TEXT]", help="The error text a client printed, or '-' to read a pasted log from stdin.", show_default=False)] = None,
    pcap_file: Annotated[Optional[Path], typer.Option("--pcap", help="Read a capture instead (pcap or pcapng: tcpdump, tshark, Wireshark): every failed TLS handshake, what each side offered and answered, and the candidate scenarios.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout (schema tlslab.explain/1).")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Show every candidate, not only the best six.")] = False,
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory (default: the repo's scenarios/; env TLSLAB_SCENARIOS).", show_default=False)] = None,
) -> None:
    """Explain a TLS error message: the client, the candidate causes, their fixes, how to tell them apart.

    Recognises OpenSSL 1.0.2/1.1.1/3.x, curl, Python, Java, Go, Node.js, GnuTLS, NSS/Firefox,
    Schannel, .NET, SecureTransport, Chrome, nginx error-log lines and Envoy 503 texts. A pasted
    log may hold several messages: each is read, noise is skipped.

    Exit codes: 0 explained; 1 not recognised (the closest known messages are shown); 2 bad input.

    \b
    Examples:
      tlslab explain 'error:0A000410:SSL routines::sslv3 alert handshake failure'

      tlslab explain 'x509: certificate signed by unknown authority' --json

      kubectl logs deploy/gateway | tlslab explain -

      tlslab explain --pcap customer.pcapng
    """
    if pcap_file is not None:
        if text is not None:
            with lab_errors():
                raise UserInputError("give TEXT or --pcap FILE, not both")
        from lab.commands.pcap import pcap
        pcap(file=pcap_file, keylog=None, all_=False, as_json=as_json, scenarios=scenarios)
    with lab_errors():
        if text is None:
            raise UserInputError("give the error TEXT a client printed ('-' for stdin), or --pcap FILE")
        data = _read(text)
        catalog = Catalog.load(scenarios)
        result = explain_text(data, catalog)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n")
        if not result.recognised:
            err.print("not recognised: no known client message in this text; closest known: "
                      + " | ".join(result.closest))
    elif result.recognised:
        for line in render(result, limit=len(result.candidates) if all_ else 6):
            out.print(line, soft_wrap=True)
    else:
        out.print("not recognised: no known client message in this text.", soft_wrap=True)
        if result.seen_families:
            names = ", ".join(FAMILIES[f].name for f in result.seen_families)
            for line in _wrap(f"It looks like output of {names}, but says nothing the lab knows as a TLS "
                              "failure.", ""):
                out.print(line, soft_wrap=True)
        if result.closest:
            out.print("closest known messages (none of them is a match):", soft_wrap=True)
            for c in result.closest:
                for line in _wrap(c, "    ", "  - "):
                    out.print(line, soft_wrap=True)
        for line in _wrap("Paste the client's exact error line; 'tlslab show ID' lists what each scenario's "
                          "clients say.", ""):
            out.print(line, soft_wrap=True)
    raise typer.Exit(0 if result.recognised else 1)
