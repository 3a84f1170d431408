"""The symptom matrix: docs/symptoms.md must be what a fresh run of every client produces.

The staleness test regenerates the whole matrix with all six clients (real TLS, a real JVM and
a real Chromium) and compares it byte for byte with the committed file, so it fails when a
client stops reproducing a fault, stops seeing a fix, or changes its words.
"""

from __future__ import annotations

import difflib
import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.commands.matrix import generate, json_text
from lab.matrix import brief, cells, stable_text, symptom_view
from lab.probes import PROBES

from clients_support import require_probe
from conftest import APIGEE_IDS, REPO

COMMITTED = REPO / "docs" / "symptoms.md"
COMMITTED_JSON = REPO / "docs" / "symptoms.json"


@pytest.fixture(scope="module")
def fresh(certs_dir: Path, pki: object) -> tuple[dict, str]:
    for name in PROBES:
        require_probe(PROBES[name]())
    return generate("all", "twisted", REPO / "scenarios", certs_dir, require_all=True)


def test_committed_matrix_is_fresh(fresh: tuple[dict, str]) -> None:
    """Stale means: a client no longer shows a committed symptom, or a fix no longer fixes.

    With the same tool versions the whole document must match, raw words included. With other
    versions (a Debian update rewords a JDK or curl message) the symptoms must still match, and
    the raw words are reported, not failed: regenerate the matrix to record the new wording.
    """
    data, text = fresh
    committed_data = json.loads(COMMITTED_JSON.read_text(encoding="utf-8"))
    if committed_data.get("tools") == data["tools"]:
        committed = COMMITTED.read_text(encoding="utf-8")
        if committed != text:
            diff = "\n".join(list(difflib.unified_diff(committed.splitlines(), text.splitlines(),
                                                       "docs/symptoms.md", "fresh run", lineterm=""))[:60])
            pytest.fail(f"docs/symptoms.md is stale; regenerate with 'tlslab matrix' and commit it:\n{diff}")
        if COMMITTED_JSON.read_text(encoding="utf-8") != json_text(data):
            pytest.fail("docs/symptoms.json is stale; regenerate with 'tlslab matrix' and commit it")
        return
    old, new = symptom_view(committed_data), symptom_view(data)
    changed = [f"{a} -> {b}" for a, b in zip(old, new) if a != b]
    if len(old) != len(new):
        changed.append(f"{len(old)} committed rows, {len(new)} fresh rows")
    assert not changed, "docs/symptoms.md is stale (symptoms changed); regenerate with 'tlslab matrix':\n" + "\n".join(changed[:30])
    warnings.warn(f"docs/symptoms.md was made with other tool versions ({committed_data.get('tools')} vs "
                  f"{data['tools']}): symptoms match, raw words not compared; regenerate with 'tlslab matrix'")


def test_matrix_data(fresh: tuple[dict, str]) -> None:
    data, _ = fresh
    assert data["schema"] == "tlslab.matrix/2" and data["passed"], "every check in the matrix run must pass"
    assert set(APIGEE_IDS) <= {s["scenario"] for s in data["scenarios"]}
    assert data["clients"][:6] == ["python-ssl", "pyopenssl", "openssl", "curl", "java", "browser"]
    payload = json.dumps(data)
    assert "elapsed" not in payload, "timings would make the matrix differ on every run"
    cipher = next(s for s in data["scenarios"] if s["scenario"] == "cipher-mismatch")
    java = cells(cipher["phases"][0])["java"]
    assert java["symptom"] == "alert:handshake_failure"
    # the document's words; JDK 17.0.21 puts the alert's name first: "(handshake_failure) Received fatal alert: ..."
    assert "Received fatal alert: handshake_failure" in java["raw"]


def test_stable_text_blanks_what_varies() -> None:
    assert stable_text("40C78131AC7F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:"
                       "../ssl/record/rec_layer_s3.c:1601:SSL alert number 48") == (
        "<thread>:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:<src>:SSL alert number 48")
    assert stable_text("NotAfter: Sat Nov 21 08:19:50 UTC 2026") == "NotAfter: <date>"
    assert stable_text("revocation date: Sun Nov 22 07:21:06 UTC 2026, authority") == "revocation date: <date>, authority"
    assert stable_text("notAfter=Nov 21 08:29:50 2026 GMT") == "notAfter=<date>"
    assert stable_text("handshake with 127.0.0.1:43355 (api.lab.test)") == "handshake with 127.0.0.1:<port> (api.lab.test)"
    assert stable_text("curl: (35) OpenSSL/3.0.22: error") == "curl: (35) OpenSSL/<version>: error"
    assert stable_text("HTTP/1.1 200 OK") == "HTTP/1.1 200 OK"
    assert brief("A: x | Caused by: B: y | Caused by: C: z") == "A: x | … Caused by: C: z"


def test_command_writes_and_checks(tmp_path: Path, certs_dir: Path, pki: object) -> None:
    runner = CliRunner()
    out = tmp_path / "symptoms.md"
    args = ["matrix", "--client", "python-ssl", "--out", str(out), "--certs", str(certs_dir),
            "--json-out", str(tmp_path / "symptoms.json")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert out.read_text().startswith("# Symptom matrix")
    assert json.loads((tmp_path / "symptoms.json").read_text())["clients"] == ["python-ssl", "app"]
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    out.write_text(out.read_text().replace("`verify:expired`", "`ok`"))
    stale = runner.invoke(app, [*args, "--check"])
    assert stale.exit_code == 1 and "stale" in stale.output
