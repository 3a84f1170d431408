"""``tlslab image build``: the lab's nginx image, offline, cached by content."""

from __future__ import annotations

from typing import Annotated

import typer

from lab.commands import err, lab_errors, out, print_json

image_app = typer.Typer(name="image", help="The lab's nginx image, built offline from this host's Debian nginx.",
                        no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@image_app.command("build")
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if an image with the same inputs exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line on stdout: tag, built, seconds.")] = False,
) -> None:
    """Build tlslab/nginx:<hash> from /usr/sbin/nginx and its libraries: no registry, no network.

    The tag is a hash of every input, so the build is skipped while nothing changed. Needs the
    Debian nginx package on this host (apt-get install nginx-light); to use an official image
    instead, pass --image nginx:<tag> to run/up/export.

    Example: tlslab image build
    """
    from lab.nginx.image import build_image, host_nginx_version  # docker's SDK: only when building
    from lab.nginx.engine import docker_client

    with lab_errors():
        client = docker_client()
        if not as_json:
            err.print(f"host nginx: {host_nginx_version()}")
        result = build_image(client, force=force, progress=None if as_json else (lambda line: err.print(f"  {line}")))
    if as_json:
        print_json(({"tag": result.tag, "built": result.built, "seconds": round(result.seconds, 3)}))
        return
    out.print(f"{'built' if result.built else 'cached'}: {result.tag} (also tagged tlslab/nginx:latest) "
              f"in {result.seconds:.2f}s")
