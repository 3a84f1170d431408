"""The pytest plugin, run through pytest's own pytester: a team's test module, as they would write it.

The client under test is plain Python ssl written in the generated test module (the team's code,
not the lab's). Negative control: a client that skips verification must make every fault case
fail, so a plugin that served no fault (or served fixes as faults) cannot pass.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from conftest import REPO

pytest_plugins = ["pytester"]

TEAM_TESTS = '''
import socket, ssl
import pytest

VERIFY = {verify}

def our_client(env):
    """Our client: connect to 127.0.0.1, send and verify the scenario's name."""
    ctx = ssl.create_default_context(cafile=str(env.ca_file))
    if not VERIFY:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((env.host, env.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=env.servername) as s:
                s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                return b" 200 " in s.recv(100)
    except (ssl.SSLError, OSError):
        return False

@pytest.mark.tlslab_scenarios("expired-server-cert", "incomplete-chain", "hostname-mismatch")
def test_rejects_every_fault_accepts_every_fix(tlslab_env):
    assert our_client(tlslab_env) is tlslab_env.fixed, (tlslab_env.scenario, tlslab_env.resolution)

def test_factory(tlslab):
    fault = tlslab("expired-server-cert")
    fixed = tlslab("expired-server-cert", "renew-server-certificate")
    assert fault.port != fixed.port and fault.expected == ("verify:expired",)
    assert our_client(fixed)
'''


def _plugin_args() -> list[str]:
    """``-p lab.pytest_plugin`` unless the installed package already registers it (pytest11)."""
    registered = any(ep.value == "lab.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if registered else ["-p", "lab.pytest_plugin"]


@pytest.fixture
def team_env(pytester: pytest.Pytester, certs_dir: Path, pki: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSLAB_CERTS", str(certs_dir))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # this checkout's lab, wherever the team's tests run


def test_marker_parametrizes_over_every_fault_and_fix(pytester: pytest.Pytester, team_env: None) -> None:
    pytester.makepyfile(test_team=TEAM_TESTS.format(verify=True))
    result = pytester.runpytest_subprocess(*_plugin_args(), "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)  # 3 faults + 4 fixes, and the factory test
    result.stdout.fnmatch_lines(["*test_rejects_every_fault_accepts_every_fix?expired-server-cert-fault? PASSED*",
                                 "*test_rejects_every_fault_accepts_every_fix?hostname-mismatch-wildcard-certificate? PASSED*"])


def test_a_client_that_does_not_verify_fails_every_fault(pytester: pytest.Pytester, team_env: None) -> None:
    pytester.makepyfile(test_team=TEAM_TESTS.format(verify=False))
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "-k", "rejects")
    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines(["FAILED *expired-server-cert-fault*", "FAILED *incomplete-chain-fault*",
                                 "FAILED *hostname-mismatch-fault*"])


def test_parametrize_helper_and_unknown_ids(pytester: pytest.Pytester, team_env: None) -> None:
    pytester.makepyfile(test_helper='''
import pytest
from lab.pytest_plugin import tlslab_cases

@pytest.mark.parametrize("tlslab_case", tlslab_cases("all"))
def test_every_case_is_served(tlslab_env, tlslab_case):
    assert tlslab_env.scenario == tlslab_case.scenario and tlslab_env.port > 0
''', test_typo='''
import pytest

@pytest.mark.tlslab_scenarios("expired-server")
def test_typo(tlslab_env):
    pass
''')
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "test_helper.py")
    import lab
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=len(lab.cases("all")))
    typo = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "test_typo.py")
    assert typo.ret != 0
    typo.stdout.fnmatch_lines(["*tlslab_scenarios: unknown scenario id 'expired-server'*Did you mean*"])
    assert "Traceback" not in typo.stdout.str() and "_pytest" not in typo.stdout.str()
