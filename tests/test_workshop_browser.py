"""The dashboard in real Chromium (Debian's chromium through Playwright), offline.

Every request the page makes is checked: only the dashboard itself (127.0.0.1) may be asked,
nothing else resolves (``--host-resolver-rules``) and background networking is off. A student
joins, sees every exercise and nothing that names a cause, answers wrong (a hint appears),
answers right, then proves the fix with their own client (Python's ssl) using their token.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import tempfile
from pathlib import Path


from lab.probes.browser import chromium_path
from lab.scenario import Catalog
from conftest import skip_or_fail
from workshop_support import TOKEN_RE, assert_neutral, workshop

SCENARIOS = ("expired-server-cert", "hostname-mismatch", "incomplete-chain")
SWITCHES = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def test_dashboard_full_exercise_in_chromium_offline(tmp_path: Path) -> None:
    executable = chromium_path()
    if executable is None:
        skip_or_fail("chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    catalog = Catalog.load()
    chosen = [catalog.get(s) for s in SCENARIOS]
    with workshop(tmp_path, "--fixed", *[a for s in SCENARIOS for a in ("-s", s)]) as w, sync_playwright() as p:
        x = next(e for e in w.instructor()["exercises"] if e["scenario"] == "expired-server-cert")
        label = x["name"]
        with tempfile.TemporaryDirectory(prefix="tlslab-ws-", dir="/tmp") as short:
            browser = p.chromium.launch(executable_path=executable, headless=True, args=SWITCHES,
                                        env={**os.environ, "TMPDIR": short}, timeout=30_000)
            try:
                page = browser.new_page()
                asked: list[str] = []
                page.on("request", lambda r: asked.append(r.url))
                page.goto(w.dashboard, timeout=15_000)
                page.fill("#name", "bob")
                page.click("#joinform button")
                page.wait_for_selector(f"#{label} form.answer", timeout=10_000)
                names = page.locator("article.ex h2").all_inner_texts()
                assert [n.split()[0] for n in names] == [e["name"] for e in w.ready["exercises"]]
                # Before anything is solved, nothing names a cause; the cause list (the same for every
                # exercise: the whole catalogue) is the only place titles appear.
                shown = page.evaluate("(() => { const c = document.querySelector('#exercises').cloneNode(true);"
                                      " c.querySelectorAll('select').forEach(s => s.remove()); return c.textContent; })()")
                assert_neutral(shown, chosen)
                for select in page.locator("article.ex select").all():
                    values = [v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v]
                    assert sorted(values) == sorted(catalog.ids)
                article = page.locator(f"#{label}")
                article.locator("select").select_option("hostname-mismatch")
                article.locator("button[type=submit]").click()
                page.wait_for_selector(f"#{label} .hint", timeout=10_000)
                assert "certificate" in page.locator(f"#{label} .hint").inner_text()
                assert "1 wrong" in page.locator(f"#{label} h2").inner_text()
                page.locator(f"#{label} select").select_option("expired-server-cert")
                page.locator(f"#{label} button[type=submit]").click()
                page.wait_for_selector(f"#{label} .cause", timeout=10_000)
                assert "cause found" in page.locator(f"#{label} h2").inner_text()
                commands = page.locator(f"#{label} .variant[data-variant=fixed] pre.commands").inner_text()
                token = TOKEN_RE.search(commands).group(1)  # type: ignore[union-attr]
                assert token == page.evaluate("localStorage.getItem('tlslab-token')")
                # The student's own client against the fixed endpoint, with the token in the path
                fixed = next(v for v in x["variants"] if v["variant"] == "fixed")["endpoints"][0]
                ctx = ssl.create_default_context(cafile=w.ready["ca_file"])
                with socket.create_connection(("127.0.0.1", fixed["port"]), timeout=10) as sock, \
                        ctx.wrap_socket(sock, server_hostname=fixed["servername"]) as tls:
                    tls.sendall(f"GET /s/{token} HTTP/1.1\r\nHost: {fixed['servername']}\r\n\r\n".encode())
                    assert b"200 OK" in tls.recv(4096)
                page.wait_for_function(
                    f"document.querySelector('#{label} h2').textContent.includes('fix proven')", timeout=10_000)
                ladders = page.locator(f"#{label} .variant[data-variant=fixed] pre.ladder").all_inner_texts()
                assert any("handshake completed" in l for l in ladders)
                # The instructor view shows students' names as typed: text, never markup
                evil = "<img src=/evil onerror=alert(1)>"
                w.post("/api/join", {"name": evil})
                page.goto(w.ready["instructor"], timeout=15_000)
                page.wait_for_selector("#roomtable table", timeout=10_000)
                assert evil in page.locator("#roomtable").inner_text()
                assert "bob" in page.locator("#roomtable").inner_text()
                assert not any(u.endswith("/evil") for u in asked)  # the <img> was never built
                offsite = [u for u in asked if not re.match(rf"^{re.escape(w.dashboard.rstrip('/'))}/", u)]
                assert offsite == [], f"the page asked beyond the dashboard: {offsite}"
            finally:
                browser.close()
