"""A team's own certificates, keys and CA files (made with the openssl CLI), own clients, and the API.

Every "good material fixes it" test has its negative control: the same command with the leaf
alone (an incomplete chain) must fail with the documented symptom, so the test cannot pass by
the lab ignoring the files.
"""

from __future__ import annotations

import json
import shutil
import ssl
import socket
import stat
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO
from own_material_support import TeamPki, make_team_pki

import lab
from lab.errors import UserInputError
from lab.material import MaterialError, OwnMaterial
from lab.nginx.config import render_server
from lab.pki import Pki
from lab.specs import ServerSpec

TLSLAB = [sys.executable, "-m", "lab"]
THREE = "openssl,curl,python-ssl"


def tlslab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> TeamPki:
    return make_team_pki(tmp_path_factory.mktemp("team-pki"))


def _phase(report: dict, name: str) -> dict:
    return next(p for s in report["scenarios"] for p in s["phases"] if p["resolution"] == name)


# ------------------------------------------------------------------------------ own certificates
def test_own_full_chain_fixes_incomplete_chain(cli_env: dict[str, str], team: TeamPki) -> None:
    proc = tlslab(cli_env, "run", "incomplete-chain", "--server-cert", str(team.fullchain), "--server-key",
                  str(team.key), "--ca-file", str(team.root), "-c", THREE, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    own = _phase(json.loads(proc.stdout), "own-material")
    assert {c["client"]: c["observed"]["symptom"] for c in own["checks"]} == dict.fromkeys(THREE.split(","), "ok")
    assert {"side": "client", "field": "trust", "before": "root", "after": str(team.root)} in own["changes"]


def test_own_leaf_without_its_intermediate_still_fails(cli_env: dict[str, str], team: TeamPki) -> None:
    """Negative control: the team's leaf alone is an incomplete chain, and every client says so."""
    proc = tlslab(cli_env, "run", "incomplete-chain", "--server-cert", str(team.leaf), "--server-key",
                  str(team.key), "--ca-file", str(team.root), "-c", THREE, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    own = _phase(json.loads(proc.stdout), "own-material")
    assert {c["observed"]["symptom"] for c in own["checks"]} == {"verify:unknown-issuer"}


@pytest.mark.parametrize("trusted", [True, False])
def test_own_client_certificate_for_2_way_tls(cli_env: dict[str, str], team: TeamPki, trusted: bool) -> None:
    """Our client certificate is accepted once the server trusts our CA (--client-ca); without it (the
    negative control) the lab's server, which trusts only the lab's client CA, rejects it."""
    proc = tlslab(cli_env, "run", "expired-client-cert", "--client-cert", str(team.client_fullchain),
                  "--client-key", str(team.client_key), *(["--client-ca", str(team.root)] if trusted else []),
                  "-c", THREE, "-r", "own-material", "--json")
    assert proc.returncode == (0 if trusted else 1), proc.stdout + proc.stderr
    own = _phase(json.loads(proc.stdout), "own-material")
    symptoms = {c["observed"]["symptom"] for c in own["checks"]}
    assert symptoms == {"ok"} if trusted else "ok" not in symptoms


def test_mismatched_key_is_exit_2_naming_the_file(cli_env: dict[str, str], team: TeamPki) -> None:
    proc = tlslab(cli_env, "run", "incomplete-chain", "--server-cert", str(team.fullchain), "--server-key",
                  str(team.other_key), "--ca-file", str(team.root))
    assert proc.returncode == 2
    said = " ".join(proc.stderr.split())  # the console may wrap a long line
    assert str(team.other_key) in said and "does not belong to the certificate" in said
    assert "Traceback" not in proc.stderr and "incomplete-chain (northbound)" not in proc.stderr  # nothing ran


@pytest.mark.parametrize("problem", ["missing", "directory", "not-pem", "ca-without-cert", "encrypted-key",
                                     "key-without-cert"])
def test_bad_material_is_exit_2_naming_the_file(cli_env: dict[str, str], team: TeamPki, tmp_path: Path,
                                               problem: str) -> None:
    cert, key, ca = team.fullchain, team.key, team.root
    if problem == "missing":
        named = cert = tmp_path / "nope.pem"
    elif problem == "directory":
        named = ca = tmp_path
    elif problem == "not-pem":
        named = cert = tmp_path / "leaf.der"
        subprocess.run(["openssl", "x509", "-in", str(team.leaf), "-outform", "der", "-out", str(cert)], check=True)
    elif problem == "ca-without-cert":
        named = ca = team.other_key
    elif problem == "encrypted-key":
        named = key = tmp_path / "enc.key"
        subprocess.run(["openssl", "pkey", "-in", str(team.key), "-aes256", "-passout", "pass:x", "-out", str(key)],
                       check=True)
    args = ["--server-cert", str(cert), "--server-key", str(key), "--ca-file", str(ca)]
    if problem == "key-without-cert":
        named, args = team.key, ["--server-key", str(team.key)]
    proc = tlslab(cli_env, "up", "incomplete-chain", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(named) in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("error: ") == 1, proc.stderr


def _our_scenarios(tmp_path: Path, team: TeamPki, key: str = "ours/key.pem") -> Path:
    directory = tmp_path / "our-scenarios"
    (directory / "ours").mkdir(parents=True)
    for f in (team.fullchain, team.key, team.root, team.other_key):
        shutil.copy(f, directory / "ours" / f.name)
    text = (REPO / "scenarios" / "incomplete-chain.toml").read_text()
    (directory / "incomplete-chain.toml").write_text(text + textwrap.dedent(f"""
        [[resolution]]
        name = "our-chain"
        summary = "The chain we will ship, from our own CA"
        [resolution.server]
        certificate = "ours/fullchain.pem"   # relative to this file
        key = "{key}"
        [resolution.client]
        trust = "ours/root.pem"
    """))
    return directory


def test_scenario_files_name_own_material_relative_to_the_file(cli_env: dict[str, str], team: TeamPki,
                                                               tmp_path: Path) -> None:
    directory = _our_scenarios(tmp_path, team)
    proc = tlslab(cli_env, "run", "--scenarios", str(directory), "--all", "-c", THREE, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours = _phase(json.loads(proc.stdout), "our-chain")
    assert all(c["observed"]["symptom"] == "ok" for c in ours["checks"])
    # `chain` is implied by the file: nothing of the lab's is served after the team's chain
    assert {"side": "server", "field": "chain", "before": "[]", "after": "[]"} not in ours["changes"]


def test_scenario_file_with_a_mismatched_key_names_file_field_and_key(cli_env: dict[str, str], team: TeamPki,
                                                                      tmp_path: Path) -> None:
    directory = _our_scenarios(tmp_path, team, key="ours/other.key")
    proc = tlslab(cli_env, "list", "--scenarios", str(directory))
    assert proc.returncode == 2
    said = " ".join(proc.stderr.split())
    assert "incomplete-chain.toml: field 'resolution[1].server'" in said
    assert "other.key: does not belong to the certificate" in said


def test_copied_keys_stay_owner_only(pki: Pki, team: TeamPki, tmp_path: Path) -> None:
    spec = ServerSpec(certificate=str(team.fullchain), key=str(team.key), chain=())
    config = render_server("incomplete-chain", "api.lab.test", spec, port=8443)
    config.write(tmp_path, pki)
    keys = [p for p in (tmp_path / "certs").iterdir() if p.suffix == ".key"]
    assert keys and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys)
    served = next(p for p in (tmp_path / "certs").iterdir() if p.name.startswith("served-"))
    assert served.read_bytes().count(b"BEGIN CERTIFICATE") == 2  # the team's leaf + intermediate, as given


def test_own_material_options_need_their_pair(team: TeamPki) -> None:
    with pytest.raises(UserInputError, match="--server-cert .* needs --server-key"):
        OwnMaterial.from_options(server_cert=team.fullchain)
    with pytest.raises(MaterialError, match="does not belong"):
        OwnMaterial.from_options(client_cert=team.fullchain, client_key=team.other_key)


# ------------------------------------------------------------------------------ a command probe
OUR_CLIENT = '''\
"""A team's own client (not the lab's code): python ssl, exit 1 with its error on any failure."""
import socket, ssl, sys, urllib.parse
url, servername, ca, verify = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "verify"
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=ca)
if not verify:
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
try:
    with socket.create_connection((u.hostname, u.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=servername) as s:
            s.sendall(("GET / HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % servername).encode())
            line = s.recv(200).split(b"\\r\\n")[0].decode()
except (ssl.SSLError, OSError) as exc:
    sys.exit("our-client: %s" % exc)
print(line)
sys.exit(0 if " 200 " in line else 1)
'''


@pytest.fixture(scope="module")
def our_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client") / "our_client.py"
    path.write_text(OUR_CLIENT)
    return path


def test_command_probe_is_judged_by_exit_status_and_words(cli_env: dict[str, str], our_client: Path) -> None:
    cmd = f"ours={sys.executable} {our_client} {{url}} {{servername}} {{ca_file}} verify"
    proc = tlslab(cli_env, "run", "expired-server-cert", "hostname-mismatch", "-c", "openssl", "--probe-cmd", cmd,
                  "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    ours = [(p["resolution"], c) for s in report["scenarios"] for p in s["phases"] for c in p["checks"]
            if c["client"] == "ours"]
    faults = {c["observed"]["symptom"] for r, c in ours if r is None}
    assert faults == {"verify:expired", "verify:hostname-mismatch"}
    assert all(c["observed"]["raw"].startswith("exit status 1: our-client:") for r, c in ours if r is None)
    assert all(c["observed"]["symptom"] == "ok" for r, c in ours if r is not None)
    assert all(c["judged_by"] == "client" and "exit status" in c["observed"]["judged_how"] for _, c in ours)


def test_command_probe_verdict_source_is_in_the_junit_report(cli_env: dict[str, str], our_client: Path,
                                                             tmp_path: Path) -> None:
    cmd = f"ours={sys.executable} {our_client} {{url}} {{servername}} {{ca_file}} verify"
    junit = tmp_path / "report.xml"
    proc = tlslab(cli_env, "run", "expired-server-cert", "-c", "openssl", "--probe-cmd", cmd, "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name", "").endswith("/ ours")]
    assert len(ours) == 2 and all("(judged by its exit status" in (c.findtext("system-out") or "") for c in ours)
    assert "ours: judged by its exit status (0 = success)" in tlslab(
        cli_env, "run", "expired-server-cert", "-c", "openssl", "--probe-cmd", cmd).stdout


def test_command_probe_that_does_not_verify_fails_the_fault(cli_env: dict[str, str], our_client: Path) -> None:
    """Negative control: a client that accepts any certificate does not show the symptom: exit 1."""
    cmd = f"lax={sys.executable} {our_client} {{url}} {{servername}} {{ca_file}} no-verify"
    proc = tlslab(cli_env, "run", "expired-server-cert", "-c", "openssl", "--probe-cmd", cmd)
    assert proc.returncode == 1
    assert "expired-server-cert / fault / lax: expected verify:expired; saw ok" in proc.stdout


def test_command_probe_gets_the_phase_client_settings(cli_env: dict[str, str], tmp_path: Path) -> None:
    """sni-required's fault is on the client side (no SNI): a command that honours TLSLAB_CLIENT reproduces
    it, and sends SNI again after the fix."""
    script = tmp_path / "sni_aware.py"
    script.write_text(textwrap.dedent('''
        import json, os, socket, ssl, sys
        spec = json.loads(os.environ["TLSLAB_CLIENT"])
        ctx = ssl.create_default_context(cafile=os.environ["TLSLAB_CA_FILE"])
        name = os.environ["TLSLAB_SERVERNAME"] if spec["sni"] else None
        if name is None:
            ctx.check_hostname = False  # no SNI means no name to check, as for the lab's python-ssl probe
        try:
            with socket.create_connection((os.environ["TLSLAB_HOST"], int(os.environ["TLSLAB_PORT"])), 5) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as s:
                    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                    sys.exit(0 if b" 200 " in s.recv(100) else 1)
        except (ssl.SSLError, OSError) as exc:
            sys.exit(str(exc))
    '''))
    proc = tlslab(cli_env, "run", "sni-required", "--direction", "northbound", "-c", "openssl",
                  "--probe-cmd", f"sni={sys.executable} {script}")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_command_probe_bad_template_is_exit_2(cli_env: dict[str, str]) -> None:
    proc = tlslab(cli_env, "run", "expired-server-cert", "--probe-cmd", "x=curl {address}")
    assert proc.returncode == 2 and "unknown placeholder {address}" in " ".join(proc.stderr.split())
    proc = tlslab(cli_env, "run", "expired-server-cert", "--probe-cmd", "curl=curl {url}")
    assert proc.returncode == 2 and "already taken" in " ".join(proc.stderr.split())


# ------------------------------------------------------------------------------ the Python API
def _handshake(env: lab.Environment) -> str:
    ctx = ssl.create_default_context(cafile=str(env.ca_file))
    try:
        with socket.create_connection((env.host, env.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=env.servername):
                return "ok"
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message


def test_api_serves_the_fault_and_each_fix(certs_dir: Path, pki: Pki) -> None:
    cases = lab.cases("expired-server-cert", "incomplete-chain")
    assert [c.id for c in cases] == ["expired-server-cert-fault", "expired-server-cert-renew-server-certificate",
                                     "incomplete-chain-fault", "incomplete-chain-upload-complete-chain"]
    seen = {}
    for case in cases:
        with lab.serve(case.scenario, case.resolution, certs_dir=certs_dir) as env:
            assert env.url == f"https://127.0.0.1:{env.port}/" and env.servername == "api.lab.test"
            assert env.fault is case.fault and env.client["sni"] is True
            seen[case.id] = _handshake(env)
        with pytest.raises(OSError):  # stopped when the block ended
            socket.create_connection((env.host, env.port), timeout=2).close()
    assert seen == {"expired-server-cert-fault": "certificate has expired",
                    "expired-server-cert-renew-server-certificate": "ok",
                    "incomplete-chain-fault": "unable to get local issuer certificate",
                    "incomplete-chain-upload-complete-chain": "ok"}


def test_api_with_own_material_and_2_way_files(certs_dir: Path, team: TeamPki) -> None:
    with lab.serve("incomplete-chain", certs_dir=certs_dir, server_cert=team.fullchain, server_key=team.key,
                   ca_file=team.root) as env:
        assert env.resolution == "own-material" and env.ca_file == team.root
        assert _handshake(env) == "ok"
    with lab.serve("expired-client-cert", certs_dir=certs_dir) as env:
        assert env.client_cert and env.client_key and env.expected
        assert env.client["certificate"] == "client-expired"


def test_api_errors_say_what_to_do(certs_dir: Path) -> None:
    with pytest.raises(UserInputError, match="unknown scenario id 'expired-server'.*Did you mean"):
        with lab.serve("expired-server", certs_dir=certs_dir):
            pass
    with pytest.raises(UserInputError, match="has no resolution 'nope'"):
        with lab.serve("expired-server-cert", "nope", certs_dir=certs_dir):
            pass


def test_import_lab_stays_cheap() -> None:
    code = "import sys, lab; print(sorted(m for m in ('lab.api', 'twisted', 'cryptography') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_java_validates_our_chain_and_its_stores_stay_out_of_our_directory(cli_env: dict[str, str],
                                                                          team: TeamPki) -> None:
    """The Java probe needs PKCS12 stores: for a team's files they go to the lab's cache, named by path
    (a team's client.key must never stand in for the lab's 'client' key), never beside the team's files."""
    from conftest import require_tool
    require_tool("java", "the Java probe")
    proc = tlslab(cli_env, "run", "incomplete-chain", "--server-cert", str(team.fullchain), "--server-key",
                  str(team.key), "--ca-file", str(team.root), "-c", "java", "-r", "own-material")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (team.root.parent / "pkcs12").exists()
    stores = list(Path(cli_env["TLSLAB_CERTS"], "own", "pkcs12").iterdir())
    assert stores and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in stores)
