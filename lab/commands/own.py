"""Command-line options for a team's own material: certificates, keys, CA file, nginx block, client.

Shared by ``run``, ``up`` and ``show``; every file is checked before anything starts (exit 2 naming
the file and the flag). The material becomes one more phase, ``own-material`` (see
:func:`lab.scenario.with_own_material`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.errors import UserInputError
from lab.material import OwnMaterial
from lab.scenario import Scenario, with_own_material

ServerCertOpt = Annotated[Optional[Path], typer.Option(
    "--server-cert", help="Your server certificate file: the leaf, then the chain to serve (PEM). Adds the "
    "phase 'own-material': the fault's settings with your files, where every client must succeed.",
    show_default=False)]
ServerKeyOpt = Annotated[Optional[Path], typer.Option("--server-key", help="The private key of --server-cert (PEM, unencrypted).", show_default=False)]
CaFileOpt = Annotated[Optional[Path], typer.Option("--ca-file", help="The CA file your clients trust for --server-cert (PEM).", show_default=False)]
ClientCertOpt = Annotated[Optional[Path], typer.Option("--client-cert", help="2-way TLS: your client certificate (with its chain, PEM).", show_default=False)]
ClientCaOpt = Annotated[Optional[Path], typer.Option("--client-ca", help="2-way TLS: the CA file your server trusts for client certificates (e.g. the issuer of --client-cert).", show_default=False)]
ClientKeyOpt = Annotated[Optional[Path], typer.Option("--client-key", help="The private key of --client-cert.", show_default=False)]
NginxConfOpt = Annotated[Optional[Path], typer.Option(
    "--nginx-conf", help="With --backend nginx: your own server {} block(s); the lab changes only listen, "
    "logs and copies the files it names.", show_default=False)]
ProbeCmdOpt = Annotated[Optional[list[str]], typer.Option(
    "--probe-cmd", help="Your own client as a probe, repeatable: NAME=COMMAND with placeholders {url} "
    "{servername} {name_url} {host} {port} {ca_file} {client_cert} {client_key}; exit 0 = success.",
    show_default=False)]


def apply_own(scenario: Scenario, backend: str, *, server_cert: Path | None = None, server_key: Path | None = None,
              ca_file: Path | None = None, client_cert: Path | None = None, client_key: Path | None = None,
              client_ca: Path | None = None,
              nginx_conf: Path | None = None) -> Scenario:
    """`scenario` with the ``own-material`` phase for what the flags name (unchanged when none is given)."""
    if nginx_conf and backend != "nginx":
        raise UserInputError(f"--nginx-conf {nginx_conf}: your nginx block runs on the nginx backend: add --backend nginx")
    uses_block = scenario.server.nginx_conf or any(r.server.get("nginx_conf") for r in scenario.resolutions)
    if uses_block and backend != "nginx":
        raise UserInputError(f"scenario {scenario.id!r} ({scenario.path}) serves your nginx block (server.nginx_conf): "
                             "run it with --backend nginx")
    own = OwnMaterial.from_options(server_cert=server_cert, server_key=server_key, ca_file=ca_file,
                                   client_cert=client_cert, client_key=client_key, client_ca=client_ca,
                                   nginx_conf=nginx_conf)
    return with_own_material(scenario, own)
