"""Run reports as data for scripts: JSON (``--json``) and JUnit XML (``--junit``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from lab.harness import Check, Phase, RunReport, ScenarioResult
from lab.probes.base import ClientFiles, Outcome
from lab.specs import ClientSpec, spec_as_dict

SCHEMA = "tlslab.run/1"  # checks gained "status" (pass/fail/n/a), "not_applicable", "judged_by": additive


def client_settings_json(spec: ClientSpec, files: ClientFiles) -> dict[str, Any]:
    """The scenario's own client in a deployment (with the fault: the faulty side), as files and
    settings, so a user can reproduce exactly that client with a tool of their own."""
    return {
        "ca_file": str(files.ca_file), "client_cert": str(files.cert_file) if files.cert_file else None,
        "client_key": str(files.key_file) if files.key_file else None, "sends_sni": spec.sni,
        **{k: v for k, v in spec_as_dict(spec).items() if k not in ("trust", "certificate", "sni")},
        "trust": spec.trust, "certificate": spec.certificate,
    }


def _same(text: str) -> str:
    return text


def outcome_json(outcome: Outcome | None, text: Callable[[str], str] = _same, timing: bool = True) -> dict[str, Any] | None:
    """`text` rewrites the raw words (the matrix blanks ports and dates); `timing` keeps elapsed."""
    if outcome is None:
        return None
    out: dict[str, Any] = {
        "symptom": str(outcome.symptom), "raw": text(outcome.raw), "http_status": outcome.http_status,
        "protocol": outcome.protocol, "cipher": outcome.cipher,
    }
    if timing:
        out["elapsed"] = round(outcome.elapsed, 4)
    if outcome.judged_how:
        out["judged_how"] = outcome.judged_how
    if outcome.upstream is not None or outcome.upstream_raw is not None:
        out["upstream"] = {"symptom": str(outcome.upstream) if outcome.upstream else None,
                           "raw": text(outcome.upstream_raw) if outcome.upstream_raw else None}
    return out


def check_json(check: Check, text: Callable[[str], str] = _same, timing: bool = True) -> dict[str, Any]:
    """One check, in the shape ``run --json`` and the matrix share."""
    return {
        "client": check.client, "passed": check.passed, "status": check.status, "judged_by": check.judged_by,
        "expected": [str(s) for s in check.expected],
        "observed": outcome_json(check.outcome, text, timing), "note": check.note or None,
        "not_applicable": check.not_applicable,
    }


def phase_json(phase: Phase) -> dict[str, Any]:
    return {
        "phase": "fault" if phase.resolution is None else "resolution",
        "resolution": phase.resolution, "summary": phase.summary, "passed": phase.passed,
        "changes": [{"side": c.side, "field": c.field, "before": c.before, "after": c.after} for c in phase.changes],
        "checks": [check_json(c) for c in phase.checks],
    }


def result_json(result: ScenarioResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario, "direction": result.direction.value, "backend": result.backend,
        "passed": result.passed, "elapsed": round(result.elapsed, 3), "error": result.error,
        "not_applicable": result.not_applicable,
        "phases": [phase_json(p) for p in result.phases],
    }


def report_json(report: RunReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "passed": report.passed, "backend": report.backend, "clients": list(report.clients),
        "unavailable": report.unavailable, "elapsed": round(report.elapsed, 3),
        "scenarios": [result_json(r) for r in report.results],
    }


def _by(check: Check) -> str:
    return " (judged by the lab)" if check.judged_by == "lab" else ""


def report_junit(report: RunReport) -> str:
    """One testsuite per scenario, one testcase per (phase, client): what CI systems display."""
    root = ET.Element("testsuites", name="tlslab", time=f"{report.elapsed:.3f}")
    for result in report.results:
        cases = [(p, c) for p in result.phases for c in p.checks]
        failures = sum(1 for _, c in cases if c.status == "fail") + (1 if result.error else 0)
        suite = ET.SubElement(root, "testsuite", name=f"{result.scenario} [{result.direction.value}, {result.backend}]",
                              tests=str(len(cases) + (1 if result.error else 0)), failures=str(failures),
                              time=f"{result.elapsed:.3f}")
        if result.error:
            case = ET.SubElement(suite, "testcase", classname=result.scenario, name="setup")
            ET.SubElement(case, "error", message=result.error)
        for phase, check in cases:
            name = f"{phase.resolution or 'fault'} / {check.client}"
            case = ET.SubElement(suite, "testcase", classname=result.scenario, name=name,
                                 time=f"{check.outcome.elapsed if check.outcome else 0:.3f}")
            if check.judged_by:
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", name="judged_by", value=check.judged_by)
            if check.not_applicable:
                ET.SubElement(case, "skipped", message=f"not applicable: {check.not_applicable}")
            elif not check.passed:
                failure = ET.SubElement(case, "failure", message=(check.note or "failed") + _by(check))
                failure.text = check.outcome.raw if check.outcome else check.note
                if check.outcome and check.outcome.judged_by:
                    failure.text += f"\n(judged by {check.outcome.judged_by})"
            elif check.outcome:
                ET.SubElement(case, "system-out").text = f"{check.outcome.symptom}: {check.outcome.raw}{_by(check)}" + (
                    f"\n(judged by {check.outcome.judged_how})" if check.outcome.judged_how else "")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
