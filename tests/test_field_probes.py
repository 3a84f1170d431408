"""The Go, Node.js, GnuTLS and NSS probes: every scenario file, their own words, their processes.

Real clients (go1.19 crypto/tls, Node 20's OpenSSL, gnutls-cli 3.7, NSS 3.87 tstclnt), real TLS on
127.0.0.1. Each scenario test is a negative control: with the fault each probe must show the
scenario's expectation for it (the file's [symptom.probes] entry, else its expect), after every
resolution it must succeed; a phase a probe cannot observe must say why, from the probe's own
declaration or the scenario's, never pass silently.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.backends import make_backend
from lab.harness import Harness
from lab.pki import Pki
from lab.probes import DEFAULT_PROBES, PROBES
from lab.probes.base import ClientFiles, Probe, Target
from lab.probes.gnutls_cli import GnuTlsProbe, gnutls_parts, priority
from lab.probes.go_probe import GoProbe, ensure_built, go_suites
from lab.probes.node_probe import TLS13_SUITES, NodeProbe, node_ciphers
from lab.probes.nss_tstclnt import NssProbe, cipher_arg, command
from lab.scenario import Catalog
from lab.specs import ClientSpec, RevocationMode
from lab.symptoms import Kind
from lab.tls import Protocol

from clients_support import backend_or_skip, explain, require_probe
from conftest import ALL_IDS

NEW = ("go", "node", "gnutls", "nss")

# The words each client printed for a fault (the versions above): the raw text must hold them.
WORDS = {
    ("go", "incomplete-chain"): "x509: certificate signed by unknown authority",
    ("go", "cipher-mismatch"): "remote error: tls: handshake failure",
    ("go", "expired-server-cert"): "x509: certificate has expired or is not yet valid",
    ("node", "incomplete-chain"): "unable to verify the first certificate (code: UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    ("node", "expired-server-cert"): "CERT_HAS_EXPIRED",
    ("node", "hostname-mismatch"): "ERR_TLS_CERT_ALTNAME_INVALID",
    ("node", "cipher-mismatch"): "alert handshake failure",
    ("gnutls", "unknown-server-cert"): "The certificate is NOT trusted. The certificate issuer is unknown.",
    ("gnutls", "cipher-mismatch"): "Received alert [40]: Handshake failed",
    ("nss", "hostname-mismatch"): "SSL_ERROR_BAD_CERT_DOMAIN",
    ("nss", "unknown-server-cert"): "SEC_ERROR_UNKNOWN_ISSUER",
    ("nss", "expired-server-cert"): "SEC_ERROR_EXPIRED_CERTIFICATE",
    ("nss", "ocsp-revoked"): "status revoked",
}


@pytest.fixture(scope="module")
def probes() -> Iterator[list[Probe]]:
    made = [require_probe(PROBES[name]()) for name in NEW]
    entered: list[Probe] = []
    try:
        for probe in made:
            entered.append(probe.__enter__())
        yield entered
    finally:
        for probe in reversed(entered):
            probe.__exit__(None, None, None)


@pytest.fixture(scope="module", params=["twisted", "nginx"])
def harness(request: pytest.FixtureRequest, probes: list[Probe], pki: Pki) -> Harness:
    backend = request.getfixturevalue("nginx_backend") if request.param == "nginx" else backend_or_skip(request.param)
    return Harness(backend, probes, pki)


@pytest.mark.parametrize("scenario_id", ALL_IDS)
def test_scenario(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario)
    if result.not_applicable:  # the backend cannot set this fault up (nginx: an h2-only server, no close_notify)
        assert result.phases == () and harness.backend.name == "nginx"
        return
    # Every check these probes could run passed (a phase none of them can express is another probe's to see).
    assert result.error is None and all(c.passed for p in result.phases for c in p.checks if c.status != "n/a"), \
        explain(result)
    fault, *fixes = result.phases
    assert len(fixes) == len(scenario.resolutions)
    by_name = {p.name: p for p in harness.probes}
    for name in NEW:
        check = next(c for c in fault.checks if c.client == name)
        if check.status == "n/a":  # only for a reason the probe or the scenario declares
            na = scenario.expect.not_applicable
            declared = (by_name[name].unsupported_reason(scenario.client)
                        or by_name[name].server_unsupported_reason(scenario.server)
                        or na.get(f"{name}@{harness.backend.name}") or na.get(name))
            assert declared and check.not_applicable == declared
            continue
        assert check.outcome is not None and not check.outcome.ok, f"{name}: the fault must fail"
        assert check.outcome.symptom in check.expected, f"{name}: {check.outcome.symptom} {check.outcome.raw}"
        assert check.outcome.symptom.kind is not Kind.ERROR
        if (name, scenario_id) in WORDS and harness.backend.name == "twisted":  # nginx may change the fault's words
            assert WORDS[name, scenario_id] in check.outcome.raw
        for fix in fixes:
            fixed = next(c for c in fix.checks if c.client == name)
            if fixed.status != "n/a":
                assert fixed.outcome is not None and fixed.outcome.ok, f"{fix.resolution} / {name}: {fixed.outcome}"


def test_fault_already_fixed_fails(probes: list[Probe], pki: Pki, catalog: Catalog) -> None:
    """Negative control of the check itself: a 'fault' whose client already trusts the right CA must not pass."""
    scenario = catalog.get("unknown-server-cert")
    fixed = dataclasses.replace(scenario, client=dataclasses.replace(scenario.client, trust="root"))
    result = Harness(make_backend("twisted"), probes, pki).run_scenario(fixed)
    assert not result.passed
    for name in NEW:
        check = next(c for c in result.phases[0].checks if c.client == name)
        assert check.outcome is not None and check.outcome.ok and check.status == "fail"


def test_no_sni_verdicts_say_who_judged(probes: list[Probe], pki: Pki, catalog: Catalog) -> None:
    """Go and Node cannot verify a name they did not send as SNI: the probe checks it, and says so."""
    result = Harness(make_backend("twisted"), probes, pki).run_scenario(catalog.get("sni-default-cert"))
    judged = {c.client: c.judged_by for c in result.phases[0].checks}
    assert judged["go"] == judged["node"] == "lab"
    assert judged["gnutls"] == judged["nss"] == "client"  # --disable-sni / no -a: the tool verifies itself
    fixed = {c.client: c.judged_by for c in result.phases[1].checks}  # SNI sent: the clients' own checks
    assert fixed["go"] == fixed["node"] == "client"


def test_force_tls10_really_speaks_tls10(probes: list[Probe], pki: Pki, catalog: Catalog) -> None:
    result = Harness(make_backend("twisted"), probes, pki).run_scenario(
        catalog.get("protocol-mismatch"), only=["gateway-force-tls10"])
    for name in ("go", "node"):
        outcome = next(c for c in result.phases[-1].checks if c.client == name).outcome
        assert outcome is not None and outcome.ok and outcome.protocol in ("TLSv1.0", "TLSv1"), outcome


def test_new_probes_are_not_defaults() -> None:
    assert set(NEW) <= set(PROBES) and not set(NEW) & set(DEFAULT_PROBES)


# --- the spec in each tool's terms ------------------------------------------------------------

FAULT = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES128-SHA"


def test_go_suites_are_the_strings_suites_go_has() -> None:
    assert go_suites(FAULT) == (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA")
    assert go_suites("DHE-RSA-AES256-GCM-SHA384") == ()  # crypto/tls has no DHE
    reason = GoProbe().unsupported_reason(ClientSpec(ciphers="DHE-RSA-AES256-GCM-SHA384", max_protocol=Protocol.TLSv1_2))
    assert reason and "none of the cipher suites" in reason


def test_gnutls_priority_names_the_parts() -> None:
    assert gnutls_parts("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == ("ECDHE-RSA", "AES-128-GCM", "AEAD")
    assert gnutls_parts("TLS_RSA_WITH_AES_128_CBC_SHA") == ("RSA", "AES-128-CBC", "SHA1")
    assert gnutls_parts("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8") == ("ECDHE-ECDSA", "AES-128-CCM-8", "AEAD")
    assert gnutls_parts("TLS_RSA_WITH_ARIA_128_GCM_SHA256") is None
    spec = ClientSpec(max_protocol=Protocol.TLSv1_2, ciphers=FAULT)
    assert priority(spec) == ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:+RSA:-CIPHER-ALL:+AES-128-GCM:"
                              "+AES-128-CBC:-MAC-ALL:+AEAD:+SHA256:+SHA1")
    assert priority(ClientSpec(min_protocol=Protocol.TLSv1_0, max_protocol=Protocol.TLSv1_0)) == \
        "NORMAL:-VERS-ALL:+VERS-TLS1.0"
    assert priority(ClientSpec()) == "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"


def test_gnutls_declares_what_it_cannot_express() -> None:
    probe = GnuTlsProbe()
    assert probe.unsupported_reason(ClientSpec(ciphers=FAULT))  # TLS 1.3 allowed: its suites would shrink too
    assert probe.unsupported_reason(ClientSpec(revocation=RevocationMode.REQUIRE_STAPLE))
    assert probe.unsupported_reason(ClientSpec(revocation=RevocationMode.STAPLE)) is None


def test_nss_cipher_codes_keep_tls13() -> None:
    spec = ClientSpec(max_protocol=Protocol.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA")
    assert cipher_arg(spec) == ":1301:1302:1303:C02F:002F"
    assert cipher_arg(ClientSpec()) is None  # NSS's own defaults, as Java keeps JSSE's


def test_nss_command_flags(tmp_path: Path) -> None:
    target = Target("127.0.0.1", 4433, "api.lab.test")
    argv = command(target, ClientSpec(revocation=RevocationMode.REQUIRE_STAPLE), tmp_path, tmp_path / "r",
                   fresh_revocation=True)
    assert argv[:6] == ["tstclnt", "-h", "127.0.0.1", "-p", "4433", "-a"] and "-F" in argv and "-T" in argv
    assert "-a" not in command(target, ClientSpec(sni=False), tmp_path, tmp_path / "r")
    assert "tls1.2:tls1.3" in command(target, ClientSpec(), tmp_path, tmp_path / "r")


def test_node_ciphers_keep_tls13() -> None:
    assert node_ciphers(ClientSpec()).startswith(TLS13_SUITES + ":DEFAULT:@SECLEVEL=2")


# --- processes end with their block -----------------------------------------------------------

def _children(name: str) -> list[int]:
    """Our child processes running `name` (from /proc: no extra dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, ppid = stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == os.getpid() and comm.startswith(name):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("make", [GoProbe, NodeProbe], ids=["go", "node"])
def test_long_lived_process_ends_with_the_block(make: type) -> None:
    probe: GoProbe | NodeProbe = make()
    require_probe(probe)
    with probe:
        process = probe._process  # noqa: SLF001 - the test owns the probe
        assert process is not None and process.alive and probe.starts == 1
    assert process.proc.poll() is not None, "the process must be gone when the with-block ends"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts and never answers: a client waits until its deadline."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    server.close()


@pytest.mark.parametrize("make,tool", [(GoProbe, "tlsprobe"), (NodeProbe, "node"), (GnuTlsProbe, "gnutls-cli"),
                                       (NssProbe, "tstclnt")], ids=list(NEW))
def test_a_stuck_server_times_out_and_leaves_nothing(make: type, tool: str, silent_server: int, pki: Pki) -> None:
    probe = require_probe(make())
    spec = ClientSpec(timeout=1.0)
    before = set(_children(tool))  # the module's own long-lived probes, if any
    with probe:
        outcome = probe.run(Target("127.0.0.1", silent_server, "api.lab.test"), spec, ClientFiles.for_spec(spec, pki))
        assert outcome.symptom.kind is Kind.TIMEOUT, outcome
    assert not set(_children(tool)) - before, f"{tool} left running"
    if isinstance(probe, NssProbe):
        assert probe.workdir is None


def test_go_build_is_cached(tmp_path: Path) -> None:
    require_probe(GoProbe())
    first = ensure_built()
    again = ensure_built()
    assert again.binary == first.binary and not again.built_now and os.access(again.binary, os.X_OK)


# --- their words through the one table --------------------------------------------------------

# Printed by the real clients against the lab's servers (go1.19.8, Node v20.20.2 with OpenSSL 3.0.19,
# gnutls-cli 3.7.9, NSS 3.87.1 tstclnt), copied verbatim (ports and addresses as they were).
REAL_WORDS = [
    ('Get "https://api.lab.test:43887/": remote error: tls: handshake failure', "alert:handshake_failure"),
    ('Get "https://api.lab.test:45679/": remote error: tls: expired certificate', "alert:certificate_expired"),
    ('Get "https://api.lab.test:41993/": remote error: tls: certificate required', "alert:certificate_required"),
    ('Get "https://api.lab.test:38741/": remote error: tls: protocol version not supported', "alert:protocol_version"),
    ('Get "https://api.lab.test:37229/": x509: certificate has expired or is not yet valid: current time '
     '2026-12-01T20:14:29Z is after 2026-11-30T20:07:42Z', "verify:expired"),
    ('Get "https://myorg.domain.lab.test:46627/": x509: certificate is valid for something.domain.lab.test, '
     'not myorg.domain.lab.test', "verify:hostname-mismatch"),
    ('Get "https://api.lab.test:33197/": x509: certificate signed by unknown authority', "verify:unknown-issuer"),
    ("unable to verify the first certificate (code: UNABLE_TO_VERIFY_LEAF_SIGNATURE)", "verify:unknown-issuer"),
    ("certificate has expired (code: CERT_HAS_EXPIRED)", "verify:expired"),
    ("Hostname/IP does not match certificate's altnames: Host: myorg.domain.lab.test. is not in the cert's "
     "altnames: DNS:something.domain.lab.test (code: ERR_TLS_CERT_ALTNAME_INVALID)", "verify:hostname-mismatch"),
    ("write EPROTO 801C8E27DB7F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:"
     "../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 40", "alert:handshake_failure"),
    ("*** Received alert [40]: Handshake failed | *** Fatal error: A TLS fatal alert has been received.",
     "alert:handshake_failure"),
    ("*** Received alert [48]: CA is unknown | *** Fatal error: A TLS fatal alert has been received. | "
     "*** Server has terminated the connection abnormally.", "alert:unknown_ca"),
    ("- Status: The certificate is NOT trusted. The certificate issuer is unknown. | *** PKI verification of "
     "server certificate failed... | *** Fatal error: Error in the certificate.", "verify:unknown-issuer"),
    ("- Status: The certificate is NOT trusted. The certificate chain uses expired certificate.", "verify:expired"),
    ("- Status: The certificate is NOT trusted. The name in the certificate does not match the expected.",
     "verify:hostname-mismatch"),
    ("*** Fatal error: A packet with illegal or unsupported version was received.", "negotiation:protocol-version"),
    # a server that resets the TCP connection after its first bytes (Python ssl, no close_notify), by hand
    ("*** Fatal error: Error in the pull function. | *** Server has terminated the connection abnormally.", "closed"),
    ("- Status: The certificate is NOT trusted. The certificate chain is revoked.", "revocation:revoked"),
    ("- Status: The certificate is NOT trusted. The certificate requires the server to include an OCSP status in "
     "its response, but the OCSP status is missing.", "revocation:no-staple"),
    ("tstclnt: authentication of server cert failed: SSL_ERROR_BAD_CERT_DOMAIN: Unable to communicate securely "
     "with peer: requested domain name does not match the server's certificate.", "verify:hostname-mismatch"),
    ("tstclnt: authentication of server cert failed: SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not "
     "recognized.", "verify:unknown-issuer"),
    ("tstclnt: authentication of server cert failed: SEC_ERROR_EXPIRED_CERTIFICATE: Peer's Certificate has "
     "expired.", "verify:expired"),
    ("tstclnt: read from socket failed: SSL_ERROR_EXPIRED_CERT_ALERT: SSL peer rejected your certificate as "
     "expired.", "alert:certificate_expired"),
    ("tstclnt: read from socket failed: SSL_ERROR_UNKNOWN_CA_ALERT: Peer does not recognize and trust the CA that "
     "issued your certificate.", "alert:unknown_ca"),
    ("tstclnt: write to SSL socket failed: SSL_ERROR_NO_CYPHER_OVERLAP: Cannot communicate securely with peer: "
     "no common encryption algorithm(s).", "negotiation:no-ciphers"),
    ("tstclnt: write to SSL socket failed: SSL_ERROR_UNSUPPORTED_VERSION: Peer using unsupported version of "
     "security protocol.", "negotiation:protocol-version"),
    ("tstclnt -F exit 3: have fresh and valid revocation data, status revoked (Received 1 Cert Status items "
     "(OCSP stapled data))", "revocation:revoked"),
    ("tstclnt -F exit 2: missing, old or invalid revocation data (Received 0 Cert Status items (OCSP stapled "
     "data))", "revocation:no-staple"),
    ("tstclnt -F exit 2: missing, old or invalid revocation data (Received 1 Cert Status items (OCSP stapled "
     "data))", "revocation:old-or-invalid"),
]


@pytest.mark.parametrize(("raw", "symptom"), REAL_WORDS)
def test_real_words_normalise(raw: str, symptom: str) -> None:
    from lab.symptoms import normalise
    assert str(normalise(raw)) == symptom


def test_nginx_upstream_name_mismatch_words() -> None:
    """nginx 1.22.1's error log, southbound with proxy_ssl_verify on (copied from a real run)."""
    from lab.symptoms import normalise
    raw = ('2026/12/01 20:19:51 [error] 7#7: *2 upstream SSL certificate does not match "myorg.domain.lab.test" '
           'while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", '
           'upstream: "https://127.0.0.1:34229/", host: "127.0.0.1:45465"')
    assert str(normalise(raw)) == "verify:hostname-mismatch"


def _session_members(sid: int) -> list[str]:
    """Processes still in session `sid` (a child keeps its session after its parent dies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != sid:
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:  # state ppid pgrp session
                found.append(stat[stat.index("(") + 1:stat.rindex(")")])
    return found


def test_ctrl_c_leaves_no_probe_process(cli_env: dict[str, str], tmp_path: Path) -> None:
    """SIGINT to the lab alone (not its process group, as a terminal would): it must end its Go and
    Node processes and remove the NSS databases itself."""
    import signal
    import subprocess
    import sys
    import time
    for name in ("go", "node", "nss"):
        require_probe(PROBES[name]())
    ensure_built()  # a cold build is not what this test measures
    env = {**cli_env, "TMPDIR": str(tmp_path)}  # the NSS databases' directory, this run's alone
    proc = subprocess.Popen([sys.executable, "-m", "lab", "run", "--all", "--client", "go,node,nss"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stderr is not None
    assert proc.stderr.read(1)  # progress has started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
            {"tlsprobe", "node"} <= set(_session_members(proc.pid)) and list(tmp_path.glob("tlslab-nss-*"))):
        time.sleep(0.05)
    assert {"tlsprobe", "node"} <= set(_session_members(proc.pid)), "the probes' processes should be running"
    assert list(tmp_path.glob("tlslab-nss-*")), "the NSS probe's databases should exist"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    deadline = time.monotonic() + 5  # a worker's last tool run may still be reaped on a loaded machine
    while _session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _session_members(proc.pid), f"a probe process outlived the run: {_session_members(proc.pid)}"
    assert not list(tmp_path.glob("tlslab-nss-*"))


def test_gnutls_offers_the_spec_suites_and_only_their_parts() -> None:
    """What gnutls-cli itself lists for the fault's priority: every suite of the spec, and the extra
    combinations are of the same parts (the 128-bit fault offers nothing 256-bit)."""
    import re
    import subprocess
    from conftest import require_tool
    from lab.probes.suites import suite_codes
    require_tool("gnutls-cli", "the gnutls probe")
    spec = ClientSpec(max_protocol=Protocol.TLSv1_2, ciphers=FAULT)
    listed = subprocess.run(["gnutls-cli", "-l", "--priority", priority(spec)], capture_output=True, text=True,
                            timeout=10).stdout
    offered = {int(a, 16) << 8 | int(b, 16) for a, b in re.findall(r"\t0x([0-9a-f]{2}), 0x([0-9a-f]{2})\t", listed)}
    wanted = {code for code, _ in suite_codes(FAULT)}
    assert wanted <= offered
    assert offered - wanted == {0x003C}  # TLS_RSA_WITH_AES_128_CBC_SHA256: RSA x AES-128-CBC x SHA256
    assert "AES_256" not in listed


@pytest.mark.parametrize("offset,symptom", [(0.0, "ok"), (3650.0, "verify:expired"), (-3650.0, "verify:not-yet-valid")])
def test_clock_offset_reaches_the_certificate_check(probes: list[Probe], pki: Pki, catalog: Catalog,
                                                    offset: float, symptom: str) -> None:
    """The renewed certificate, seen from a clock ten years ahead or behind: each probe's own check
    (Go: tls.Config.Time; Node, GnuTLS, NSS: libfaketime) must call it expired / not yet valid."""
    from lab.servers.base import DeployRequest
    scenario = catalog.get("expired-server-cert")
    server, client = scenario.specs(scenario.resolution("renew-server-certificate"))
    client = dataclasses.replace(client, clock_offset_days=offset)
    request = DeployRequest(scenario, server, client, scenario.direction, pki)
    with make_backend("twisted").deploy(request) as deployment:
        for probe in probes:
            assert probe.unsupported_reason(client) is None, probe.name
            outcome = probe.run(deployment.tls_target, client, ClientFiles.for_spec(client, pki))
            # NSS 3.87 words a certificate that is not yet valid as expired too: "SEC_ERROR_EXPIRED_CERTIFICATE:
            # Peer's Certificate has expired." (tstclnt, clock 10 years behind)
            wanted = "verify:expired" if probe.name == "nss" and offset < 0 else symptom
            assert str(outcome.symptom) == wanted and outcome.judged_by == "client", (probe.name, outcome)


def test_go_alert_words() -> None:
    """Every alert text of the installed Go's crypto/tls (alert.go's alertText, read from GOROOT) reads
    as that alert's RFC name, e.g. alertCertificateExpired "expired certificate" -> certificate_expired."""
    import re
    import subprocess
    from conftest import require_tool
    from lab.symptoms import ALERT_NAMES, normalise
    go = require_tool("go", "the go probe")
    goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, timeout=30).stdout.strip()
    source = (Path(goroot) / "src" / "crypto" / "tls" / "alert.go").read_text()
    pairs = re.findall(r"^\s*alert(\w+):\s*\"([^\"]+)\",", source, re.MULTILINE)
    assert len(pairs) > 25
    known = set(ALERT_NAMES.values())
    checked = 0
    for const, text in pairs:
        name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", const).lower()  # CertificateExpired -> certificate_expired
        if name in known:
            raw = f'Get "https://api.lab.test:4433/": remote error: tls: {text}'
            assert str(normalise(raw)) == f"alert:{name}", (const, text)
            checked += 1
    assert checked >= 25
