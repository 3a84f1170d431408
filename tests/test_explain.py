"""tlslab explain on real client messages (tests/explain_corpus.py): recognised, normalised, causes named.

Each corpus message was printed by a real client (generated here against hand-built servers, or
quoted from a public issue tracker); the tests fail when a message stops being recognised, maps to
another symptom, or when a cause that explains it stops ranking at the top.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.matrix import cells
from lab.explain import FAMILIES, explain_symptoms, explain_text
from lab.explain.candidates import load_matrix
from lab.explain.messages import WORDINGS, classify
from lab.explain.tellapart import observations
from lab.scenario import Catalog
from lab.symptoms import Symptom, normalise

sys.path.insert(0, str(Path(__file__).parent))
from explain_corpus import CORPUS, JAVA_TRACE, PASTED_LOG, Real  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIER = 0.1  # candidates within this of the best score are "the best": a wording's own hint is worth 0.1


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _id(r: Real) -> str:
    return f"{r.family}:{r.text[:50]}"


@pytest.mark.parametrize("real", CORPUS, ids=_id)
def test_each_real_message_normalises_to_its_symptom(real: Real) -> None:
    assert str(normalise(real.text)) == real.symptom, real.source


@pytest.mark.parametrize("real", CORPUS, ids=_id)
def test_each_real_message_names_its_client_family(real: Real) -> None:
    message = classify(real.text)
    assert message is not None, real.source
    assert real.family in message.families, (message.families, real.source)


@pytest.mark.parametrize("real", [r for r in CORPUS if r.top], ids=_id)
def test_the_causes_of_each_real_message_rank_best(real: Real, catalog: Catalog) -> None:
    e = explain_text(real.text, catalog)
    assert e.candidates, real.source
    best = e.candidates[0].score
    top = {c.scenario for c in e.candidates if c.score > best - TIER}
    assert set(real.top) <= top, (real.source, [(c.scenario, c.score) for c in e.candidates[:6]])


@pytest.mark.parametrize("real", [r for r in CORPUS if r.top], ids=_id)
def test_each_candidate_has_a_documented_fix_and_a_reproduction(real: Real, catalog: Catalog) -> None:
    for c in explain_text(real.text, catalog).candidates:
        scenario = catalog.get(c.scenario)
        assert [f.resolution for f in c.fix] and c.fix[0].recommended == any(r.recommended for r in scenario.resolutions)
        assert {f.resolution for f in c.fix} == {r.name for r in scenario.resolutions}
        assert c.reproduce.startswith(f"tlslab run {c.scenario} --client ")
        assert c.why


def test_every_wording_is_backed_by_a_real_message() -> None:
    for w in WORDINGS:
        backing = [r for r in CORPUS if w.pattern.search(r.text)]
        assert backing, f"no real message in tests/explain_corpus.py for {w.family}: {w.pattern.pattern}"
        if w.symptom is not None:
            assert any(normalise(r.text) == w.symptom for r in backing), (w.pattern.pattern, w.symptom)


def test_every_family_is_backed_by_a_real_message() -> None:
    seen = {r.family for r in CORPUS}
    for r in CORPUS:
        message = classify(r.text)
        seen |= set(message.families) if message else set()
    assert set(FAMILIES) <= seen, set(FAMILIES) - seen


def test_go_and_node_messages_from_the_issue_are_recognised(catalog: Catalog) -> None:
    for text in ("x509: certificate signed by unknown authority", "Error: unable to verify the first certificate"):
        e = explain_text(text, catalog)
        assert e.symptoms == (Symptom.parse("verify:unknown-issuer"),)
        assert {"incomplete-chain", "wrong-intermediate", "unknown-server-cert"} <= {c.scenario for c in e.candidates}
    node = explain_text("Error: unable to verify the first certificate", catalog)
    scores = {c.scenario: c.score for c in node.candidates}
    assert scores["incomplete-chain"] > scores["unknown-server-cert"]  # the leaf's issuer never arrived


def test_pkix_candidates_are_told_apart_by_the_served_chain(catalog: Catalog) -> None:
    e = explain_text(CORPUS[[r.family for r in CORPUS].index("java")].text, catalog)
    chain = next(o for o in e.tell_apart if o.id == "served-chain")
    assert {"incomplete-chain", "wrong-intermediate", "unknown-server-cert"} <= set(chain.answers)
    assert any("-showcerts" in c for c in chain.commands) and any("tlslab diagnose" in c for c in chain.commands)


def test_handshake_failure_candidates_are_told_apart_with_and_without_sni(catalog: Catalog) -> None:
    e = explain_text("curl: (35) OpenSSL/3.0.22: error:0A000410:SSL routines::sslv3 alert handshake failure", catalog)
    ids = [o.id for o in e.tell_apart]
    separating = [o for o in e.tell_apart if {"sni-required", "cipher-mismatch"} <= set(o.answers)]
    assert separating, ids
    assert any("-noservername" in c for o in e.tell_apart for c in o.commands)


def test_a_pasted_log_gives_every_symptom_and_the_gateway_view(catalog: Catalog) -> None:
    e = explain_text(PASTED_LOG, catalog)
    assert set(map(str, e.symptoms)) == {"http:503", "alert:handshake_failure"}
    assert e.candidates[0].scenario == "sni-required"
    assert "--direction" not in e.candidates[0].reproduce  # sni-required is documented southbound
    java = explain_text(JAVA_TRACE, catalog)
    assert java.symptoms == (Symptom.parse("verify:unknown-issuer"),)


def test_a_bare_503_puts_the_gateway_log_first(catalog: Catalog) -> None:
    e = explain_text("HTTP/1.1 503 Service Unavailable", catalog)
    assert e.tell_apart[0].id == "gateway-log"
    assert len(e.candidates) > 5  # every southbound fault gives a 503: the candidates must stay many


def test_unknown_text_is_not_recognised_and_gets_the_closest_messages(catalog: Catalog) -> None:
    e = explain_text("the flux capacitor overheated", catalog)
    assert not e.recognised and not e.candidates and e.closest


def test_candidates_come_from_the_catalog_not_from_this_module(catalog: Catalog) -> None:
    """Negative control: without the incomplete-chain scenario, it is never named."""
    smaller = Catalog([s for s in catalog if s.id != "incomplete-chain"])
    e = explain_text("curl: (60) SSL certificate problem: unable to get local issuer certificate", smaller)
    assert "incomplete-chain" not in {c.scenario for c in e.candidates}
    assert "wrong-intermediate" in {c.scenario for c in e.candidates}


def test_explain_symptoms_for_other_features(catalog: Catalog) -> None:
    e = explain_symptoms([Symptom.parse("alert:protocol_version")], catalog, client_family="java")
    assert e.candidates[0].scenario == "protocol-mismatch"
    assert e.candidates[0].reproduce.startswith("tlslab run protocol-mismatch --client java")


def test_every_scenario_can_be_told_apart(catalog: Catalog) -> None:
    covered = {s for o in observations(catalog) for s in o.answers}
    assert set(catalog.ids) <= covered, set(catalog.ids) - covered


def test_the_new_rules_do_not_change_what_the_lab_probes_said() -> None:
    """Every non-ok cell of docs/symptoms.json still normalises to the symptom the matrix recorded."""
    matrix = load_matrix()
    assert matrix["scenarios"]
    for s in matrix["scenarios"]:
        for p in s["phases"]:
            for client, cell in cells(p).items():
                if cell.get("raw") and cell.get("symptom") not in (None, "ok") and client != "app":
                    assert str(normalise(cell["raw"])) == cell["symptom"], (s["scenario"], client, cell["raw"])


# ----------------------------------------------------------------------------------------- the CLI
def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "lab", "explain", *args], capture_output=True, text=True,
                          input=stdin, cwd=ROOT, env=env, timeout=60)


def test_cli_json_schema() -> None:
    done = _cli("x509: certificate signed by unknown authority", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"schema", "symptoms", "candidates", "tell_apart"}
    assert data["schema"] == "tlslab.explain/1"
    assert data["symptoms"][0]["symptom"] == "verify:unknown-issuer"
    assert set(data["candidates"][0]) == {"scenario", "score", "why", "fix", "reproduce"}
    scores = [c["score"] for c in data["candidates"]]
    assert scores == sorted(scores, reverse=True)


def test_cli_human_output_reads_at_80_columns_and_reads_stdin() -> None:
    done = _cli("-", stdin=PASTED_LOG)
    assert done.returncode == 0, done.stderr
    assert "sni-required" in done.stdout and "tell them apart" in done.stdout
    assert max(map(len, done.stdout.splitlines())) <= 80


def test_cli_unknown_text_exits_1_without_a_guess() -> None:
    done = _cli("the flux capacitor overheated")
    assert done.returncode == 1
    assert "not recognised" in done.stdout and "candidates" not in done.stdout


def test_cli_empty_text_is_bad_input() -> None:
    done = _cli("   ")
    assert done.returncode == 2 and "TEXT is empty" in done.stderr


def test_every_report_reads_at_80_columns(catalog: Catalog) -> None:
    from lab.commands.explain import render
    for r in CORPUS:
        e = explain_text(r.text, catalog)
        lines = render(e, limit=len(e.candidates))
        assert max(map(len, lines)) <= 80, (r.text, [ln for ln in lines if len(ln) > 80])


def test_cli_reads_a_log_that_is_not_utf8() -> None:
    done = subprocess.run([sys.executable, "-m", "lab", "explain", "-"], capture_output=True, cwd=ROOT, timeout=60,
                          input="Schannel: CRYPT_E_REVOKED (0x80092010) - Zertifikat zurückgezogen".encode("latin-1"))
    assert done.returncode == 0 and b"ocsp-revoked" in done.stdout, done.stderr


def test_a_server_side_certificate_rejection_points_at_the_server_certificate(catalog: Catalog) -> None:
    e = explain_symptoms([Symptom.parse("alert:certificate_unknown")], catalog)
    assert "unknown-server-cert" in {c.scenario for c in e.candidates}


def test_works_without_the_matrix(catalog: Catalog) -> None:
    """An installed wheel has no docs/symptoms.json: the catalog alone still names the causes."""
    from lab.explain.candidates import Ranker
    from lab.explain.messages import classify as one
    m = one("x509: certificate signed by unknown authority")
    assert m is not None
    ranked = Ranker(catalog, {"scenarios": []}).rank([m], [m.symptom])
    assert {"incomplete-chain", "unknown-server-cert"} <= {c.scenario for c in ranked}


def test_unknown_output_of_a_known_client_says_so(catalog: Catalog) -> None:
    e = explain_text("curl: (6) Could not resolve host: api.example", catalog)
    assert not e.recognised and "curl" in e.seen_families
