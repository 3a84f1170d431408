"""The lab's nginx image, built offline from the host's Debian nginx package and cached by content.

No registry is needed (and none is reachable in many workshop rooms): the build context is
``compose/nginx-image/Dockerfile`` (``FROM scratch``) plus a root filesystem assembled here from the
installed ``/usr/sbin/nginx``, its shared-library closure as ``ldd`` reports it, OpenSSL's
configuration and a minimal ``/etc``. The image is tagged ``tlslab/nginx:<hash of every input>``,
so it is rebuilt only when the host's nginx, OpenSSL or the recipe change. Building takes seconds.

The image's nginx is the host's: Debian's nginx on OpenSSL 3, which still negotiates TLSv1.0 when a
configuration asks for it with ``@SECLEVEL=0`` (the renderer does that).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.paths import data_dir
from lab.nginx.engine import LABEL
from lab.errors import EnvironmentError_, ToolMissing, UserInputError

REPOSITORY = "tlslab/nginx"
NGINX = "/usr/sbin/nginx"
RECIPE_VERSION = "1"  # bump when the assembly below changes in a way the file contents do not show

Progress = Callable[[str], None]


def compose_dir() -> Path:
    """The checkout's ``compose/``, or the copy inside the wheel."""
    return data_dir("compose")


@dataclass(frozen=True)
class BuildResult:
    tag: str
    built: bool  # False: the cached image was already there
    seconds: float


_PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_DEFAULT_CONF = """# The image's default: serve a plain answer on port 80. tlslab runs it with -c /etc/tlslab/nginx.conf.
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    default_type text/plain;
    access_log off;
    client_body_temp_path /tmp/nginx-client-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    server { listen 80; location / { return 200 "tlslab nginx\\n"; } }
}
"""
_DIRS = ("tmp", "run", "etc/nginx", "etc/tlslab", "var/log/nginx", "var/log/tlslab", "var/lib/nginx",
         "var/cache/nginx", "usr/share/nginx/html")


def _shared_libraries(binary: str) -> list[str]:
    """The binary's shared-library closure, as the dynamic loader resolves it on this host."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolMissing("ldd", f"needed to collect nginx's shared libraries ({exc}); apt-get install libc-bin") from None
    libs = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def rootfs_files() -> dict[str, bytes]:
    """Every file of the image's root filesystem (path without leading slash -> content)."""
    if not Path(NGINX).exists():
        raise ToolMissing("nginx", "the lab's image is assembled from the host's Debian nginx: "
                          "sudo apt-get install nginx-light (or pass --image nginx:<tag> to use an official image)")
    files: dict[str, bytes] = {"usr/sbin/nginx": Path(NGINX).resolve().read_bytes()}
    for lib in _shared_libraries(NGINX):
        files[lib.lstrip("/")] = Path(lib).resolve().read_bytes()
    for optional in ("/usr/lib/ssl/openssl.cnf", "/etc/nginx/mime.types"):
        if Path(optional).exists():
            files[optional.lstrip("/")] = Path(optional).resolve().read_bytes()
    files["etc/passwd"] = _PASSWD.encode()
    files["etc/group"] = _GROUP.encode()
    files["etc/nsswitch.conf"] = b"passwd: files\ngroup: files\nhosts: files\n"
    files["etc/hosts"] = b"127.0.0.1 localhost\n::1 localhost\n"
    files["etc/nginx/nginx.conf"] = _DEFAULT_CONF.encode()
    return files


def _dockerfile() -> bytes:
    path = compose_dir() / "nginx-image" / "Dockerfile"
    try:
        return path.read_bytes()
    except OSError:
        raise EnvironmentError_(f"the image recipe {path} is missing; reinstall tlslab") from None


def image_tag(files: dict[str, bytes] | None = None) -> str:
    """``tlslab/nginx:<hash>`` of the recipe and every file: the cache key."""
    files = rootfs_files() if files is None else files
    h = hashlib.sha256(RECIPE_VERSION.encode() + b"\0" + _dockerfile())
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return f"{REPOSITORY}:{h.hexdigest()[:12]}"


def build_context(files: dict[str, bytes]) -> io.BytesIO:
    """An uncompressed tar: the Dockerfile and rootfs/ (directories, executables 0755, the rest 0644)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes | None, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        add("Dockerfile", _dockerfile(), 0o644)
        dirs = {"rootfs"} | {f"rootfs/{d}" for d in _DIRS}
        for path in files:
            parts = path.split("/")[:-1]
            dirs |= {"rootfs/" + "/".join(parts[: i + 1]) for i in range(len(parts))}
        for d in sorted(dirs):
            add(d, None, 0o1777 if d == "rootfs/tmp" else 0o755)
        for path, data in sorted(files.items()):
            executable = path == "usr/sbin/nginx" or ".so" in path
            add(f"rootfs/{path}", data, 0o755 if executable else 0o644)
    buf.seek(0)
    return buf


def image_exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def build_image(client: Any, *, force: bool = False, progress: Progress | None = None) -> BuildResult:
    """Build the lab's image unless an image with the same inputs is cached; `progress` hears each step."""
    started = time.monotonic()
    say = progress or (lambda _line: None)
    files = rootfs_files()
    tag = image_tag(files)
    if not force and image_exists(client, tag):
        say(f"cached: {tag}")
        return BuildResult(tag, False, time.monotonic() - started)
    say(f"assembling the root filesystem from {NGINX} and {len(files) - 1} other files of this host")
    context = build_context(files)
    say(f"building {tag} from scratch ({len(context.getbuffer()) / 1e6:.1f} MB context, no registry needed)")
    from docker.errors import APIError
    try:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                      decode=True, nocache=force, labels={LABEL: "1"}):
            if "error" in chunk:
                raise EnvironmentError_(f"docker could not build {tag}: {chunk['error'].strip()}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                say(line)
    except APIError as exc:
        raise EnvironmentError_(f"docker could not build {tag}: {exc.explanation or exc}") from None
    client.images.get(tag).tag(REPOSITORY, "latest")
    return BuildResult(tag, True, time.monotonic() - started)


def resolve_image(client: Any, image: str | None, progress: Progress | None = None) -> str:
    """The image to run: `image` if given (it must be present locally), else the lab's, built if needed."""
    if image:
        if not image_exists(client, image):
            raise UserInputError(
                f"--image {image}: no such image on this Docker engine. Pull it where a registry is reachable "
                f"('docker pull {image}'; load it elsewhere with 'docker save'/'docker load'), "
                "or leave --image out to use the lab's offline image ('tlslab image build')."
            )
        return image
    return build_image(client, progress=progress).tag


def remove_lab_images(client: Any) -> list[str]:
    """Remove the lab's own images (label tlslab=1) only; for cold-build measurements."""
    removed = []
    for img in client.images.list(filters={"label": f"{LABEL}=1"}):
        for tag in img.tags or [img.id]:
            client.images.remove(tag, force=True)
            removed.append(tag)
    return removed


def host_nginx_version() -> str:
    if shutil.which("nginx") is None and not Path(NGINX).exists():
        return "nginx (not installed)"
    proc = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=10)
    return (proc.stderr or proc.stdout).strip().removeprefix("nginx version: ")
