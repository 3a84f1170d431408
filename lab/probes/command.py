"""Your own client as a probe: any command, run once per check, judged by its exit status and words.

``--probe-cmd 'ours=python our_client.py {url} --servername {servername} --ca {ca_file}'`` adds a
probe named ``ours``. Before each check the placeholders are filled in:

    {url}          https://127.0.0.1:PORT/ : connect here (no name resolution needed) ...
    {servername}   ... and send/verify this name (SNI and hostname check), e.g. api.lab.test
    {name_url}     https://SERVERNAME:PORT/ : for clients that can map a name to 127.0.0.1 (curl --resolve)
    {host} {port}  the address to connect to
    {ca_file}      the trust anchor the scenario's client uses (a PEM file)
    {client_cert} {client_key}  2-way scenarios: the client certificate (with its chain) and key; else ""

The same values are in the environment as ``TLSLAB_URL``, ``TLSLAB_SERVERNAME``, ..., and the phase's
client settings (the fault's ``sni``, ``max_protocol``, ``ciphers``, ...) as JSON in ``TLSLAB_CLIENT``,
for a client that can be configured to reproduce a client-side fault. Exit status 0
means the client succeeded. Anything else is a failure, and what the command printed (stderr and
stdout) goes through the one table (:func:`lab.symptoms.normalise`) to a symptom, compared with the
scenario's expectation like every other probe's. The outcome says so (``judged_by``): the verdict
"failed" is the command's own, the symptom is the lab's reading of its words.

The command is split like a shell would (``shlex``) but not run through a shell: placeholders are
filled per argument, so a path with spaces stays one argument. Use ``sh -c '...'`` for pipes.
"""

from __future__ import annotations

import json
import os
import shlex
import string
import time

from lab.errors import UserInputError
from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, which
from lab.probes.cli_tool import run_tool
from lab.specs import ClientSpec, spec_as_dict
from lab.symptoms import OK, normalise

PLACEHOLDERS = ("url", "name_url", "host", "port", "servername", "ca_file", "client_cert", "client_key")
GRACE = 10.0  # seconds beyond the spec's timeout: a team's client may start a runtime (a JVM) first
MAX_OUTPUT = 4000  # characters of output kept as the raw message
JUDGED_BY = "its exit status (0 = success); the symptom from its words via lab/symptoms.py"


def placeholders(target: Target, files: ClientFiles) -> dict[str, str]:
    """The values a command's placeholders stand for at this check."""
    return {
        "url": f"https://{target.host}:{target.port}/", "name_url": f"https://{target.servername}:{target.port}/",
        "host": target.host, "port": str(target.port), "servername": target.servername,
        "ca_file": str(files.ca_file), "client_cert": str(files.cert_file or ""),
        "client_key": str(files.key_file or ""),
    }


class CommandProbe(ProbeBase):
    """A probe that runs `template` (see the module docstring) per check."""

    description = "your own command (--probe-cmd)"

    def __init__(self, name: str, template: str) -> None:
        self.name = name
        self.template = template
        try:
            self.argv = shlex.split(template)
        except ValueError as exc:
            raise UserInputError(f"--probe-cmd {name}: cannot split the command: {exc}") from None
        if not self.argv:
            raise UserInputError(f"--probe-cmd {name}: the command is empty")
        for arg in self.argv:
            for _, field, _, _ in string.Formatter().parse(arg):
                if field is not None and field not in PLACEHOLDERS:
                    raise UserInputError(f"--probe-cmd {name}: unknown placeholder {{{field}}}; "
                                         f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)} "
                                         "(write {{ and }} for literal braces)")

    def unavailable_reason(self) -> str | None:
        program = self.argv[0]
        if os.sep in program:
            return None if os.access(program, os.X_OK) else f"{program} is not an executable file"
        return None if which(program) else f"'{program}' is not on PATH"

    def command(self, target: Target, files: ClientFiles) -> list[str]:
        values = placeholders(target, files)
        return [arg.format(**values) for arg in self.argv]

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        values = placeholders(target, files)
        env = {**os.environ, **{f"TLSLAB_{k.upper()}": v for k, v in values.items()},
               "TLSLAB_CLIENT": json.dumps(spec_as_dict(spec))}
        result = run_tool(self.command(target, files), timeout=spec.timeout + GRACE, env=env)
        elapsed = time.monotonic() - started
        words = (result.stderr + "\n" + result.stdout.decode("utf-8", "replace")).strip()[-MAX_OUTPUT:]
        if result.returncode is None:
            return Outcome(self.name, normalise("timed out"), f"killed after {spec.timeout + GRACE:g}s (timed out): "
                           f"{words}", elapsed=elapsed, judged_how=JUDGED_BY)
        if result.returncode == 0:
            return Outcome(self.name, OK, f"exit status 0: {words.splitlines()[0] if words else '(no output)'}",
                           elapsed=elapsed, judged_how=JUDGED_BY)
        return Outcome(self.name, normalise(words), f"exit status {result.returncode}: {words or '(no output)'}",
                       elapsed=elapsed, judged_how=JUDGED_BY)


def parse_probe_cmds(values: list[str] | None, taken: list[str]) -> list[CommandProbe]:
    """``--probe-cmd NAME=COMMAND`` values -> probes; names must be new and unique."""
    probes: list[CommandProbe] = []
    for value in values or []:
        name, sep, template = value.partition("=")
        name = name.strip()
        if not sep or not name or not template.strip() or " " in name:
            raise UserInputError(f"--probe-cmd {value!r}: write NAME=COMMAND, e.g. "
                                 "'ours=python our_client.py {url} --servername {servername} --ca {ca_file}'")
        if name in taken or any(p.name == name for p in probes):
            raise UserInputError(f"--probe-cmd {name}: the name is already taken by another client; choose another")
        from lab.probes import PROBES
        if name in PROBES:  # the scenario files' expectations for that probe would apply to this command
            raise UserInputError(f"--probe-cmd {name}: {name!r} is one of the lab's own probes (its expectations "
                                 f"would be used); choose another name, e.g. 'my-{name}'")
        probes.append(CommandProbe(name, template.strip()))
    return probes
