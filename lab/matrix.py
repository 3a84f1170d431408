"""The symptom matrix: scenario x client, what each client says with the fault and after each fix.

Pure functions from a :class:`~lab.harness.RunReport` to JSON-able data and Markdown: the
machine-readable catalogue (what users ask badssl.com for) and ``docs/symptoms.md``.

The output must be reproducible so a test can tell when the committed document is stale:
no timings, and raw messages pass through :func:`stable_text`, which blanks what varies from
run to run (ports, OpenSSL's per-thread hex ids, source line numbers, certificate dates).
"""

from __future__ import annotations

import re
from typing import Any

from lab.report import check_json
from lab.harness import RunReport
from lab.plan import APP
from lab.scenario import Catalog

SCHEMA = "tlslab.matrix/2"  # /2: the scenario key and the check shape of run --json
RAW_LIMIT = 300  # characters of a raw message shown in the Markdown (the JSON keeps the whole text)

_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    # OpenSSL error lines start with a per-thread id: "40C78131AC7F0000:error:0A000418:..."
    (re.compile(r"\b[0-9A-F]{8,16}(?=:error:)"), "<thread>"),
    # source positions differ between builds: "../ssl/record/rec_layer_s3.c:1601", "(_ssl.c:2580)"
    (re.compile(r"[\w./-]*\.c:\d+"), "<src>"),
    # Java's dates: "NotAfter: Sat Nov 21 08:19:50 UTC 2026", "revocation date: Sun Nov 22 07:21:06 UTC 2026"
    (re.compile(r"\b[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \w+ \d{4}"), "<date>"),
    # OpenSSL's: "notAfter=Nov 21 08:29:50 2026 GMT"
    (re.compile(r"\b[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4} GMT"), "<date>"),
    (re.compile(r"\b(OpenSSL|LibreSSL|BoringSSL)/\d+\.\d+\.\d+[a-z]?"), r"\1/<version>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<date>"),
    (re.compile(r"(?<=[\w\]]):\d{2,5}\b(?!:)"), ":<port>"),  # host:port
    (re.compile(r"\bport \d{2,5}\b"), "port <port>"),
    (re.compile(r"\b0x[0-9a-f]{6,}\b"), "0x<addr>"),
    (re.compile(r"\bpid[ =:]+\d+", re.IGNORECASE), "pid <pid>"),
    # a lab file a client names ("curl: (77) error setting certificate file: /…/certs/empty-ca-bundle.pem"):
    # the certificates directory differs per run, the file's name is the information
    (re.compile(r"(?:/[\w.-]+)+/([\w.-]+\.pem)\b"), r"<certs>/\1"),
    (re.compile(r"(?:/tmp|/var/tmp)/[\w./-]+"), "<tmp>"),
    (re.compile(r"after \d+(?:\.\d+)?s\b"), "after <n>s"),
)


def stable_text(raw: str) -> str:
    """`raw` with run-specific details blanked, whitespace collapsed to one line."""
    text = " ".join(raw.split())
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _cell(check: dict[str, Any]) -> dict[str, Any]:
    """The Markdown's view of one check (the JSON keeps ``run --json``'s shape)."""
    o = check["observed"]
    cell: dict[str, Any] = {"expected": check["expected"], "passed": check["passed"],
                            "applicable": check["status"] != "n/a", "judged_by": check["judged_by"]}
    if o is None:
        cell["symptom"] = None
        cell["note"] = check["note"] or ""
        return cell
    cell["symptom"] = o["symptom"]
    cell["raw"] = o["raw"]
    if check["client"] == APP:
        cell["http_status"] = o["http_status"]
        if o.get("upstream"):
            cell["gateway"] = {"symptom": o["upstream"]["symptom"], "raw": o["upstream"]["raw"] or ""}
    return cell


def cells(phase: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """client -> the Markdown's view of its check, in the phase's order."""
    return {c["client"]: _cell(c) for c in phase["checks"]}


def symptom_view(matrix: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The matrix without the clients' raw words: what a code change can alter.

    Raw words also change with the tools' versions (a JDK update rewords its exceptions), so
    a machine with other tool versions compares this view instead of the whole document.
    """
    return [
        (s["scenario"], s["direction"], p["resolution"], client, cell["symptom"], tuple(cell["expected"]),
         cell["applicable"], cell["passed"], (cell.get("gateway") or {}).get("symptom"), cell.get("judged_by"))
        for s in matrix["scenarios"] for p in s["phases"] for client, cell in sorted(cells(p).items())
    ]


def build(reports: list[RunReport], catalog: Catalog, tools: dict[str, str] | None = None) -> dict[str, Any]:
    """The matrix as data: one entry per scenario, phases in order, one cell per client."""
    clients: list[str] = []
    unavailable: dict[str, str] = {}
    scenarios: list[dict[str, Any]] = []
    for report in reports:
        clients += [c for c in report.clients if c not in clients]
        unavailable.update(report.unavailable)
        for result in report.results:
            scenario = catalog.get(result.scenario)
            if any(c.client == APP for p in result.phases for c in p.checks) and APP not in clients:
                clients.append(APP)
            scenarios.append({
                "scenario": scenario.id, "title": scenario.title, "document": scenario.document,
                "section": scenario.section, "direction": result.direction.value, "backend": result.backend,
                "fault": scenario.fault, "documented": scenario.expect.documented,
                # no applicable check failed (a phase no selected client can observe is not a failure here)
                "passed": result.error is None and not any(
                    not c.passed and c.not_applicable is None for p in result.phases for c in p.checks),
                "error": result.error,
                "phases": [{
                    "phase": "fault" if p.resolution is None else "resolution",
                    "resolution": p.resolution, "summary": p.summary,
                    "changes": [{"side": c.side, "field": c.field, "before": c.before, "after": c.after}
                                for c in p.changes],
                    "checks": [check_json(c, stable_text, timing=False) for c in p.checks],
                } for p in result.phases],
            })
    if APP in clients:  # the app column last, after every probe
        clients = [c for c in clients if c != APP] + [APP]
    return {
        "schema": SCHEMA, "backends": sorted({r.backend for r in reports}), "clients": clients,
        "tools": dict(tools or {}),
        "unavailable": unavailable, "passed": all(s["passed"] for s in scenarios), "scenarios": scenarios,
    }


# ---------------------------------------------------------------------------------------------
# Markdown

def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def brief(raw: str) -> str:
    """A Java-style cause chain shortened to the top exception and the root cause (where the reason is)."""
    parts = raw.split(" | Caused by: ")
    return raw if len(parts) <= 2 else f"{parts[0]} | … Caused by: {parts[-1]}"


def _code(text: str) -> str:
    text = brief(text)
    text = text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT - 1] + "…"
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _overview_cell(client: str, cell: dict[str, Any] | None) -> str:
    if cell is None:
        return ""
    if not cell["applicable"]:
        return "n/a"
    if cell["symptom"] is None:
        return "—"  # the client could not run on the machine that generated the matrix
    mark = "" if cell["passed"] else "✗ "
    lab = " †" if cell.get("judged_by") == "lab" else ""  # the lab's judgment, not the client's own
    if client == APP:
        gateway = cell.get("gateway") or {}
        text = str(cell.get("http_status") or cell["symptom"])
        if gateway.get("symptom") and cell["symptom"] != "ok":
            text += f" (gateway: {gateway['symptom']})"
        return mark + text + lab
    return mark + ("ok" if cell["symptom"] == "ok" else f"`{cell['symptom']}`") + lab


def _header(client: str) -> str:
    return "app → gateway" if client == APP else client


def markdown(matrix: dict[str, Any], command: str = "tlslab matrix") -> str:
    clients: list[str] = matrix["clients"]
    lines = [
        "# Symptom matrix",
        "",
        f"<!-- Generated by `{command}` from a real run; do not edit by hand. "
        "tests/test_matrix.py fails when this file is stale. -->",
        "",
        "What each client says with each documented fault in place, and after each documented fix, "
        f"measured on the `{', '.join(matrix['backends'])}` backend. Symptoms use the lab's vocabulary "
        "(`alert:<name>` the peer sent a fatal alert, `verify:<reason>` the client rejected the certificate, "
        "`negotiation:<reason>` no common protocol or cipher, `revocation:<reason>` an OCSP check failed, "
        "`http:<status>`); `ok` means the handshake "
        "and `GET /` succeeded. `n/a`: the client cannot express that configuration (e.g. a browser always "
        "sends SNI). Southbound, the clients stand in for the gateway's TLS client; the *app → gateway* "
        "column is what the application sees through the gateway, with the gateway's logged symptom. "
        "†: judged by the lab (its own check, e.g. of an OCSP staple, or its reading of what a client printed "
        "while the client itself succeeded; JSON `judged_by: lab`); unmarked: the client itself failed or succeeded.",
        "",
        "The same data as JSON (schema `tlslab.matrix/1`): [`symptoms.json`](symptoms.json).",
        "",
        "Measured with: " + "; ".join(f"{name}: {_md(version)}" for name, version in matrix.get("tools", {}).items()) + ".",
        "",
        "## Overview",
        "",
        "| scenario | phase | " + " | ".join(_header(c) for c in clients) + " |",
        "|---|---|" + "---|" * len(clients),
    ]
    for scenario in matrix["scenarios"]:
        for i, phase in enumerate(scenario["phases"]):
            name = f"[{scenario['scenario']}](#{scenario['scenario']}) ({scenario['direction']})" if i == 0 else ""
            label = "fault" if phase["resolution"] is None else f"fix: {phase['resolution']}"
            row = [_overview_cell(c, cells(phase).get(c)) for c in clients]
            lines.append(f"| {name} | {label} | " + " | ".join(row) + " |")
    lines += ["", "## What each client says", ""]
    for scenario in matrix["scenarios"]:
        lines += [f"### {scenario['scenario']}", "", f"**{_md(scenario['title'])}** ({scenario['direction']}; "
                  f"{scenario['document']}, section \"{scenario['section']}\")", "",
                  f"Fault: {_md(scenario['fault'])}", ""]
        if scenario["documented"]:
            lines += [f"Documented symptom: “{_md(scenario['documented'])}”", ""]
        for phase in scenario["phases"]:
            if phase["resolution"] is None:
                lines += ["With the fault:", ""]
            else:
                changed = ", ".join(f"{c['side']}.{c['field']}: {c['before']} → {c['after']}" for c in phase["changes"])
                lines += [f"After **{phase['resolution']}** ({_md(phase['summary'])} — {_md(changed)}):", ""]
            fixed = phase["resolution"] is not None and all(
                c["symptom"] == "ok" or not c["applicable"] for c in cells(phase).values())
            if fixed:
                skipped = [_header(n) for n, c in cells(phase).items() if not c["applicable"]]
                lines += ["Every client succeeds" + (f" ({', '.join(skipped)}: n/a)" if skipped else "") + ".", ""]
                continue
            rows = []
            for client in clients:
                cell = cells(phase).get(client)
                if cell is None:
                    continue
                if not cell["applicable"]:
                    said = "n/a: " + _md(cell.get("note", "").removeprefix("not applicable: "))
                elif cell["symptom"] is None:
                    said = "not run: " + _md(cell.get("note", ""))
                else:
                    said = _code(cell["raw"])
                    gateway = cell.get("gateway")
                    if gateway and gateway.get("raw"):
                        said += " — gateway log: " + _code(gateway["raw"])
                rows.append(f"| {_header(client)} | {_overview_cell(client, cell)} | {said} |")
            lines += ["| client | symptom | what it says |", "|---|---|---|", *rows, ""]
    if matrix["unavailable"]:
        lines += ["## Clients that could not run", ""]
        lines += [f"- {name}: {_md(reason)}" for name, reason in sorted(matrix["unavailable"].items())]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
