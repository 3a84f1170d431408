"""The one-page handout for the room, as HTML and plain text: trust the CA, point clients at it, the exercises.

Written beside the room's certificates at every start (``handout.html``, ``handout.txt``) and
served by the dashboard. Neutral like everything students see: exercise names and endpoints only.
"""

from __future__ import annotations

import html
from typing import Any

TRUST_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Download the CA", ("curl -o workshop-ca.pem {dashboard}ca.pem",
                         "openssl x509 -in workshop-ca.pem -noout -fingerprint -sha256   # compare: {fingerprint}")),
    ("Chromium on Linux (its own HOME, so its NSS database and nothing else trusts the CA)", (
        "mkdir -p /tmp/ws/.pki/nssdb && certutil -d sql:/tmp/ws/.pki/nssdb -N --empty-password",
        'certutil -d sql:/tmp/ws/.pki/nssdb -A -t "C,," -n workshop -i workshop-ca.pem',
        "HOME=/tmp/ws chromium --user-data-dir=/tmp/ws/profile {dashboard}",
        "(Chrome elsewhere: Settings > Privacy and security > Security > Manage certificates > Import)")),
    ("Firefox (a new profile: firefox -P)", (
        "Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import,",
        "choose workshop-ca.pem, tick 'Trust this CA to identify websites'.")),
    ("curl", ("curl --cacert workshop-ca.pem https://{example}/",)),
    ("openssl", ("openssl s_client -connect {example} -servername {example_name} -CAfile workshop-ca.pem </dev/null",)),
    ("Python", ("SSL_CERT_FILE=workshop-ca.pem python3 -c 'import urllib.request as u; "
                "print(u.urlopen(\"https://{example}/\").read())'",
                "requests: requests.get(url, verify='workshop-ca.pem')")),
    ("Java", ("keytool -importcert -noprompt -alias workshop -file workshop-ca.pem -keystore workshop.p12 "
              "-storetype PKCS12 -storepass changeit",
              "java -Djavax.net.ssl.trustStore=workshop.p12 -Djavax.net.ssl.trustStorePassword=changeit ...")),
)


def _context(room: Any) -> dict[str, str]:
    first = room.exercises[0] if room.exercises else None
    example, example_name = "HOST:PORT", "HOST"
    if first is not None:
        e = room.endpoints(room.live[(first.label, "fault")])
        tls = next((x for x in e if x["scheme"] == "https"), e[0])
        example_name = tls["servername"] or tls["host"]
        example = f"{example_name}:{tls['port']}"
    return {"dashboard": room.dashboard_url or f"http://{room.public_host}:{room.options.base_port}/",
            "fingerprint": room.pki.fingerprint(), "example": example, "example_name": example_name}


def _exercise_rows(room: Any) -> list[tuple[str, str, list[str]]]:
    rows = []
    for ex in room.exercises:
        for v in ex.variants:
            urls = [f"{e['role']} {e['url']}" for e in room.endpoints(room.live[(ex.label, v.kind)])]
            rows.append((ex.label, v.kind, urls))
    return rows


def text(room: Any) -> str:
    ctx = _context(room)
    names = ", ".join(room.names.dns + room.names.ips)
    lines = ["TLS troubleshooting workshop", "=" * 28, "",
             f"Dashboard: {ctx['dashboard']}  (enter your name; no account)",
             f"The workshop CA signs only: {names}. Trust it in a separate browser profile",
             "or pass it to each client; it can vouch for nothing else.",
             f"SHA-256 fingerprint: {ctx['fingerprint']}", ""]
    if not any(d for d in room.names.dns if d != "localhost"):
        lines.append("Names resolve to this machine only (*.localhost); from another machine use the")
        lines.append("--resolve / -servername forms the dashboard prints.")
        lines.append("")
    for title, steps in TRUST_STEPS:
        lines.append(title + ":")
        lines += ["  " + s.format(**ctx) for s in steps]
        lines.append("")
    lines.append("Exercises (each: find the cause, answer on the dashboard, then prove the fix):")
    for label, kind, urls in _exercise_rows(room):
        lines.append(f"  {label} {kind:5}  " + "  ".join(urls))
    return "\n".join(lines) + "\n"


def html_page(room: Any) -> str:
    ctx = _context(room)
    esc = html.escape
    names = ", ".join(room.names.dns + room.names.ips)
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Workshop handout</title>",
             "<style>body{font:14px/1.4 system-ui,sans-serif;max-width:820px;margin:1.5em auto;padding:0 1em}"
             "pre{background:#f0f2f5;padding:.4em;white-space:pre-wrap}td{padding:.1em .6em}"
             "@media print{body{margin:0}}</style></head><body>",
             "<h1>TLS troubleshooting workshop</h1>",
             f"<p>Dashboard: <a href='{esc(ctx['dashboard'])}'>{esc(ctx['dashboard'])}</a> (enter your name; no account)</p>",
             f"<p>The workshop CA signs only <b>{esc(names)}</b>: trust it in a separate browser profile or pass it "
             "to each client; it can vouch for nothing else. SHA-256 fingerprint:<br><code>"
             f"{esc(ctx['fingerprint'])}</code></p>"]
    for title, steps in TRUST_STEPS:
        parts.append(f"<h3>{esc(title)}</h3><pre>" + esc("\n".join(s.format(**ctx) for s in steps)) + "</pre>")
    parts.append("<h2>Exercises</h2><p>Each: find the cause, answer on the dashboard, then prove the fix.</p><table>")
    for label, kind, urls in _exercise_rows(room):
        parts.append(f"<tr><td>{esc(label)}</td><td>{esc(kind)}</td><td>{'<br>'.join(esc(u) for u in urls)}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def write(room: Any) -> None:
    (room.pki.directory / "handout.txt").write_text(text(room))
    (room.pki.directory / "handout.html").write_text(html_page(room))
