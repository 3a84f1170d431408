"""Malformed scenario files and hostile flags/environments, as a hostile or unlucky user writes them.

Shared by ``tests/test_malformed_input.py`` (each case through the real ``tlslab`` command) and
``benchmarks/bench_malformed.py`` (the figures). Every case must end with one line on stderr that
names the file and field (or the flag / variable), the documented exit code, and no traceback.

A *file case* is a scenario directory holding one broken file (written from :data:`BASE`);
``tlslab list --scenarios DIR`` must reject it. A *flag case* builds its own command line and
environment (see :func:`flag_cases`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BASE = '''id = "demo"
title = "Demo"
document = "doc.txt"
direction = "northbound"
fault = "the server's certificate expired"
servername = "api.lab.test"

[symptom]
documented = "certificate has expired"
expect = "verify:expired"

[server]
certificate = "server-expired"

[client]
timeout = 5.0

[[resolution]]
name = "renew"
summary = "renew it"
[resolution.server]
certificate = "server"
'''


def _sub(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return mutate


def _server(line: str) -> Callable[[str], str]:
    return _sub("[server]\n", f"[server]\n{line}\n")


def _client(line: str) -> Callable[[str], str]:
    return _sub("[client]\n", f"[client]\n{line}\n")


def _symptom(line: str) -> Callable[[str], str]:
    return _sub('expect = "verify:expired"\n', f'expect = "verify:expired"\n{line}\n')


def _top(line: str) -> Callable[[str], str]:
    return _sub('servername = "api.lab.test"\n', f'servername = "api.lab.test"\n{line}\n')


def _drop(line: str) -> Callable[[str], str]:
    return _sub(line + "\n", "")


@dataclass(frozen=True)
class FileCase:
    """One broken scenario file: `mutate` turns BASE into it; `words` must appear in the error line."""

    name: str
    mutate: Callable[[str], str] | None = None
    words: tuple[str, ...] = ()
    raw: bytes | None = None  # the file's bytes, when not text
    special: str = ""  # "fifo", "zero-symlink", "directory", "huge", "symlink-loop", "dangling-symlink"
    filename: str = "demo.toml"


DEEP = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"

FILE_CASES: tuple[FileCase, ...] = (
    # --- the crashes -----------------------------------------------------------------
    FileCase("non-utf8", raw=BASE.encode().replace(b'"Demo"', b'"D\xff\xfemo"'), words=("UTF-8",)),
    FileCase("chain-int", _server("chain = 5"), ("server", "chain", "list")),
    FileCase("chain-table", _server("chain = {intermediate = 1}"), ("server", "chain", "list")),
    FileCase("chain-unknown-cert", _server('chain = ["intermediat"]'), ("server", "chain", "intermediate")),
    FileCase("timeout-nan", _sub("timeout = 5.0", "timeout = nan"), ("client", "timeout", "> 0")),
    FileCase("timeout-inf", _sub("timeout = 5.0", "timeout = inf"), ("client", "timeout", "> 0")),
    FileCase("timeout-negative", _sub("timeout = 5.0", "timeout = -1"), ("client", "timeout", "> 0")),
    FileCase("timeout-zero", _sub("timeout = 5.0", "timeout = 0"), ("client", "timeout", "> 0")),
    FileCase("timeout-huge", _sub("timeout = 5.0", "timeout = 1e9"), ("client", "timeout", "300")),
    FileCase("timeout-string", _sub("timeout = 5.0", 'timeout = "5"'), ("client", "timeout", "number")),
    FileCase("clock-offset-huge", _client("clock_offset_days = 1e12"), ("client", "clock_offset_days")),
    FileCase("clock-offset-nan", _client("clock_offset_days = nan"), ("client", "clock_offset_days")),
    FileCase("cipher-unknown", _server('ciphers = "NO-SUCH-CIPHER"'), ("server", "ciphers", "NO-SUCH-CIPHER")),
    FileCase("cipher-one-unknown", _client('ciphers = "AES128-SHA:BOGUS-SHA"'), ("client", "ciphers", "BOGUS-SHA")),
    FileCase("cipher-empty", _client('ciphers = ""'), ("client", "ciphers")),
    FileCase("servername-space", _sub('servername = "api.lab.test"', 'servername = "api lab.test"'), ("servername",)),
    FileCase("servername-semicolon", _sub('servername = "api.lab.test"', 'servername = "api.lab.test;rm -rf"'),
             ("servername",)),
    FileCase("servername-nul", _sub('servername = "api.lab.test"', 'servername = "api\\u0000.lab.test"'),
             ("servername",)),
    FileCase("servername-300", _sub('servername = "api.lab.test"', f'servername = "{"a" * 290}.lab.test"'),
             ("servername", "253")),
    FileCase("servername-int", _sub('servername = "api.lab.test"', "servername = 5"), ("servername", "string")),
    FileCase("deep-nesting", _sub("[symptom]\n", DEEP + "[symptom]\n"), ("nested",)),
    FileCase("deep-inline-table", _sub("[symptom]\n", "x = " + "{a=" * 50_000 + "1" + "}" * 50_000 + "\n[symptom]\n"),
             ("nested",)),
    FileCase("fifo", special="fifo", filename="x.toml", words=("x.toml", "regular file")),
    FileCase("zero-symlink", special="zero-symlink", filename="z.toml", words=("z.toml", "regular file")),
    FileCase("directory", special="directory", filename="d.toml", words=("d.toml", "regular file")),
    FileCase("huge", special="huge", words=("demo.toml", "larger than")),
    FileCase("symlink-loop", special="symlink-loop", filename="loop.toml", words=("loop.toml", "cannot be read")),
    FileCase("dangling-symlink", special="dangling-symlink", filename="gone.toml", words=("gone.toml", "cannot be read")),
    # --- invalid scenarios that used to load -------------------------------------------------
    FileCase("symptom-detail-bogus", _sub('expect = "verify:expired"', 'expect = "verify:bogus"'),
             ("symptom.expect", "bogus", "expired")),
    FileCase("symptom-alert-bogus", _sub('expect = "verify:expired"', 'expect = "alert:handshake_failed"'),
             ("symptom.expect", "handshake_failure")),
    FileCase("symptom-ok-detail", _sub('expect = "verify:expired"', 'expect = "ok:yes"'), ("symptom.expect",)),
    FileCase("symptom-http-bogus", _sub('expect = "verify:expired"', 'expect = "http:abc"'), ("symptom.expect",)),
    FileCase("probe-typo", _symptom('[symptom.probes]\njvaa = "verify:expired"'), ("symptom.probes", "jvaa", "java")),
    FileCase("backend-typo", _symptom('[symptom.backends.ngnix]\n"*" = "verify:expired"'),
             ("symptom.backends", "ngnix", "nginx")),
    FileCase("backend-direction-typo", _symptom('[symptom.backends."nginx.northbund"]\n"*" = "verify:expired"'),
             ("symptom.backends", "northbund")),
    FileCase("backend-probe-typo", _symptom('[symptom.backends.nginx]\ncrul = "verify:expired"'),
             ("symptom.backends.nginx", "crul", "curl")),
    FileCase("not-applicable-typo", _symptom('[symptom.not_applicable]\nbrowsr = "cannot see it"'),
             ("symptom.not_applicable", "browsr", "browser")),
    FileCase("protocol-range", _server('min_protocol = "TLSv1.3"\nmax_protocol = "TLSv1.0"'),
             ("server", "min_protocol", "max_protocol")),
    FileCase("client-protocol-range", _client('min_protocol = "TLSv1.3"\nmax_protocol = "TLSv1.2"'),
             ("client", "min_protocol", "max_protocol")),
    FileCase("protocol-number", _server("min_protocol = 1.2"), ("server", "min_protocol", "string")),
    FileCase("unknown-certificate", _sub('certificate = "server-expired"', 'certificate = "sever-expired"'),
             ("server", "certificate", "server-expired")),
    FileCase("unknown-trust", _client('trust = "rooot"'), ("client", "trust", "root")),
    # --- wrong types for every field kind ----------------------------------------------------
    FileCase("title-int", _sub('title = "Demo"', "title = 5"), ("title", "string")),
    FileCase("bool-string", _server('client_auth = "yes"'), ("server", "client_auth", "true or false")),
    FileCase("enum-bogus", _server('sni = "sometimes"'), ("server", "sni", "require")),
    FileCase("enum-int", _server("ocsp_window = 5"), ("server", "ocsp_window", "fresh")),
    FileCase("revocation-bogus", _client('revocation = "always"'), ("client", "revocation", "staple")),
    FileCase("optional-cert-int", _client("certificate = 7"), ("client", "certificate", "string")),
    FileCase("server-not-table", lambda t: _top('server = "nginx"')(_drop('[server]\ncertificate = "server-expired"')(t)),
             ("server", "table")),
    FileCase("symptom-not-table", lambda t: _top('symptom = "x"')(
        _drop('[symptom]\ndocumented = "certificate has expired"\nexpect = "verify:expired"')(t)), ("symptom", "table")),
    FileCase("expect-int", _sub('expect = "verify:expired"', "expect = 5"), ("symptom.expect",)),
    FileCase("expect-empty-list", _sub('expect = "verify:expired"', "expect = []"), ("symptom.expect",)),
    FileCase("directions-string", _sub('direction = "northbound"', 'direction = "northbound"\ndirections = "northbound"'),
             ("directions", "list")),
    FileCase("directions-int-items", _sub('direction = "northbound"', 'direction = "northbound"\ndirections = [1]'),
             ("directions",)),
    # --- unknown keys, missing fields, bad ids -----------------------------------------------
    FileCase("unknown-top-key", _sub('title = "Demo"', 'title = "Demo"\ncolour = "red"'), ("colour", "unknown")),
    FileCase("unknown-server-key", _server("flavour = 1"), ("server", "flavour", "unknown")),
    FileCase("missing-id", _drop('id = "demo"'), ("id", "required")),
    FileCase("missing-symptom", _sub('[symptom]\ndocumented = "certificate has expired"\nexpect = "verify:expired"\n', ""),
             ("symptom", "required")),
    FileCase("missing-expect", _drop('expect = "verify:expired"'), ("symptom.expect",)),
    FileCase("empty-file", raw=b"", words=("id", "required")),
    FileCase("id-mismatch", _sub('id = "demo"', 'id = "other"'), ("id", "demo.toml")),
    FileCase("id-bad-chars", _sub('id = "demo"', 'id = "Demo Case"'), ("id", "lower-case"), filename="Demo Case.toml"),
    FileCase("id-markup", _sub('id = "demo"', 'id = "[red]nope"'), ("[red]nope",), filename="[red]nope.toml"),
    FileCase("duplicate-key", _sub('title = "Demo"', 'title = "Demo"\ntitle = "Again"'), ("TOML",)),
    FileCase("bad-toml", _sub('title = "Demo"', "title = "), ("TOML",)),
    # --- bad resolutions ---------------------------------------------------------------------
    FileCase("no-resolution", lambda t: t.split("[[resolution]]")[0], ("[[resolution]]",)),
    FileCase("resolution-string", lambda t: _top('resolution = "renew"')(t.split("[[resolution]]")[0]),
             ("resolution", "[[resolution]]")),
    FileCase("resolution-empty-patch", _sub('[resolution.server]\ncertificate = "server"\n', ""),
             ("resolution[0]", "changes nothing")),
    FileCase("resolution-unknown-key", _sub('summary = "renew it"', 'summary = "renew it"\nwhen = "now"'),
             ("resolution[0]", "when")),
    FileCase("resolution-duplicate", lambda t: t + '[[resolution]]\nname = "renew"\nsummary = "x"\n'
             '[resolution.client]\nsni = false\n', ("resolution[1].name", "twice")),
    FileCase("resolution-bad-name", _sub('name = "renew"', 'name = "re new;"'), ("resolution[0].name",)),
    FileCase("resolution-recommended-string", _sub('summary = "renew it"', 'summary = "renew it"\nrecommended = "yes"'),
             ("resolution[0].recommended",)),
    FileCase("resolution-bad-cert", _sub('[resolution.server]\ncertificate = "server"',
                                         '[resolution.server]\ncertificate = "servr"'),
             ("resolution[0].server", "certificate")),
    FileCase("resolution-timeout-nan", _sub('[resolution.server]\ncertificate = "server"',
                                            '[resolution.server]\ncertificate = "server"\n[resolution.client]\ntimeout = nan'),
             ("resolution[0].client", "timeout")),
    FileCase("resolution-protocol-range", _sub('[resolution.server]\ncertificate = "server"',
                                               '[resolution.server]\nmin_protocol = "TLSv1.3"\nmax_protocol = "TLSv1.1"'),
             ("resolution[0]", "min_protocol")),
    FileCase("default-cert-missing", _server('sni = "default-certificate"'), ("server.default_certificate",)),
    FileCase("client-auth-no-cas", _server("client_auth = true"), ("server.client_cas",)),
)


def write_file_case(case: FileCase, directory: Path) -> Path:
    """A scenario directory holding the case's file (the FIFO/symlink cases beside a good file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / case.filename
    if case.special == "fifo":
        (directory / "demo.toml").write_text(BASE)
        os.mkfifo(path)
    elif case.special == "zero-symlink":
        (directory / "demo.toml").write_text(BASE)
        path.symlink_to("/dev/zero")
    elif case.special == "directory":
        (directory / "demo.toml").write_text(BASE)
        path.mkdir()
    elif case.special == "symlink-loop":
        (directory / "demo.toml").write_text(BASE)
        path.symlink_to(path.name)
    elif case.special == "dangling-symlink":
        (directory / "demo.toml").write_text(BASE)
        path.symlink_to(directory / "does-not-exist.toml")
    elif case.special == "huge":
        path.write_text(BASE + "# " + "x" * 2_000_000 + "\n")
    elif case.raw is not None:
        path.write_bytes(case.raw)
    else:
        assert case.mutate is not None
        path.write_text(case.mutate(BASE))
    return path


@dataclass(frozen=True)
class FlagCase:
    """A command line with its own environment; `prepare(tmp)` returns (argv, extra env)."""

    name: str
    prepare: Callable[[Path], tuple[list[str], dict[str, str]]]
    code: int
    words: tuple[str, ...] = ()
    timeout: float = 60.0
    read_only_certs: str = ""  # "complete" or "incomplete": TLSLAB_CERTS is a read-only copy of a PKI
    read_only_state: bool = False  # TLSLAB_STATE is a read-only directory


def _file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("not a directory\n")
    return path


_SOCKETS: list[socket.socket] = []


def silent_socket(tmp: Path) -> Path:
    """A unix socket that takes connections into its backlog and never answers: a hung engine."""
    path = tmp / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(16)
    _SOCKETS.append(sock)  # kept open for the life of the process
    return path


def flag_cases() -> tuple[FlagCase, ...]:
    """The hostile flags and environments (the read-only cases need a PKI copied in by the caller)."""
    def certs_is_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["show", "sni-required"], {"TLSLAB_CERTS": str(_file(tmp))}

    def certs_flag_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["show", "sni-required", "--certs", str(_file(tmp))], {}

    def state_is_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["down"], {"TLSLAB_STATE": str(_file(tmp))}

    def junit_missing_dir(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "sni-required", "--client", "python-ssl", "--junit", "/nonexistent/dir/r.xml"], {}

    def junit_is_dir(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "sni-required", "--client", "python-ssl", "--junit", str(tmp)], {}

    def export_proc(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["export", "compose", "sni-required", "/proc/1/x"], {}

    def export_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["export", "compose", "sni-required", str(_file(tmp))], {}

    def markup_id(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "[/foo]"], {}

    def markup_red(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["show", "[red]nope"], {}

    def client_empty(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "sni-required", "--client", ""], {}

    def client_double_comma(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "sni-required", "--client", "openssl,,curl"], {}

    def client_markup(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["run", "sni-required", "--client", "[bold]x"], {}

    def scenarios_is_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["list"], {"TLSLAB_SCENARIOS": str(_file(tmp))}

    def docker_silent(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["down"], {"DOCKER_HOST": f"unix://{silent_socket(tmp)}"}

    def up_readonly_state(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["up", "hostname-mismatch"], {}  # run_case points TLSLAB_STATE at a read-only directory

    def readonly_certs(tmp: Path) -> tuple[list[str], dict[str, str]]:
        return ["show", "sni-required"], {}  # run_case points TLSLAB_CERTS at the read-only copy

    return (
        FlagCase("TLSLAB_CERTS=file", certs_is_file, 2, ("TLSLAB_CERTS", "a-file", "directory")),
        FlagCase("--certs file", certs_flag_file, 2, ("--certs", "a-file", "directory")),
        FlagCase("TLSLAB_STATE=file", state_is_file, 2, ("TLSLAB_STATE", "a-file", "directory")),
        FlagCase("TLSLAB_SCENARIOS=file", scenarios_is_file, 2, ("TLSLAB_SCENARIOS", "a-file")),
        FlagCase("--junit missing dir", junit_missing_dir, 2, ("--junit", "/nonexistent/dir")),
        FlagCase("--junit directory", junit_is_dir, 2, ("--junit",)),
        FlagCase("export to /proc/1/x", export_proc, 2, ("/proc/1/x",)),
        FlagCase("export to a file", export_file, 2, ("a-file",)),
        FlagCase("run '[/foo]'", markup_id, 2, ("'[/foo]'",)),
        FlagCase("show '[red]nope'", markup_red, 2, ("'[red]nope'",)),
        FlagCase("--client ''", client_empty, 2, ("--client",)),
        FlagCase("--client a,,b", client_double_comma, 2, ("--client", "empty")),
        FlagCase("--client '[bold]x'", client_markup, 2, ("[bold]x",)),
        FlagCase("DOCKER_HOST never answers", docker_silent, 3, ("docker.sock", "did not answer"), timeout=20),
        FlagCase("read-only incomplete certs", readonly_certs, 3, ("read-only", "server.pem is missing"),
                 read_only_certs="incomplete"),
        FlagCase("read-only complete certs", readonly_certs, 0, (), read_only_certs="complete"),
        FlagCase("up with a read-only TLSLAB_STATE", up_readonly_state, 3, ("TLSLAB_STATE", "writable"),
                 timeout=30, read_only_state=True),
    )


class CannotSetUp(Exception):
    """This machine cannot build the case's precondition (e.g. a read-only mount without privileges)."""


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """`directory` as this process cannot write it: a read-only bind mount as root (root ignores
    mode bits), mode 0555 otherwise."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(0o755)
        return
    mount = shutil.which("mount")
    if mount is None:
        raise CannotSetUp("'mount' is not installed: a read-only directory as root needs a read-only bind mount")
    target = directory.with_name(directory.name + "-ro")
    target.mkdir()
    done = subprocess.run([mount, "--bind", "-o", "ro", str(directory), str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        target.rmdir()
        raise CannotSetUp(f"cannot make a read-only bind mount (needs CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)
        target.rmdir()


def run_flag_case(case: FlagCase, env: dict[str, str], certs: Path, tmp: Path,
                  cwd: Path) -> tuple[subprocess.CompletedProcess[str], tuple[str, ...]]:
    """Run one flag case; returns the result and every word its stderr must hold."""
    argv, extra = case.prepare(tmp)
    env = {**env, **extra}
    command = [sys.executable, "-m", "lab", *argv]
    if case.read_only_state:
        (tmp / "state-src").mkdir()
        with read_only(tmp / "state-src") as ro:
            env["TLSLAB_STATE"] = str(ro)
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=case.timeout, cwd=cwd)
        return result, (str(ro), *case.words)
    if not case.read_only_certs:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=case.timeout,
                              cwd=cwd), case.words
    source = tmp / "certs-src"
    shutil.copytree(certs, source, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    if case.read_only_certs == "incomplete":
        generation = source / "current"  # certificate generations (lab/pki.py): the material lives there
        (generation if generation.is_dir() else source).joinpath("server.pem").unlink()  # the lab must write to complete it
    with read_only(source) as ro:
        env["TLSLAB_CERTS"] = str(ro)
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=case.timeout, cwd=cwd)
    return result, ((str(ro), *case.words) if case.code else case.words)
