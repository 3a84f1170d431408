"""A team's own, hand-written nginx server block, run in the lab's real nginx container.

The block and its certificates are the team's (written here by hand, certificates made with the
openssl CLI); the lab may change only listen, logging and the file paths (copies). The negative
control: the same block serving the leaf alone reproduces incomplete-chain's symptom.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from own_material_support import TeamPki, make_team_pki

from lab.material import MaterialError
from lab.nginx.own import rewrite

TEAM_BLOCK = """\
# api.example.com, as we ship it
server {
    listen 443 ssl http2 default_server;
    listen [::]:443 ssl http2 default_server;
    server_name api.lab.test;

    ssl_certificate     {cert};
    ssl_certificate_key "{key}";
    ssl_protocols       TLSv1.2 TLSv1.3;
    ssl_ciphers         ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256;
    ssl_prefer_server_ciphers on;
    add_header Strict-Transport-Security "max-age=63072000" always;
    access_log /var/log/nginx/api.access.log combined;
    error_log  /var/log/nginx/api.error.log warn;

    location / {
        return 200 "our api\\n";
    }
}
"""


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> TeamPki:
    return make_team_pki(tmp_path_factory.mktemp("team-pki"))


def _block(directory: Path, cert: str, key: str = "key.pem", name: str = "api.conf") -> Path:
    path = directory / name
    path.write_text(TEAM_BLOCK.replace("{cert}", cert).replace("{key}", key))
    return path


def test_rewrite_changes_only_listen_logs_and_file_paths(team: TeamPki) -> None:
    conf = _block(team.root.parent, "fullchain.pem")  # relative paths: against the block's directory
    block = rewrite(conf, listen="127.0.0.1:8443", certs_dir="/etc/tlslab/certs")
    lines = block.text.splitlines()
    assert "    listen 127.0.0.1:8443 ssl http2 default_server;" in lines
    assert sum(ln.strip().startswith("listen ") for ln in lines) == 1  # the IPv6 listen is only a comment now
    assert any("# tlslab: was `access_log /var/log/nginx/api.access.log combined;`" in ln for ln in lines)
    kept = [ln for ln in TEAM_BLOCK.splitlines() if not any(w in ln for w in ("listen", "_log", "ssl_certificate"))]
    assert all(ln in lines for ln in kept)  # every other directive exactly as written
    assert {(f.source, f.private) for f in block.files} == {(team.fullchain, False), (team.key, True)}
    assert f"ssl_certificate /etc/tlslab/certs/{block.files[0].name};  # tlslab: copy of fullchain.pem" in block.text


@pytest.mark.parametrize("text, words", [
    ("http {\n server { listen 443 ssl; }\n}\n", "not a whole nginx.conf"),
    ("server {\n include snippets/ssl.conf;\n}\n", "'include' is not supported"),
    ("location / { return 200; }\n", "no 'server {' block"),
    ("server {\n ssl_certificate /certs/$ssl_server_name.pem;\n}\n", "variables are not supported"),
    ("server {\n ssl_certificate missing.pem;\n}\n", "missing.pem: no such file"),
])
def test_unrunnable_blocks_are_refused_naming_the_file(tmp_path: Path, text: str, words: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    with pytest.raises(MaterialError, match=words) as info:
        rewrite(conf, listen="127.0.0.1:1", certs_dir="/c")
    assert str(tmp_path) in str(info.value)


def test_a_key_of_another_certificate_is_refused_with_the_line(team: TeamPki) -> None:
    conf = _block(team.root.parent, "fullchain.pem", key="other.key", name="wrong-key.conf")
    with pytest.raises(MaterialError, match=r"wrong-key.conf:8.*other.key: does not belong"):
        rewrite(conf, listen="127.0.0.1:1", certs_dir="/c")


def _tlslab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def test_nginx_conf_needs_the_nginx_backend(cli_env: dict[str, str], team: TeamPki) -> None:
    proc = _tlslab(cli_env, "run", "incomplete-chain", "--nginx-conf", str(_block(team.root.parent, "fullchain.pem")))
    assert proc.returncode == 2 and "add --backend nginx" in " ".join(proc.stderr.split())


def test_show_prints_the_final_config(cli_env: dict[str, str], team: TeamPki) -> None:
    conf = _block(team.root.parent, "fullchain.pem")
    proc = _tlslab(cli_env, "show", "incomplete-chain", "--backend", "nginx", "--nginx-conf", str(conf))
    assert proc.returncode == 0, proc.stderr
    assert "=== resolution own-material" in proc.stdout
    assert "+        add_header Strict-Transport-Security \"max-age=63072000\" always;" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("served, expected", [("fullchain.pem", "ok"), ("leaf.pem", "verify:unknown-issuer")])
def test_own_block_on_real_nginx(cli_env: dict[str, str], team: TeamPki, served: str, expected: str) -> None:
    """The team's block serves its full chain: the fix works for openssl, curl and python's ssl. With the
    leaf alone (negative control) the same block reproduces the documented symptom for each of them."""
    from nginx_support import require_docker
    require_docker()
    conf = _block(team.root.parent, served, name=f"api-{served}.conf")
    proc = _tlslab(cli_env, "run", "incomplete-chain", "--backend", "nginx", "--nginx-conf", str(conf),
                   "--ca-file", str(team.root), "-r", "own-material", "-c", "openssl,curl,python-ssl", "--json")
    assert proc.returncode == (0 if expected == "ok" else 1), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    phase = next(p for p in report["scenarios"][0]["phases"] if p["resolution"] == "own-material")
    assert {c["observed"]["symptom"] for c in phase["checks"]} == {expected}


@pytest.mark.slow
def test_api_serves_own_block_and_keeps_the_key_private(certs_dir: Path, team: TeamPki) -> None:
    from nginx_support import require_docker
    require_docker()
    import lab
    from lab.nginx.backend import lab_containers

    conf = _block(team.root.parent, "fullchain.pem", name="api-up.conf")
    with lab.serve("incomplete-chain", backend="nginx", certs_dir=certs_dir, nginx_conf=conf,
                   ca_file=team.root) as env:
        containers = [c for c in lab_containers() if c.labels.get("tlslab.scenario") == "incomplete-chain"]
        assert containers
        mounts = {m["Destination"]: m["Source"] for m in containers[-1].attrs["Mounts"]}
        key_copies = [p for p in Path(mounts["/etc/tlslab"], "certs").iterdir() if p.name.startswith("own-key")]
        assert key_copies and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in key_copies)
        out = subprocess.run(["curl", "-sS", "--cacert", str(env.ca_file), "--resolve",
                              f"{env.servername}:{env.port}:127.0.0.1", env.name_url],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == "our api\n", out.stderr


@pytest.mark.slow
def test_up_json_carries_the_deployed_config(cli_env: dict[str, str], team: TeamPki) -> None:
    from nginx_support import require_docker
    require_docker()
    conf = _block(team.root.parent, "fullchain.pem", name="api-upjson.conf")
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", "incomplete-chain", "--backend", "nginx",
                             "--nginx-conf", str(conf), "--ca-file", str(team.root), "--json"],
                            env=cli_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline() or "{}")
        assert line.get("resolution") == "own-material", proc.stderr.read() if proc.stderr else ""
        assert 'add_header Strict-Transport-Security "max-age=63072000" always;' in line["nginx_conf"]
        assert line["endpoints"][0]["ca_file"] == str(team.root)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) in (0, 130, 143, -15)


def _scenario_with_block(tmp_path: Path, team: TeamPki) -> Path:
    directory = tmp_path / "our-scenarios"
    (directory / "ours").mkdir(parents=True)
    for f in (team.fullchain, team.key, team.root):
        (directory / "ours" / f.name).write_bytes(f.read_bytes())
    (directory / "ours" / "key.pem").chmod(0o600)
    _block(directory / "ours", "fullchain.pem")  # relative to the block: ours/fullchain.pem
    text = (REPO / "scenarios" / "cipher-mismatch.toml").read_text()
    (directory / "cipher-mismatch.toml").write_text(text + """
[[resolution]]
name = "our-nginx"
summary = "The server block we ship"
[resolution.server]
nginx_conf = "ours/api.conf"     # relative to this file
[resolution.client]
trust = "ours/root.pem"
""")
    return directory


def test_scenario_file_block_needs_nginx_before_anything_starts(cli_env: dict[str, str], team: TeamPki,
                                                                tmp_path: Path) -> None:
    proc = _tlslab(cli_env, "run", "--scenarios", str(_scenario_with_block(tmp_path, team)), "--all")
    assert proc.returncode == 2 and "run it with --backend nginx" in " ".join(proc.stderr.split())  # rich wraps
    assert "cipher-mismatch (northbound)" not in proc.stderr  # nothing ran


@pytest.mark.slow
def test_scenario_file_block_on_real_nginx(cli_env: dict[str, str], team: TeamPki, tmp_path: Path) -> None:
    from nginx_support import require_docker
    require_docker()
    proc = _tlslab(cli_env, "run", "--scenarios", str(_scenario_with_block(tmp_path, team)), "--all",
                   "--backend", "nginx", "-c", "openssl,curl,python-ssl", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    phase = next(p for p in json.loads(proc.stdout)["scenarios"][0]["phases"] if p["resolution"] == "our-nginx")
    assert {c["observed"]["symptom"] for c in phase["checks"]} == {"ok"}
