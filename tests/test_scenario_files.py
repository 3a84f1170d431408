"""Scenario files: the catalogue contract, and clear errors for malformed files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.errors import ScenarioFileError, UnknownScenario
from lab.scenario import Catalog, load_scenario

from conftest import APIGEE_IDS, REPO

GOOD = '''
id = "demo"
title = "Demo"
document = "doc.txt"
direction = "northbound"
fault = "the server's certificate expired"
servername = "api.lab.test"

[symptom]
expect = "verify:expired"

[server]
certificate = "server-expired"

[[resolution]]
name = "renew"
summary = "renew it"
[resolution.server]
certificate = "server"
'''


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_catalog_ids_match_the_contract(catalog: Catalog) -> None:
    """Every APIGEE id of shared/CATALOG.md has exactly its file; ids are public interface."""
    contract = REPO.parent / "shared" / "CATALOG.md"
    if contract.exists():
        text = contract.read_text()
        apigee = text[text.index("## APIGEE scenarios"):text.index("## OCSP scenarios")]  # the field rows are other ids
        ids = set(re.findall(r"^\| ([a-z][a-z-]*) \|", apigee, re.M)) - {"id"}
        assert ids == set(APIGEE_IDS)
    assert set(APIGEE_IDS) <= set(catalog.ids)


def test_good_file_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.id == "demo" and scenario.resolutions[0].name == "renew"
    server, _ = scenario.specs(scenario.resolutions[0])
    assert server.certificate == "server"


@pytest.mark.parametrize("mutation, field, words", [
    (lambda t: t.replace('title = "Demo"', 'title = "Demo"\ncolour = "red"'), "colour", "unknown field"),
    (lambda t: t.replace('id = "demo"', 'id = "other"'), "id", "file is named demo.toml"),
    (lambda t: t.replace('"verify:expired"', '"verfy:expired"'), "symptom.expect", "unknown symptom kind"),
    (lambda t: t.replace('certificate = "server-expired"', 'certificate = "nope"'), "server.certificate", "no certificate named 'nope'"),
    (lambda t: t.replace('[server]', '[server]\nmin_protocol = "SSLv2"'), "server.min_protocol", "unknown TLS protocol"),
    (lambda t: t.replace('[server]', '[server]\nsni = "sometimes"'), "server.sni", "must be one of"),
    (lambda t: t.replace('[server]', '[server]\nclient_auth = "yes"'), "server.client_auth", "true or false"),
    (lambda t: t.replace('[server]', '[server]\nflavour = 1'), "server.flavour", "unknown field"),
    (lambda t: t.replace('direction = "northbound"', 'direction = "eastbound"'), "direction", "northbound, southbound"),
    (lambda t: t.split("[[resolution]]")[0], "resolution", "at least one"),
    (lambda t: t.replace('[resolution.server]\ncertificate = "server"', ''), "resolution[0]", "changes nothing"),
    (lambda t: t.replace('summary = "renew it"', ''), "resolution[0].summary", "is required"),
    (lambda t: t.replace('servername = "api.lab.test"', ''), "servername", "is required"),
    (lambda t: t + "\n[[resolution]]\nname = \"renew\"\nsummary = \"x\"\n[resolution.client]\nsni = false\n", "resolution[1].name", "used twice"),
])
def test_malformed_files_name_file_and_field(tmp_path: Path, mutation, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, mutation(GOOD))
    with pytest.raises(ScenarioFileError) as info:
        load_scenario(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and words in str(info.value)


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="not valid TOML"):
        load_scenario(write(tmp_path, "id = \n"))


def test_unknown_id_suggests_close_ones(catalog: Catalog) -> None:
    with pytest.raises(UnknownScenario) as info:
        catalog.get("sni-require")
    assert "sni-required" in info.value.suggestions
    assert "Did you mean" in str(info.value)
