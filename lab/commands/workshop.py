"""``tlslab workshop`` (every scenario for a room, the dashboard) and ``tlslab answer`` (a student's cause)."""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.console import err, interrupted_code, lab_errors, out, say
from lab.errors import EnvironmentError_, UserInputError
from lab.servers.base import exposure


def workshop(
    bind: Annotated[str, typer.Option("--bind", metavar="ADDR", help="Address to listen on (default loopback only). Naming another "
                                      "address exposes the lab's deliberately broken servers to that network.")] = "127.0.0.1",
    names: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME", help="A DNS name or IP address students use to reach "
                     "this machine (repeatable); certificates and the CA's name constraints cover exactly these.",
                     show_default=False)] = None,
    scenarios: Annotated[Optional[list[str]], typer.Option("--scenario", "-s", metavar="ID", help="Serve only these scenarios "
                         "(repeatable, or comma-separated); default: all.", show_default=False)] = None,
    fixed: Annotated[bool, typer.Option("--fixed", help="Also serve each scenario's fixed variant (its recommended "
                                        "resolution): students prove their fix against it.")] = False,
    base_port: Annotated[int, typer.Option("--base-port", metavar="PORT", help="The dashboard's port; exercise N is on BASE+10*N "
                                           "(fixed variant BASE+10*N+5).")] = 8400,
    backend: Annotated[str, typer.Option("--backend", "-b", metavar="NAME", help="twisted (in-process, default) or nginx (Docker).")] = "twisted",
    state: Annotated[Optional[Path], typer.Option("--state", metavar="FILE", help="The progress file (SQLite); default: "
                     "the state directory's workshop/progress.sqlite.", show_default=False)] = None,
    directory: Annotated[Optional[Path], typer.Option("--dir", metavar="DIR", help="Where the room's certificates and handout go; "
                         "default: beside the progress file.", show_default=False)] = None,
    scenarios_dir: Annotated[Optional[Path], typer.Option("--scenarios", metavar="DIR", help="Scenario directory, as in every "
                             "command (default: the repo's scenarios/; env TLSLAB_SCENARIOS). Choose scenarios with -s.",
                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line once everything is ready.")] = False,
) -> None:
    """Serve every scenario at once for a room: neutral exercises, a dashboard, progress.

    Each scenario becomes a neutral exercise (exercise-01 ...) on stable ports; the dashboard
    (on --base-port) lists them with the commands to try, the handshake ladders of recent
    attempts and each student's progress; the instructor view (/instructor?key=..., printed at
    start) names the scenarios and shows the room. Serves until Ctrl-C or SIGTERM.

    Examples:

      tlslab workshop --fixed

      tlslab workshop --bind 192.0.2.10 --name lab.example.internal --fixed

      tlslab workshop -s expired-server-cert,hostname-mismatch --fixed --json
    """
    from lab.workshop import Options, open_room

    with lab_errors():
        chosen = tuple(x.strip() for item in (scenarios or []) for x in item.split(",") if x.strip())
        if scenarios_dir is not None and not scenarios_dir.is_dir():
            raise UserInputError(f"--scenarios {scenarios_dir}: not a directory. --scenarios is the scenario directory, "
                                 "as in every command; choose scenarios with -s ID (repeatable)")
        if backend not in ("twisted", "nginx"):
            raise UserInputError(f"--backend {backend!r}: choose twisted or nginx")
        if reach := exposure(bind):
            err.print(f"warning: --bind {bind} listens on {reach}:\n  other machines can connect to the lab's "
                      "deliberately broken servers (default: 127.0.0.1).")
        if bind in ("0.0.0.0", "::") and not any(_is_ip(n) for n in names or ()):
            err.print(f"warning: --bind {bind} and no address in --name: the certificates cover no address students "
                      "can reach; add --name with this machine's address (e.g. --name 192.0.2.10).")
        options = Options(scenarios=chosen, names=tuple(names or ()), bind=bind, base_port=base_port, fixed=fixed,
                          backend=backend, state=state, directory=directory, scenarios_dir=scenarios_dir)
        try:
            with open_room(options, on_progress=None if as_json else (lambda m: say(m, err))) as room:
                ready = room.ready_json()
                if as_json:
                    sys.stdout.write(json.dumps(ready) + "\n")
                    sys.stdout.flush()
                else:
                    _print_ready(ready, room.pki.new_root)
                threading.Event().wait()
        except KeyboardInterrupt as exc:
            if not as_json:
                err.print("stopped; nothing left running.")
            raise typer.Exit(interrupted_code(exc)) from None


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _print_ready(ready: dict, new_root: bool) -> None:  # type: ignore[type-arg]
    say(f"workshop ready: {len(ready['exercises'])} exercises, backend {ready['backend']}")
    say(f"  dashboard   {ready['dashboard']}")
    say(f"  instructor  {ready['instructor']}")
    say(f"  CA file     {ready['ca_file']}" + ("  (new: hand it out again)" if new_root else ""))
    say(f"  handout     {ready['handout'][0]}")
    say(f"  progress    {ready['state']}")
    for ex in ready["exercises"]:
        for v in ex["variants"]:
            urls = "  ".join(f"{e['role']} {e['url']}" for e in v["endpoints"])
            say(f"  {ex['name']} {v['variant']:5} {urls}")
    say("Ctrl-C stops everything.")


def answer(
    exercise: Annotated[str, typer.Argument(metavar="EXERCISE", help="The exercise, e.g. exercise-07.")],
    cause: Annotated[str, typer.Argument(metavar="CAUSE", help="The cause: a scenario id (see 'tlslab list').")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Your name, as on the dashboard.")],
    dashboard: Annotated[str, typer.Option("--dashboard", metavar="URL", help="The dashboard's URL.")] = "http://127.0.0.1:8400/",
    as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
) -> None:
    """Submit the cause of a workshop exercise; a wrong answer gets a hint.

    Exits 0 when the answer is right, 1 when it is wrong.

    Example: tlslab answer exercise-07 hostname-mismatch --name alice --dashboard http://192.0.2.10:8400/
    """
    with lab_errors():
        if not dashboard.startswith(("http://", "https://")):
            raise UserInputError(f"--dashboard {dashboard!r}: give the dashboard's URL, e.g. http://127.0.0.1:8400/")
        body = json.dumps({"name": name, "exercise": exercise, "cause": cause}).encode()
        request = urllib.request.Request(dashboard.rstrip("/") + "/api/answer", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise UserInputError(str(message)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EnvironmentError_(f"--dashboard {dashboard}: no workshop dashboard answers there ({reason})") from None
        if as_json:
            sys.stdout.write(json.dumps(result) + "\n")
        elif result.get("correct"):
            say(f"right: {result['cause']['title']}", out)
            if result.get("next"):
                say(f"next: {result['next']}", out)
        else:
            say(f"not that ({result.get('wrong')} wrong so far). Hint: {result.get('hint')}", out)
    if not result.get("correct"):
        raise typer.Exit(1)
