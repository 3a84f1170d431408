"""``tlslab matrix``: run every scenario with every client and write the symptom matrix."""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from lab import matrix as matrix_lib
from lab.commands import lab_errors
from lab.errors import EnvironmentError_
from lab.harness import Harness, RunReport
from lab.paths import default_certs_dir
from lab.pki import Pki
from lab.probes import make_probes, parse_clients
from lab.scenario import Catalog
from lab.servers import make_backend

DEFAULT_MD = Path("docs/symptoms.md")
_err = Console(stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 200)


def generate(clients: str = "all", backend: str = "twisted", scenarios: Path | None = None,
             certs: Path | None = None, require_all: bool = False) -> tuple[dict, str]:
    """Run the catalogue with the clients and return (matrix data, Markdown). Raises LabError."""
    catalog = Catalog.load(scenarios)
    probes = make_probes(parse_clients(clients))
    harness = Harness(make_backend(backend), probes, Pki.ensure(certs or default_certs_dir()))
    if harness.unavailable and (require_all or os.environ.get("CI") == "true"):
        raise EnvironmentError_("every client must run to write the matrix: " + "; ".join(
            f"{name}: {why}" for name, why in harness.unavailable.items()))
    report: RunReport = harness.run(list(catalog))
    data = matrix_lib.build([report], catalog)
    return data, matrix_lib.markdown(data)


def matrix(
    out_md: Annotated[Path, typer.Option("--out", "-o", help="Markdown file to write.")] = DEFAULT_MD,
    json_out: Annotated[Optional[Path], typer.Option("--json-out", help="Also write the matrix as JSON here ('-' for stdout).", show_default=False)] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when --out differs from a fresh run.")] = False,
    client: Annotated[str, typer.Option("--client", "-c", help="Comma-separated clients, or 'all'.")] = "all",
    backend: Annotated[str, typer.Option("--backend", "-b", help="Where the servers run.")] = "twisted",
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory.", show_default=False)] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Where the lab PKI lives.", show_default=False)] = None,
) -> None:
    """Write the symptom matrix (scenario x client, fault and every fix) as Markdown and JSON.

    The committed docs/symptoms.md is regenerated with: tlslab matrix

    Exit codes: 0 written (or up to date with --check); 1 stale (--check) or a check failed;
    2 bad input; 3 a client or tool is missing (all clients must run).
    """
    with lab_errors():
        data, text = generate(client, backend, scenarios, certs, require_all=True)
    if json_out is not None:
        payload = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if str(json_out) == "-":
            sys.stdout.write(payload)
        else:
            json_out.write_text(payload, encoding="utf-8")
    if check:
        current = out_md.read_text(encoding="utf-8") if out_md.exists() else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(out_md), "fresh run", lineterm="")
            _err.print("\n".join(list(diff)[:80]))
            _err.print(f"{out_md} is stale: regenerate it with 'tlslab matrix --out {out_md}' and commit it.")
            raise typer.Exit(1)
        _err.print(f"{out_md} is up to date.")
    else:
        out_md.parent.mkdir(parents=True, exist_ok=True)
        out_md.write_text(text, encoding="utf-8")
        _err.print(f"wrote {out_md}" + (f" and {json_out}" if json_out and str(json_out) != "-" else ""))
    if not data["passed"]:
        _err.print("some checks failed: the matrix shows them with ✗ (see 'tlslab run --all --client all -v').")
        raise typer.Exit(1)
