"""``tlslab workshop --backend nginx``: real nginx in Docker serves the exercises; a proof comes from its access log."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.nginx.engine import PID_LABEL, docker_client
from nginx_support import require_docker
from workshop_support import TOKEN_RE, curl, wait_for, workshop


def test_nginx_workshop_fault_fix_and_proof(tmp_path: Path) -> None:
    """curl (Debian 12's 7.88) sees nginx's expired certificate; the fix with the student's token counts as proof."""
    require_docker()
    with workshop(tmp_path, "--backend", "nginx", "--fixed", "-s", "expired-server-cert", "-s", "unknown-server-cert") as w:
        pid = w.proc.pid
        exercises = {x["scenario"]: x for x in w.instructor()["exercises"]}
        label = exercises["expired-server-cert"]["name"]
        token = w.post("/api/join", {"name": "carol"})["token"]
        assert w.post("/api/answer", {"name": "carol", "exercise": label, "cause": "expired-server-cert"})["correct"]
        mine = next(x for x in w.get(f"/api/state?token={token}")["exercises"] if x["name"] == label)
        fault, fixed = mine["variants"]
        failed = curl(fault["commands"][0], w.ready["ca_file"])
        assert failed.returncode == 60 and "certificate has expired" in failed.stderr
        assert TOKEN_RE.search(fixed["commands"][0])
        ok = curl(fixed["commands"][0], w.ready["ca_file"])
        assert ok.returncode == 0 and ok.stdout.endswith("200"), ok.stderr
        wait_for(lambda: w.instructor()["students"][0]["exercises"][label]["proved"], timeout=15)
        # southbound: nginx is the gateway (503 with the fault, 200 fixed); the TLS backend keeps its planned port
        south = exercises["unknown-server-cert"]
        for v in south["variants"]:
            gateway = next(e for e in v["endpoints"] if e["role"] == "gateway")
            backend = next(e for e in v["endpoints"] if e["role"] == "backend")
            assert backend["port"] == gateway["port"] + 1
            code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", gateway["url"]],
                                  capture_output=True, text=True).stdout
            assert code == ("503" if v["variant"] == "fault" else "200")
    assert docker_client().containers.list(all=True, filters={"label": f"{PID_LABEL}={pid}"}) == []  # nothing left
