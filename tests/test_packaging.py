"""The package as users get it: a wheel and an sdist, installed into a fresh venv, run outside the source tree;
and the CI recipes in docs/ci/, parsed and their commands run here against this checkout.

Slow (a venv and a pip install each, from PyPI's cache), so marked ``slow``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, require_tool, skip_or_fail

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"  # a plain venv from the system interpreter: nothing of /work/venv leaks in


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


def _checkout_copy(target: Path) -> Path:
    """This checkout's files (tracked and new, never ignored ones like certs/), as CI's checkout would see them."""
    files = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO).stdout
    for name in filter(None, files.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _fresh_venv(path: Path) -> Path:
    if not os.path.exists(SYSTEM_PYTHON):
        skip_or_fail(f"{SYSTEM_PYTHON} is needed to make a plain venv")
    _run([SYSTEM_PYTHON, "-m", "venv", str(path)])
    return path / "bin"


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build``: the sdist, and the wheel built from it."""
    import importlib.util
    if importlib.util.find_spec("build") is None:
        skip_or_fail("the 'build' package is not installed: pip install -e '.[test]' (it is in the test extras)")
    out = tmp_path_factory.mktemp("dist")
    source = _checkout_copy(tmp_path_factory.mktemp("src"))
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)])
    return {"wheel": next(out.glob("tlslab-*.whl")), "sdist": next(out.glob("tlslab-*.tar.gz"))}


def test_wheel_and_sdist_carry_scenarios_and_compose_files(dists: dict[str, Path]) -> None:
    wheel = set(zipfile.ZipFile(dists["wheel"]).namelist())
    scenarios = {p.name for p in (REPO / "scenarios").glob("*.toml")}
    assert {f"lab/_data/scenarios/{n}" for n in scenarios} <= wheel
    assert "lab/_data/compose/nginx-image/Dockerfile" in wheel and "lab/py.typed" in wheel
    entry_points = zipfile.ZipFile(dists["wheel"]).read(next(n for n in wheel if n.endswith("entry_points.txt")))
    assert b"[pytest11]\ntlslab = lab.pytest_plugin" in entry_points
    with tarfile.open(dists["sdist"]) as sdist:
        names = sdist.getnames()
    assert any(n.endswith("/scenarios/cipher-mismatch.toml") for n in names)
    assert not any("/certs/" in n and n.endswith(".key") for n in names), "generated keys must never ship"


def test_installed_wheel_runs_outside_the_source_tree(dists: dict[str, Path], tmp_path: Path) -> None:
    require_tool("openssl")
    require_tool("curl")
    bin_dir = _fresh_venv(tmp_path / "venv")
    _run([str(bin_dir / "pip"), "install", "--disable-pip-version-check", "-q", str(dists["wheel"])])
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TLSLAB_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{bin_dir}:{env.get('PATH', '')}")
    proc = subprocess.run([str(bin_dir / "tlslab"), "run", "cipher-mismatch"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout
    where = _run([str(bin_dir / "python"), "-c", "import lab.scenario as s; print(s.__file__)"], cwd=elsewhere,
                 env=env).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the installed copy, not this checkout
    certs = home / ".cache" / "tlslab" / "certs"
    keys = list(certs.glob("*.key"))
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)

    # the pytest plugin comes with the wheel (entry point pytest11): no -p, no conftest, no import
    _run([str(bin_dir / "pip"), "install", "--disable-pip-version-check", "-q", "pytest"])
    (elsewhere / "test_team.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.tlslab_scenarios('cipher-mismatch')\n"
        "def test_served(tlslab_env):\n"
        "    assert tlslab_env.url.startswith('https://127.0.0.1:') and tlslab_env.ca_file.exists()\n")
    result = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_team.py"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr


# ------------------------------------------------------------------------------ CI recipes
def _yaml() -> object:
    try:
        import yaml
    except ImportError:
        skip_or_fail("PyYAML is not installed: pip install -e '.[test]' (it is in the test extras)")
    return yaml


SKIPPED_WORDS = ("apt-get",)  # installing openssl/curl/faketime: checked to be present instead, for speed


def _github_commands(doc: dict) -> list[str]:
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    assert any(s.get("uses", "").startswith("actions/checkout") for s in steps)
    return [s["run"] for s in steps if "run" in s]


def _gitlab_commands(doc: dict) -> list[str]:
    job = doc["tlslab"]
    assert job["artifacts"]["reports"]["junit"] == "report.xml"
    return [*job.get("before_script", []), *job["script"]]


@pytest.mark.parametrize("recipe, commands", [("github-actions.yml", _github_commands),
                                              ("gitlab-ci.yml", _gitlab_commands)])
def test_ci_recipe_runs_here(recipe: str, commands: object, tmp_path: Path, certs_dir: Path) -> None:
    for tool in ("openssl", "curl", "faketime"):
        require_tool(tool, f"the recipe installs it with apt-get ({recipe})")
    doc = _yaml().safe_load((REPO / "docs" / "ci" / recipe).read_text())  # type: ignore[attr-defined]
    steps = commands(doc)  # type: ignore[operator]
    assert any("tlslab run" in c and "--junit report.xml" in c for c in steps)
    workdir = _checkout_copy(tmp_path / "checkout")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TLSLAB_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{Path(SYSTEM_PYTHON).parent}:{env.get('PATH', '')}", TLSLAB_CERTS=str(certs_dir))
    last = None
    for command in steps:
        if any(w in command for w in SKIPPED_WORDS):
            continue
        last = subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=300)
        if "tlslab run" not in command:
            assert last.returncode == 0, f"{recipe}: {command}\n{last.stdout}\n{last.stderr}"
    assert last is not None
    report = ET.parse(workdir / "report.xml").getroot()
    suites = report.findall("testsuite")
    scenarios = {p.stem for p in (REPO / "scenarios").glob("*.toml")}
    assert {s.get("name", "").split(" [")[0] for s in suites} == scenarios
    failed = sum(int(s.get("failures", "0")) for s in suites)
    # the job's status is the run's verdict: green exactly when the report has no failure
    assert (last.returncode == 0) == (failed == 0), last.stdout[-2000:] + last.stderr[-2000:]
    assert last.returncode in (0, 1), last.stderr
