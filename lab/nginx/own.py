"""A team's own nginx ``server {}`` block, made runnable in the lab's container.

The team's directives are the ones tested, as written. The lab changes only what it must:

* ``listen``: every server block listens on the lab's address and port (``listen 127.0.0.1:PORT ssl``,
  keeping ``default_server`` and ``http2`` flags); the team's own ``listen`` lines stay as comments.
* logging: ``error_log`` / ``access_log`` lines become comments; the lab's frame logs where it reads.
* files: every path a file directive names (``ssl_certificate``, ``ssl_certificate_key``,
  ``ssl_client_certificate``, ``ssl_trusted_certificate``, ``ssl_dhparam``, ...) is resolved on the
  host (relative paths against the config file's directory), checked, **copied** into the
  container's read-only config directory (keys mode 0600), and the directive rewritten to the copy.
  Copying rather than bind-mounting each file means the container sees exactly what was checked,
  and a key never needs to be readable by anyone else.

Refused with an error naming the file and line: no ``server {`` block, a whole ``nginx.conf``
(``http``/``events`` blocks), ``include`` (its files would not exist in the container), and file
paths built from variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab import material
from lab.material import MaterialError

# Directives whose (single) argument is a file the container must see, and whether it is secret.
FILE_DIRECTIVES: dict[str, bool] = {
    "ssl_certificate": False, "ssl_certificate_key": True, "ssl_client_certificate": False,
    "ssl_trusted_certificate": False, "ssl_dhparam": False, "ssl_crl": False, "ssl_stapling_file": False,
    "ssl_password_file": True, "ssl_session_ticket_key": True,
    "proxy_ssl_certificate": False, "proxy_ssl_certificate_key": True, "proxy_ssl_trusted_certificate": False,
    "proxy_ssl_crl": False, "proxy_ssl_password_file": True,
}
_REFUSED_BLOCKS = ("http", "events", "stream", "mail")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)(?P<name>[a-z_0-9]+)\b(?P<args>[^;{]*)(?P<end>[;{])")
_KEPT_LISTEN_FLAGS = ("default_server", "http2")


@dataclass(frozen=True)
class CopiedFile:
    """A file the team's block names: where it is on the host, its name in the container's certs/."""

    source: Path
    name: str
    private: bool


@dataclass(frozen=True)
class OwnBlock:
    text: str  # the server block(s), rewritten
    files: tuple[CopiedFile, ...]


def _unquote(arg: str) -> str:
    arg = arg.strip()
    return arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"" else arg


def rewrite(conf: Path, *, listen: str, certs_dir: str) -> OwnBlock:
    """The team's block with the lab's ``listen``, without its own logs, file paths pointing at copies.

    `listen` is ``ADDRESS:PORT``; `certs_dir` is where the copies live inside the container.
    Raises MaterialError naming the file (and line) for anything that cannot run as given.
    """
    try:
        text = conf.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MaterialError(conf, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MaterialError(conf, f"cannot be read as text: {exc}") from None
    out: list[str] = []
    files: dict[Path, CopiedFile] = {}
    servers = 0
    in_server_depth: int | None = None
    depth = 0
    listened = False
    last_cert: Path | None = None
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{conf}:{number}"
        code = line.split("#", 1)[0]
        m = _DIRECTIVE.match(code)
        name = m.group("name") if m else ""
        if m and m.group("end") == "{" and name in _REFUSED_BLOCKS:
            raise MaterialError(conf, f"line {number}: give only your server {{}} block(s), not a whole nginx.conf "
                                      f"('{name} {{' found); the lab writes the rest")
        if name == "include":
            raise MaterialError(conf, f"line {number}: 'include' is not supported (the included files would not "
                                      "exist in the container): paste their directives into the block")
        if m and m.group("end") == "{" and name == "server" and depth == 0:
            servers += 1
            in_server_depth, listened, last_cert = depth + 1, False, None
            out.append(line)
            depth += code.count("{") - code.count("}")
            continue
        if name == "listen" and in_server_depth is not None:
            args = m.group("args").split() if m else []
            flags = [f for f in args[1:] if f in _KEPT_LISTEN_FLAGS]
            indent = m.group("indent") if m else ""
            out.append(f"{indent}# tlslab: was `{line.strip()}`")
            if not listened:
                out.append(f"{indent}listen {listen} ssl{''.join(' ' + f for f in flags)};")
                listened = True
            continue
        if name in ("error_log", "access_log"):
            out.append(f"{m.group('indent') if m else ''}# tlslab: was `{line.strip()}` (the lab logs for you)")
            continue
        if m and name in FILE_DIRECTIVES and m.group("end") == ";":
            value = _unquote(m.group("args"))
            if "$" in value:
                raise MaterialError(conf, f"line {number}: {name} {value}: paths built from variables are not "
                                          "supported; name the file")
            source = (conf.parent / value).expanduser().resolve()
            private = FILE_DIRECTIVES[name]
            if name.endswith("certificate_key"):
                material.load_key(source)
                if last_cert is not None:
                    material.check_identity(last_cert, source, where)
            elif name.endswith("certificate") or name.endswith("trusted_certificate"):
                material.certificates(source)
                if name in ("ssl_certificate", "proxy_ssl_certificate"):
                    last_cert = source
            elif not source.is_file():
                raise MaterialError(source, f"named on line {number} of {conf} ({name}) does not exist")
            copied = files.setdefault(source, CopiedFile(source, f"own-{material.label(str(source))}{source.suffix}",
                                                         private))
            out.append(f"{m.group('indent')}{name} {certs_dir}/{copied.name};"
                       f"  # tlslab: copy of {value}")
            continue
        if in_server_depth is not None and depth == in_server_depth and code.strip().startswith("}") and not listened:
            out.append(f"    listen {listen} ssl;  # tlslab: the lab's address and port")
            listened = True
        out.append(line)
        depth += code.count("{") - code.count("}")
        if in_server_depth is not None and depth < in_server_depth:
            in_server_depth = None
    if servers == 0:
        raise MaterialError(conf, "holds no 'server {' block: give the server block(s) your nginx serves TLS with")
    if depth != 0:
        raise MaterialError(conf, "has unbalanced braces '{' '}'")
    return OwnBlock("\n".join(out) + "\n", tuple(files.values()))
