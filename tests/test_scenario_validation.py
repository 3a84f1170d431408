"""What load-time validation checks against: the vocabulary and registries it derives from, not copies."""

from __future__ import annotations

import pytest

from lab.probes import PROBES
from lab.scenario import BACKEND_NAMES, Catalog
from lab.backends import BACKENDS
from lab.symptoms import ALERT_NAMES, RULES, Kind, Symptom, check_expected, known_details
from lab.tls import check_cipher_string


def test_every_rule_detail_is_in_the_vocabulary() -> None:
    """A rule that produces a detail scenario files may not expect would make a symptom unreachable."""
    for rule in RULES:
        if rule.detail:
            allowed = known_details(rule.kind)
            assert allowed is not None and rule.detail in allowed, (rule.kind, rule.detail)


def test_alert_details_are_the_alert_names() -> None:
    allowed = known_details(Kind.ALERT) or ()
    assert set(ALERT_NAMES.values()) <= set(allowed)
    check_expected(Symptom.parse("alert:certificate_expired"))
    with pytest.raises(ValueError, match="handshake_failure"):
        check_expected(Symptom.parse("alert:handshake_failed"))


@pytest.mark.parametrize("text", ["ok", "closed", "timeout", "refused", "http:503", "verify:expired",
                                  "revocation:no-staple", "negotiation:protocol-version", "alert:unknown_ca",
                                  "alert:client-certificate-rejected"])
def test_vocabulary_symptoms_are_accepted(text: str) -> None:
    check_expected(Symptom.parse(text))


@pytest.mark.parametrize("text", ["verify:", "verify:bogus", "revocation:revokd", "negotiation:nope", "ok:fine", "timeout:5",
                                  "http:abc", "http:999", "error:boom"])
def test_unknown_details_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        check_expected(Symptom.parse(text))


def test_backend_names_match_the_registry() -> None:
    """scenario.py cannot import lab.servers (it imports scenario.py): the two lists must agree."""
    assert set(BACKEND_NAMES) == set(BACKENDS)


def test_shipped_scenarios_pass_validation(catalog: Catalog) -> None:
    """Negative control for the corpus: every real file still loads, with every override key known."""
    assert len(catalog) >= 18
    for scenario in catalog:
        assert set(scenario.expect.probes) <= {*PROBES, "gateway"}


@pytest.mark.parametrize("ciphers", ["HIGH:!aNULL", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", "DEFAULT:@SECLEVEL=0",
                                     "ECDHE+AESGCM"])
def test_real_cipher_lists_pass(ciphers: str) -> None:
    check_cipher_string(ciphers)


@pytest.mark.parametrize("ciphers", ["NO-SUCH", "AES128-SHA:TYPO-SHA", "HIGH;ssl_protocols SSLv3", ""])
def test_bad_cipher_lists_fail(ciphers: str) -> None:
    with pytest.raises(ValueError):
        check_cipher_string(ciphers)
