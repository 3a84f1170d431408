"""``tlslab workshop``: the room's servers, certificates, answers and progress, with real clients.

Every check uses a real client (curl 7.88 / OpenSSL 3.0 on Debian 12, Python's ssl) against the
workshop started as a user starts it (the CLI in a subprocess, stopped with SIGTERM).
"""

from __future__ import annotations

import json
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenario import Catalog, Direction
from lab.symptoms import normalise
from conftest import require_tool
from workshop_support import ROOT, TOKEN_RE, assert_neutral, curl, download_client_files, free_base, wait_for, workshop

SMALL = ("expired-server-cert", "hostname-mismatch", "unknown-server-cert", "expired-client-cert")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _by_scenario(w) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {x["scenario"]: x for x in w.instructor()["exercises"]}


def test_all_scenarios_fault_reproduces_and_fix_succeeds(tmp_path: Path, catalog: Catalog) -> None:
    """Every catalogue scenario at once; curl as the dashboard prints it: fault fails as documented, fix works."""
    require_tool("curl")
    with workshop(tmp_path, "--fixed") as w:
        ready = w.ready
        assert set(ready) >= {"dashboard", "ca_file", "exercises"}
        assert [x["name"] for x in ready["exercises"]] == [f"exercise-{n:02d}" for n in range(1, len(catalog) + 1)]
        for x in ready["exercises"]:  # the port plan: BASE + 10*N (fault), +5 (fixed)
            number = int(x["name"].split("-")[1])
            fronts = {v["variant"]: v["endpoints"][0]["port"] for v in x["variants"]}
            assert fronts == {"fault": w.base + 10 * number, "fixed": w.base + 10 * number + 5}
            for v in x["variants"]:
                for e in v["endpoints"]:
                    assert set(e) >= {"role", "host", "port", "url", "servername"}
        exercises = _by_scenario(w)
        assert set(exercises) == set(catalog.ids)
        ca = ready["ca_file"]
        for s in catalog:
            x = exercises[s.id]
            for v in x["variants"]:
                files = download_client_files(w, v, tmp_path)
                result = curl(v["commands"][0], ca, files)
                status = result.stdout.rsplit("\n", 1)[-1]
                where = f"{x['name']} ({s.id}) {v['variant']}: {result.stderr.strip()} {status}"
                fix = next((r for r in s.resolutions if r.recommended), s.resolutions[0])
                fixed_client = s.specs(fix)[1]
                if v["variant"] == "fixed" and fixed_client.trust not in ("root", ""):
                    continue  # the fix is the client's own trust store (e.g. a new root): not the room CA's line
                if v["variant"] == "fixed":
                    assert result.returncode == 0 and status == "200", where
                elif s.direction is Direction.SOUTHBOUND:
                    assert status == "503", where  # the app's view: the gateway's upstream TLS failed
                elif "curl" in s.expect.not_applicable or "curl@twisted" in s.expect.not_applicable:
                    continue  # curl cannot observe this fault (the scenario says why: e.g. it accepts a CN-only name)
                elif s.client.trust != "root" or s.client.clock_offset_days or s.client.scheme != "https":
                    continue  # a fault in the client's own trust store, clock or scheme: the room's curl line
                    # trusts the room CA with the machine's clock (the workshop does not hand out faulty clients)
                else:
                    assert result.returncode != 0, where
                    expected = s.expect.for_client("curl", "twisted", Direction.NORTHBOUND)
                    assert normalise(result.stderr) in expected, where


def test_small_selection_json_openssl_python_and_neutral_answers(tmp_path: Path, catalog: Catalog) -> None:
    """A --scenarios selection; openssl s_client and Python's ssl see the fault, the server's words are neutral."""
    require_tool("openssl")
    with workshop(tmp_path, "--fixed", *[a for s in SMALL for a in ("-s", s)]) as w:
        assert len(w.ready["exercises"]) == len(SMALL)
        exercises = _by_scenario(w)
        ca = w.ready["ca_file"]
        expired = exercises["expired-server-cert"]["variants"][0]
        line = next(c for c in expired["commands"] if c.startswith("openssl"))
        out = subprocess.run(line.replace("workshop-ca.pem", ca), shell=True, capture_output=True, text=True, timeout=20)
        assert "certificate has expired" in out.stdout + out.stderr
        assert "Verify return code: 10" in out.stdout
        # Python's ssl, configured correctly, against the hostname-mismatch fault and its fix
        ctx = ssl.create_default_context(cafile=ca)
        for v in exercises["hostname-mismatch"]["variants"]:
            e = v["endpoints"][0]
            with socket.create_connection(("127.0.0.1", e["port"]), timeout=10) as sock:
                if v["variant"] == "fault":
                    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
                        ctx.wrap_socket(sock, server_hostname=e["servername"])
                    continue
                with ctx.wrap_socket(sock, server_hostname=e["servername"]) as tls:
                    tls.sendall(f"GET / HTTP/1.1\r\nHost: {e['servername']}\r\n\r\n".encode())
                    body = tls.recv(4096).decode()
        assert "200 OK" in body
        assert_neutral(body, [catalog.get(s) for s in SMALL])


def test_students_see_nothing_that_names_the_cause(tmp_path: Path, catalog: Catalog) -> None:
    """Page, JSON, readiness line, response bodies, certificate subjects: no scenario's id, title, fault or fix."""
    require_tool("openssl")
    chosen = [catalog.get(s) for s in SMALL]
    with workshop(tmp_path, "--fixed", *[a for s in SMALL for a in ("-s", s)]) as w:
        token = w.post("/api/join", {"name": "eve"})["token"]
        view = w.get(f"/api/state?token={token}")
        causes = view.pop("causes")
        assert sorted(c["id"] for c in causes) == sorted(catalog.ids)  # every cause, the same for every exercise
        for url in [e["url"] for x in view["exercises"] for v in x["variants"] for e in v["endpoints"]]:
            curl_cmd = ["curl", "-sk", "-m", "5", "--resolve", f"{url.split('//')[1].split(':')[0]}:{url.rsplit(':', 1)[1].strip('/')}:127.0.0.1", url]
            subprocess.run(curl_cmd, capture_output=True, timeout=10)  # some traffic, so ladders show
        wait_for(lambda: all(v["ladders"] for x in w.get(f"/api/state?token={token}")["exercises"] for v in x["variants"]))
        view = w.get(f"/api/state?token={token}")
        view.pop("causes")
        texts = [json.dumps(view), json.dumps(w.ready), w.raw("/").decode(), w.raw("/handout.html").decode(),
                 w.raw("/handout.txt").decode()]
        for x in view["exercises"]:
            for v in x["variants"]:
                e = next(e for e in v["endpoints"] if e["scheme"] == "https")
                shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{e['port']}", "-servername",
                                        e["servername"], "-showcerts"], input="", capture_output=True, text=True,
                                       timeout=20).stdout
                texts.append("\n".join(l for l in shown.splitlines() if l.strip().startswith(("s:", "i:", "subject", "issuer"))))
                body = subprocess.run(["curl", "-sk", "-m", "5", f"https://127.0.0.1:{e['port']}/"], capture_output=True,
                                      text=True, timeout=10).stdout
                texts.append(body)
        for text in texts:
            assert_neutral(text, chosen)


def test_certificates_verify_for_the_room_and_reject_a_forged_outside_name(tmp_path: Path) -> None:
    """openssl verify: an exercise's leaf for the named host passes; a leaf for another name, signed by the root, fails."""
    require_tool("openssl")
    room = tmp_path / "room"
    with workshop(tmp_path, "--name", "lab.example.internal", "--name", "192.0.2.10", "--dir", str(room),
                  "-s", "expired-server-cert", "-s", "hostname-mismatch", "--fixed") as w:
        x = _by_scenario(w)["hostname-mismatch"]
        ca = w.ready["ca_file"]
        name = x["variants"][0]["endpoints"][0]["servername"]
        assert name == f"{x['name']}.lab.example.internal"
        label = x["name"]
        leaf, chain = room / label / "something-san.pem", room / label / "intermediate.pem"
        ok = subprocess.run(["openssl", "verify", "-CAfile", ca, "-untrusted", str(chain), "-verify_hostname", name,
                             str(leaf)], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        # the renewed leaf of the other exercise, for the named address (a student without DNS connects by IP)
        other = _by_scenario(w)["expired-server-cert"]["name"]
        by_ip = subprocess.run(["openssl", "verify", "-CAfile", ca, "-untrusted", str(room / other / "intermediate.pem"),
                                "-verify_ip", "192.0.2.10", str(room / other / "server.pem")], capture_output=True, text=True)
        assert by_ip.returncode == 0, by_ip.stdout + by_ip.stderr
        wrong_ip = subprocess.run(["openssl", "verify", "-CAfile", ca, "-untrusted", str(room / other / "intermediate.pem"),
                                   "-verify_ip", "192.0.2.11", str(room / other / "server.pem")], capture_output=True, text=True)
        assert wrong_ip.returncode != 0
        for key in (room / "ca").glob("*.key"):
            assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        for key in (room / label).glob("*.key"):
            assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        # A forged leaf for a name outside the room, made with the openssl CLI and signed by the root itself
        key, csr, cert, ext = (tmp_path / f"forged.{s}" for s in ("key", "csr", "pem", "ext"))
        ext.write_text("subjectAltName=DNS:www.bank.example\nbasicConstraints=CA:FALSE\n")
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                        "-subj", "/CN=www.bank.example"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", ca, "-CAkey", str(room / "ca" / "root.key"),
                        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)], check=True,
                       capture_output=True)
        bad = subprocess.run(["openssl", "verify", "-CAfile", ca, str(cert)], capture_output=True, text=True)
        assert bad.returncode != 0
        assert "permitted subtree violation" in bad.stdout + bad.stderr
        constraints = subprocess.run(["openssl", "x509", "-in", ca, "-noout", "-ext", "nameConstraints"],
                                     capture_output=True, text=True).stdout
        assert "DNS:lab.example.internal" in constraints and "critical" in constraints
        assert "IP:192.0.2.10/255.255.255.255" in constraints and "IP:127.0.0.0" not in constraints


def test_answers_hints_proof_and_progress_survive_a_restart(tmp_path: Path, catalog: Catalog) -> None:
    """Wrong answer -> hint, right answer; the fix proven by curl with the student's token; all of it after a restart."""
    require_tool("curl")
    state = tmp_path / "progress.sqlite"
    base = free_base(60)
    args = ("--fixed", "-s", "expired-server-cert", "-s", "hostname-mismatch")
    with workshop(tmp_path, *args, state=state, base=base) as w:
        x = _by_scenario(w)["expired-server-cert"]
        label = x["name"]
        wrong = subprocess.run([sys.executable, "-m", "lab", "answer", label, "hostname-mismatch", "--name", "alice",
                                "--dashboard", w.dashboard, "--json"], cwd=ROOT, capture_output=True, text=True)
        assert wrong.returncode == 1, wrong.stderr
        graded = json.loads(wrong.stdout)
        assert graded["correct"] is False and graded["hint"]
        second = w.post("/api/answer", {"name": "alice", "exercise": label, "cause": "incomplete-chain"})
        assert second["wrong"] == 2 and "If the cause were the one you chose" in second["hint"]
        assert second["hint"] != graded["hint"]
        bad = subprocess.run([sys.executable, "-m", "lab", "answer", label, "no-such-cause", "--name", "alice",
                              "--dashboard", w.dashboard], cwd=ROOT, capture_output=True, text=True)
        assert bad.returncode == 2 and "no-such-cause" in bad.stderr and "Traceback" not in bad.stderr
        right = subprocess.run([sys.executable, "-m", "lab", "answer", label, "expired-server-cert", "--name", "alice",
                                "--dashboard", w.dashboard], cwd=ROOT, capture_output=True, text=True)
        assert right.returncode == 0 and "right" in right.stdout
        token = w.post("/api/join", {"name": "alice"})["token"]
        mine = next(e for e in w.get(f"/api/state?token={token}")["exercises"] if e["name"] == label)
        assert mine["progress"] == {"wrong": 2, "solved": True, "proved": False}
        assert mine["cause"]["id"] == "expired-server-cert"  # named now that it is solved
        fixed = next(v for v in mine["variants"] if v["variant"] == "fixed")
        command = fixed["commands"][0]
        assert TOKEN_RE.search(command).group(1) == token  # type: ignore[union-attr]
        fault = curl(next(v for v in mine["variants"] if v["variant"] == "fault")["commands"][0], w.ready["ca_file"])
        assert fault.returncode != 0  # the fault endpoint proves nothing
        assert curl(command, w.ready["ca_file"]).returncode == 0
        wait_for(lambda: w.instructor()["students"][0]["exercises"][label]["proved"])
        order = [(x["name"], x["scenario"]) for x in w.instructor()["exercises"]]
        import urllib.error
        with pytest.raises(urllib.error.HTTPError) as denied:
            w.get("/api/instructor?key=wrong")
        assert denied.value.code == 403
        assert w.ready["instructor"].split("key=")[1] not in w.raw("/").decode()
        observed = next(v for x in w.get(f"/api/state?token={token}")["exercises"] if x["name"] == label
                        for v in x["variants"] if v["variant"] == "fault")
        assert observed["observed"].startswith("failed: the client saw")  # curl's attempt above, as the lab saw it
        key = w.ready["instructor"]
    with workshop(tmp_path, *args, state=state, base=base) as w:  # a restart: the same file
        assert w.ready["instructor"] == key
        assert [(x["name"], x["scenario"]) for x in w.instructor()["exercises"]] == order
        room = w.instructor()["students"]
        assert room[0]["name"] == "alice"
        assert room[0]["exercises"][label] == {"wrong": 2, "solved": True, "proved": True}


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    base = free_base(40)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base + 10))
        blocker.listen()
        proc = subprocess.run([sys.executable, "-m", "lab", "workshop", "--json", "-s", "expired-server-cert",
                               "--state", str(tmp_path / "p.sqlite"), "--base-port", str(base)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert f"port {base + 10}" in proc.stderr and "--base-port" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_ctrl_c_stops_everything_exit_130(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C): exit 130, every port closed; the handout names the CA's fingerprint and the exercises."""
    import signal

    with workshop(tmp_path, "-s", "expired-server-cert", expect_exit=130) as w:
        ports = [e["port"] for x in w.ready["exercises"] for v in x["variants"] for e in v["endpoints"]] + [w.base]
        handout = w.raw("/handout.txt").decode()
        assert "SHA-256 fingerprint" in handout and w.ready["exercises"][0]["name"] in handout
        w.proc.send_signal(signal.SIGINT)
        w.proc.wait(30)
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
