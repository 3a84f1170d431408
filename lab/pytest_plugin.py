"""pytest plugin: test your own client against every fault and every fix, in a few lines.

Installed with the package (entry point ``pytest11``: ``tlslab``), so there is nothing to import::

    import pytest

    @pytest.mark.tlslab_scenarios("all")                # or ids: ("expired-server-cert", "incomplete-chain")
    def test_our_client(tlslab_env):
        result = our_client.get(tlslab_env.url, verify_name=tlslab_env.servername, ca=tlslab_env.ca_file)
        if tlslab_env.fault:
            assert not result.ok, f"our client accepted {tlslab_env.scenario}"
        else:
            assert result.ok, f"{tlslab_env.resolution} did not fix {tlslab_env.scenario} for our client"

Fixtures:

* ``tlslab_env``: the servers of one case, up for the test (needs the marker, or parametrize
  ``tlslab_case`` yourself with :func:`tlslab_cases`). An :class:`lab.api.Environment`.
* ``tlslab_case``: the :class:`lab.api.Case` itself (scenario, resolution, ``fault``).
* ``tlslab``: a factory, ``tlslab("expired-server-cert", resolution=None, backend="twisted")``, for
  any number of environments in one test; all stopped at the test's end.

The marker ``@pytest.mark.tlslab_scenarios(*ids, backend="twisted", direction=None)`` parametrizes
the test over every fault and fix of those scenarios (``"all"``: every scenario). Test ids read
``test_our_client[expired-server-cert-fault]``. ``--tlslab-backend nginx`` on the pytest command line
changes the default backend; ``--tlslab-scenarios DIR`` uses your own scenario files.

Host names: the lab's names (``api.lab.test``) do not resolve. ``env.url`` is on 127.0.0.1; tell your
client to send and verify ``env.servername`` (most TLS libraries take a server_hostname / SNI name
separately from the address), or use ``env.name_url`` with a client that can map a name to
127.0.0.1 (``curl --resolve NAME:PORT:127.0.0.1``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lab.api import Case, Environment

MARKER = "tlslab_scenarios"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tlslab", "tlslab: TLS fault scenarios for your client")
    group.addoption("--tlslab-backend", default="twisted",
                    help="where tlslab's servers run for the tlslab fixtures: twisted (default) or nginx")
    group.addoption("--tlslab-scenarios", default=None, metavar="DIR",
                    help="a directory of your own tlslab scenario files (default: the lab's)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*ids, backend=None, direction=None): run the test once per fault and per fix of "
                   "these tlslab scenarios ('all': every scenario), with the tlslab_env fixture serving each")


def tlslab_cases(*selection: str, backend: str = "twisted", direction: str | None = None,
                 scenarios_dir: str | None = None) -> list[Any]:
    """``pytest.param`` objects for ``@pytest.mark.parametrize("tlslab_case", tlslab_cases("all"))``."""
    from lab.api import cases
    return [pytest.param(c, id=c.id) for c in cases(*selection, backend=backend, direction=direction,
                                                    scenarios_dir=scenarios_dir)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or "tlslab_case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    from lab.errors import LabError
    problem = None
    try:
        params = tlslab_cases(*marker.args, backend=marker.kwargs.get("backend") or config.getoption("tlslab_backend"),
                              direction=marker.kwargs.get("direction"),
                              scenarios_dir=config.getoption("tlslab_scenarios"))
    except LabError as exc:  # an unknown id in the marker: say which, not a traceback
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"@pytest.mark.{MARKER}: {problem}", pytrace=False)
    metafunc.parametrize("tlslab_case", params)


@pytest.fixture
def tlslab(request: pytest.FixtureRequest) -> Iterator[Callable[..., "Environment"]]:
    """Factory: ``tlslab(scenario, resolution=None, **serve_options)`` -> a running Environment."""
    from lab.api import serve
    backend = request.config.getoption("tlslab_backend")
    scenarios_dir = request.config.getoption("tlslab_scenarios")
    with contextlib.ExitStack() as stack:
        def start(scenario: str, resolution: str | None = None, **options: Any) -> "Environment":
            options.setdefault("backend", backend)
            options.setdefault("scenarios_dir", scenarios_dir)
            return stack.enter_context(serve(scenario, resolution, **options))

        yield start


@pytest.fixture
def tlslab_case(request: pytest.FixtureRequest) -> "Case":
    """The case a test is parametrized with (the marker, or ``parametrize("tlslab_case", tlslab_cases(...))``)."""
    if not hasattr(request, "param"):
        raise pytest.UsageError(f"{request.node.nodeid}: tlslab_case/tlslab_env need "
                                f"@pytest.mark.{MARKER}(...) or @pytest.mark.parametrize('tlslab_case', tlslab_cases(...))")
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def tlslab_env(tlslab_case: "Case", tlslab: Callable[..., "Environment"]) -> "Environment":
    """The servers of `tlslab_case`, up for this test."""
    return tlslab(tlslab_case.scenario, tlslab_case.resolution, backend=tlslab_case.backend,
                  direction=tlslab_case.direction)
