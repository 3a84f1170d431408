"""``tlslab export compose SCENARIO OUTDIR``: a docker compose project that reproduces the failure anywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.commands import err, lab_errors, out, print_json
from lab.errors import EnvironmentError_, UserInputError
from lab.paths import certs_dir
from lab.pki import Pki
from lab.scenario import Catalog, Direction

# The compose/docker modules are imported when the command runs: `tlslab up` should not pay for them.
DEFAULT_TLS_PORT = 8443
DEFAULT_GATEWAY_PORT = 8080

export_app = typer.Typer(name="export", help="Export a scenario to run without tlslab.", no_args_is_help=True,
                         add_completion=False, rich_markup_mode=None)


@export_app.command("compose")
def compose(
    scenario_id: Annotated[str, typer.Argument(metavar="SCENARIO", help="A scenario id (see 'tlslab list').")],
    outdir: Annotated[Path, typer.Argument(metavar="OUTDIR", help="Where to write the project (empty or new).")],
    direction: Annotated[Optional[str], typer.Option("--direction", "-d", help="northbound or southbound (default: the documented one).", show_default=False)] = None,
    image: Annotated[Optional[str], typer.Option("--image", help="nginx image for the services (default: the lab's, built offline if needed; env TLSLAB_NGINX_IMAGE).", show_default=False)] = None,
    tls_port: Annotated[int, typer.Option("--tls-port", help="Port of the TLS server (router, or backend).")] = DEFAULT_TLS_PORT,
    gateway_port: Annotated[int, typer.Option("--gateway-port", help="Port of the gateway (southbound).")] = DEFAULT_GATEWAY_PORT,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty OUTDIR.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Describe the project as JSON on stdout.")] = False,
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory.", show_default=False)] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Where the lab PKI lives.", show_default=False)] = None,
) -> None:
    """Write nginx configs, the lab PEMs, a compose file and README.txt; `docker compose up` shows the fault.

    Southbound scenarios get two nginx services: the faulty backend and the gateway.

    Example: tlslab export compose sni-required ./out && cd out && docker compose up -d
    """
    from lab.nginx.export import compose_command, export_compose, prepare_outdir
    from lab.nginx.image import image_tag, resolve_image
    from lab.nginx.engine import DockerUnavailable, docker_client

    with lab_errors():
        scenario = Catalog.load(scenarios).get(scenario_id)
        chosen = None
        if direction:
            try:
                chosen = Direction.parse(direction)
            except ValueError as exc:
                raise UserInputError(f"--direction: {exc}") from None
        for name, port in (("--tls-port", tls_port), ("--gateway-port", gateway_port)):
            if not 1 <= port <= 65535:
                raise UserInputError(f"{name} must be between 1 and 65535")
        prepare_outdir(outdir, force)  # before the image: a build can take minutes
        pki = Pki.ensure(certs_dir(certs))
        image = image or os.environ.get("TLSLAB_NGINX_IMAGE") or None
        try:
            tag = resolve_image(docker_client(), image,
                                progress=None if as_json else (lambda line: err.print(f"  {line}")))
        except DockerUnavailable:
            # Exporting needs no engine: name the image the lab would build, and say how.
            tag = image or image_tag()
            err.print(f"note: no Docker engine here; the project names {tag}: build it with "
                      "'tlslab image build' on the machine that runs it, or set TLSLAB_NGINX_IMAGE.")
        try:
            result = export_compose(scenario, outdir, pki, image=tag, direction=chosen, tls_port=tls_port,
                                    gateway_port=gateway_port, force=force)
        except OSError as exc:  # the checks passed, the disk did not (full, or changed under us)
            raise EnvironmentError_(f"writing {outdir} failed: {exc}") from None
    runner = " ".join(compose_command() or ["docker", "compose"])
    if as_json:
        print_json(({"directory": str(result.directory), "services": list(result.services),
                                   "direction": result.direction.value, "image": result.image,
                                   "tls_port": result.tls_port, "gateway_port": result.gateway_port,
                                   "run": f"{runner} up -d"}))
        return
    out.print(f"wrote {result.directory} ({', '.join(result.services)}; image {result.image})")
    out.print(f"run:  cd {result.directory} && {runner} up -d   (then see README.txt for the failure to expect)")
