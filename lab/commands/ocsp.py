"""``tlslab ocsp query CERT``: what the lab's OCSP responder says about a lab certificate, for teaching.

Registered by :mod:`lab.cli` as ``app.add_typer(ocsp_app, name="ocsp")``. The logic lives in
:func:`lab.ocsp.query_lab_certificate`; this module only parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from lab.console import lab_errors, print_json, say
from lab.errors import UserInputError
if TYPE_CHECKING:
    from lab.ocsp import LabQuery
from lab.paths import certs_dir
from lab.pki import Pki, catalogue_names
from lab.specs import OcspNetwork, OcspWindow, ResponderStatus

ocsp_app = typer.Typer(help="The lab's OCSP responder: ask it about a certificate.", no_args_is_help=True)


@ocsp_app.callback()
def _group() -> None:
    """OCSP: ask the lab's responder about a certificate (more subcommands may follow)."""


def _choice(enum_type: Any, value: str, option: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        raise UserInputError(f"{option}: {value!r} is not one of {', '.join(m.value for m in enum_type)}") from None


def as_json(q: LabQuery) -> dict[str, Any]:
    v = q.verdict
    return {
        "certificate": q.certificate, "issuer": q.issuer, "aia_ocsp_url": q.aia_url, "responder_url": q.url,
        "error": q.result.error, "elapsed": round(q.result.elapsed, 3),
        "symptom": str(v.symptom) if v else "revocation:unavailable",
        "message": v.message if v else q.result.error,
        "cert_status": v.cert_status if v else None, "signer": v.signer if v else None,
        "this_update": v.this_update.isoformat() if v and v.this_update else None,
        "next_update": v.next_update.isoformat() if v and v.next_update else None,
        "openssl_command": list(q.openssl_argv), "openssl_output": q.openssl_output,
    }


def render(q: LabQuery) -> list[str]:
    """The teaching text: what was asked, what came back, what a client would conclude."""
    import shlex
    v = q.verdict
    lines = [
        f"certificate   {q.certificate} (issued by {q.issuer})",
        f"AIA OCSP URL  {q.aia_url or '(none: this certificate names no responder)'}",
        f"asked         {q.url}  ({q.result.elapsed * 1000:.0f} ms)",
    ]
    if v is None:
        lines += [f"answer        none: {q.result.error}", "verdict       revocation:unavailable"]
    else:
        lines += [f"cert status   {v.cert_status or '(none)'}", f"signed by     {v.signer or '(not trusted)'}"]
        if v.this_update:
            lines.append(f"thisUpdate    {v.this_update:%Y-%m-%d %H:%M:%SZ}")
        if v.next_update:
            lines.append(f"nextUpdate    {v.next_update:%Y-%m-%d %H:%M:%SZ}")
        lines.append(f"verdict       {v.symptom}: {v.message}")
    lines += ["", "by hand:", "  " + shlex.join(q.openssl_argv)]
    if q.openssl_output is not None:
        lines += ["", "openssl ocsp said:"] + ["  " + ln for ln in q.openssl_output.splitlines()]
    return lines


@ocsp_app.command("query")
def query_command(
    certificate: Annotated[str, typer.Argument(metavar="CERT", help="A certificate name from 'tlslab certs' (e.g. ocsp-server, ocsp-server-revoked).")],
    signer: Annotated[Optional[str], typer.Option(help="Who signs the answer: a certificate name (default: the issuing CA), e.g. ocsp-responder-expired.")] = None,
    window: Annotated[str, typer.Option(help="thisUpdate/nextUpdate: fresh, stale, expired, not-yet-valid.")] = "fresh",
    status: Annotated[str, typer.Option(help="Response status: successful, tryLater, malformedRequest, internalError, sigRequired, unauthorized.")] = "successful",
    network: Annotated[str, typer.Option(help="open, blocked (accepts, never answers), down (refused), slow.")] = "open",
    clock_offset_days: Annotated[float, typer.Option(help="Judge the answer with a clock this many days ahead (negative: behind).")] = 0.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the responder.")] = 2.0,
    openssl: Annotated[bool, typer.Option("--openssl/--no-openssl", help="Also ask with 'openssl ocsp' and show its output.")] = False,
    certs: Annotated[Optional[Path], typer.Option(help="Certificate directory (default: $TLSLAB_CERTS or certs/).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Start the responder, ask it about CERT, and say what a client would conclude."""
    with lab_errors():
        if certificate not in catalogue_names():
            raise UserInputError(f"no certificate named {certificate!r}; known: {', '.join(catalogue_names())}")
        if signer is not None and signer not in catalogue_names():
            raise UserInputError(f"--signer: no certificate named {signer!r}")
        from lab.ocsp import ResponderPolicy, query_lab_certificate  # the responder: only when asked

        policy = ResponderPolicy(signer, _choice(OcspWindow, window, "--window"),
                                 _choice(ResponderStatus, status, "--status"),
                                 _choice(OcspNetwork, network, "--network"))
        pki = Pki.ensure(certs_dir(certs))
        try:
            q = query_lab_certificate(pki, certificate, policy, timeout, clock_offset_days, run_openssl=openssl)
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
    if json_out:
        print_json(as_json(q))
    else:
        for line in render(q):
            say(line)
    raise typer.Exit(0 if q.verdict is not None and q.verdict.ok else 1)
