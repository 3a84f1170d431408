"""The dashboard's one page: plain HTML, CSS and a little vanilla JavaScript (no CDN, works offline).

The same page serves students and the instructor (``/instructor?key=...``); it polls a JSON
endpoint every two seconds and builds the DOM with ``textContent`` only, so no name a student
types can inject markup. Nothing in it names a scenario: the data comes from the view endpoints.
"""

from __future__ import annotations

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TLS troubleshooting workshop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:.8em 1.2em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
header a{color:#9cd3ff}
main{padding:1em 1.2em;max-width:1100px}
.ex{background:#fff;border:1px solid #d8dce3;border-radius:6px;margin:0 0 1em;padding:.8em 1em}
.ex h2{margin:.1em 0 .4em;font-size:1.15em}
pre{background:#f0f2f5;padding:.5em;overflow-x:auto;font-size:12.5px;margin:.3em 0}
.ok{color:#17803d}.bad{color:#b42318}.muted{color:#667}
.badge{display:inline-block;border-radius:3px;padding:0 .4em;font-size:.85em;margin-left:.4em;background:#e4e7ec}
.badge.ok{background:#d1fadf}.badge.bad{background:#fee4e2}
.hint{background:#fff8e1;border-left:3px solid #f0b400;padding:.4em .6em;margin:.4em 0}
table{border-collapse:collapse}td,th{border:1px solid #d8dce3;padding:.2em .5em;text-align:left}
details{margin:.3em 0}
</style></head>
<body>
<header><strong>TLS troubleshooting workshop</strong>
<span id="who"></span>
<a href="/ca.pem" download="workshop-ca.pem">workshop CA</a>
<a href="/handout.html">handout</a>
<span id="live" class="muted">connecting…</span></header>
<main>
<section id="join" hidden>
<p>Enter your name to track your progress (no account; the same name on another laptop continues where you left off).</p>
<form id="joinform"><input id="name" name="name" maxlength="40" required placeholder="your name">
<button type="submit">Start</button></form>
</section>
<section id="room" hidden><h2>The room</h2><div id="roomtable"></div></section>
<section id="exercises"></section>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const key = params.get("key");
const instructor = location.pathname.startsWith("/instructor");
let token = localStorage.getItem("tlslab-token");
let student = localStorage.getItem("tlslab-name");
const hints = {};
const chosen = {};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

async function api(path, body) {
  const r = await fetch(path, body ? {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body)} : {});
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

document.getElementById("joinform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const j = await api("/api/join", {name: document.getElementById("name").value});
    token = j.token; student = j.name;
    localStorage.setItem("tlslab-token", token); localStorage.setItem("tlslab-name", student);
    refresh();
  } catch (e) { alert(e.message); }
});

function variantBlock(v) {
  const box = el("div", {class: "variant", "data-variant": v.variant});
  box.append(el("h3", {text: v.variant === "fault" ? "The endpoint as reported" : "After the fix"}));
  for (const e of v.endpoints) {
    box.append(el("div", {class: "endpoint", text: `${e.role}: ${e.url}` + (e.servername ? `  (name ${e.servername})` : "")}));
  }
  const st = v.status;
  box.append(el("div", {class: "muted", text: `listening; ${st.connections} connections, ${st.requests} answered`}));
  if (v.observed) box.append(el("div", {class: "observed", text: "last attempt: " + v.observed}));
  if (v.client_files.length) {
    const p = el("div", {text: "client certificate: "});
    for (const f of v.client_files) { p.append(el("a", {href: f, download: "", text: f.split("/").pop()}), " "); }
    box.append(p);
  }
  box.append(el("div", {text: "Try:"}));
  box.append(el("pre", {class: "commands", text: v.commands.join("\n")}));
  const d = el("details", {}, el("summary", {text: `recent handshakes (${v.ladders.length})`}));
  if (v.ladders.length) d.open = true;
  for (const l of v.ladders) d.append(el("pre", {class: "ladder " + (l.failed ? "bad" : "ok"), text: l.lines.join("\n")}));
  box.append(d);
  return box;
}

function answerForm(x, causes) {
  const f = el("form", {class: "answer"});
  const sel = el("select", {name: "cause"});
  sel.append(el("option", {value: "", text: "— what is the cause? —"}));
  for (const c of causes) sel.append(el("option", {value: c.id, text: c.title}));
  if (chosen[x.name]) sel.value = chosen[x.name];
  sel.addEventListener("change", () => { chosen[x.name] = sel.value; });
  f.append(sel, el("button", {type: "submit", text: "Submit"}));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!sel.value) return;
    try {
      const g = await api("/api/answer", {name: student, exercise: x.name, cause: sel.value});
      hints[x.name] = g.correct ? null : g.hint;
      refresh();
    } catch (e) { alert(e.message); }
  });
  return f;
}

function render(data) {
  const root = document.getElementById("exercises");
  root.replaceChildren();
  for (const x of data.exercises) {
    const box = el("article", {class: "ex", id: x.name});
    const h = el("h2", {text: x.name});
    if (x.progress) {
      if (x.progress.solved) h.append(el("span", {class: "badge ok", text: "cause found"}));
      if (x.progress.proved) h.append(el("span", {class: "badge ok", text: "fix proven"}));
      if (x.progress.wrong) h.append(el("span", {class: "badge bad", text: `${x.progress.wrong} wrong`}));
    }
    box.append(h);
    if (x.title) {
      box.append(el("div", {class: "scenario", text: `${x.scenario}: ${x.title}`}));
      box.append(el("div", {class: "muted", text: `documented symptom: ${x.documented}  (clients: ${x.expected.join(", ")})`}));
      if (x.fixed_resolution) box.append(el("div", {class: "muted", text: `fixed variant: ${x.fixed_resolution}`}));
    }
    if (x.cause) box.append(el("div", {class: "ok cause", text: `Cause: ${x.cause.title}`}));
    for (const v of x.variants) box.append(variantBlock(v));
    if (!instructor && student) {
      if (!x.progress.solved) box.append(answerForm(x, data.causes));
      if (hints[x.name]) box.append(el("div", {class: "hint", text: "Hint: " + hints[x.name]}));
      if (x.progress.solved && !x.progress.proved) {
        box.append(el("div", {class: "next", text: x.can_prove
          ? "Now prove the fix: make your own client succeed against the 'after the fix' endpoint (its commands carry your token)."
          : "The instructor did not start the fixed variants (--fixed)."}));
      }
    }
    root.append(box);
  }
}

function renderRoom(data) {
  const t = el("table");
  const head = el("tr", {}, el("th", {text: "student"}));
  for (const x of data.exercises) head.append(el("th", {text: x.name}));
  t.append(head);
  for (const s of data.students) {
    const row = el("tr", {}, el("td", {text: s.name}));
    for (const x of data.exercises) {
      const p = s.exercises[x.name];
      row.append(el("td", {text: !p ? "" : (p.proved ? "fixed" : p.solved ? "found" : `${p.wrong} wrong`)}));
    }
    t.append(row);
  }
  document.getElementById("roomtable").replaceChildren(t);
}

async function refresh() {
  try {
    if (instructor) {
      const data = await api("/api/instructor?key=" + encodeURIComponent(key || ""));
      document.getElementById("room").hidden = false;
      document.getElementById("who").textContent = "instructor view";
      renderRoom(data); render(data);
    } else {
      document.getElementById("join").hidden = !!student;
      const data = await api("/api/state" + (token ? "?token=" + encodeURIComponent(token) : ""));
      if (student && !data.student) { localStorage.clear(); token = student = null; }
      document.getElementById("who").textContent = data.student ? "you: " + data.student : "";
      render(data);
    }
    const live = document.getElementById("live");
    live.textContent = "live · " + new Date().toLocaleTimeString(); live.className = "ok";
  } catch (e) {
    const live = document.getElementById("live");
    live.textContent = "dashboard unreachable: " + e.message; live.className = "bad";
  }
}
refresh();
setInterval(refresh, 2000);
</script></body></html>
"""
