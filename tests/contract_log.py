"""The contract's log lines (docs/CONTRACT.md, "Log lines") as data, and a checker, for the native
integration tests and the docker e2e tests alike. Plain Python, no dependency on either harness:
import it with `tests/` on sys.path.

CONTRACT_ACTIONS[action][party][result] is the tuple of keys that follow `result`, in order. A
contract action may be logged only by a party listed for it, only with a result listed for that
party, and then with exactly those keys (at every log level). Every other action is the
project's own and may carry any keys. The parties are the server (every process of the server:
supervisor, storage, acceptor and its workers share its stdout), a client, and the echo check
(validar-echo-server.sh), whose verdict is the course's bare `action: … | result: …` line.
"""

import re
from dataclasses import dataclass, field

SERVER, CLIENT, ECHO_CHECK = "server", "client", "echo check"
PARTIES = (SERVER, CLIENT, ECHO_CHECK)

CONTRACT_ACTIONS = {
    "config": {
        SERVER: {"success": ("port", "listen_backlog", "logging_level")},
        CLIENT: {"success": ("client_id", "server_address", "loop_amount", "loop_period",
                             "log_level")},
    },
    "accept_connections": {
        SERVER: {"in_progress": (), "success": ("ip",)},
    },
    "receive_message": {
        SERVER: {"success": ("ip", "msg")},
        CLIENT: {"success": ("client_id", "msg")},
    },
    "loop_finished": {
        CLIENT: {"success": ("client_id",)},
    },
    "apuesta_almacenada": {
        SERVER: {"success": ("dni", "numero")},
    },
    "apuesta_enviada": {
        CLIENT: {"success": ("dni", "numero")},
    },
    "apuesta_recibida": {
        SERVER: {"success": ("cantidad",), "fail": ("cantidad",)},
    },
    "sorteo": {
        SERVER: {"success": ()},
    },
    "consulta_ganadores": {
        CLIENT: {"success": ("cant_ganadores",)},
    },
    "test_echo_server": {
        ECHO_CHECK: {"success": (), "fail": ()},
    },
}

# What the contract's values look like, where that is fixed.
_NUMBER = r"\d+"
_LEVEL = r"DEBUG|INFO|WARNING|ERROR|CRITICAL"
CONTRACT_VALUES = {
    "port": _NUMBER, "listen_backlog": _NUMBER, "logging_level": _LEVEL,
    "client_id": _NUMBER, "loop_amount": _NUMBER, "log_level": _LEVEL,
    "dni": r"\d{1,10}", "numero": _NUMBER, "cantidad": _NUMBER, "cant_ganadores": _NUMBER,
    "ip": r"[0-9A-Fa-f.:]+",
}

RESULTS = ("success", "fail", "in_progress")

# `YYYY-MM-DD HH:MM:SS LEVEL    action: …`: the level padded to 8 and one space, as Python's
# "%(asctime)s %(levelname)-8s %(message)s".
LINE_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) "
    r"(?P<level>DEBUG   |INFO    |WARNING |ERROR   |CRITICAL) (?P<message>action: .*)$")
# The echo check's verdict, exactly as the course's script printed it.
BARE_RE = re.compile(r"^(?P<message>action: .*)$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class LogLine:
    raw: str
    level: str = ""
    action: str = ""
    result: str = ""
    keys: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)


def parse(raw, party=SERVER):
    """The line as a LogLine, or a string saying why it is not in the contract's format."""
    m = (BARE_RE if party == ECHO_CHECK else LINE_RE).match(raw)
    if not m:
        return "not `YYYY-MM-DD HH:MM:SS LEVEL    action: …` (level padded to 8)" \
            if party != ECHO_CHECK else "not `action: … | result: …`"
    line = LogLine(raw=raw, level=(m.groupdict().get("level") or "").strip())
    parts = m.group("message").split(" | ")
    line.action = parts[0][len("action: "):]
    if not NAME_RE.match(line.action):
        return f"action {line.action!r} is not a snake_case name"
    if len(parts) < 2 or not parts[1].startswith("result: "):
        return "no `result: …` right after the action"
    line.result = parts[1][len("result: "):]
    if line.result not in RESULTS:
        return f"result {line.result!r} is none of {', '.join(RESULTS)}"
    for part in parts[2:]:
        key, sep, value = part.partition(": ")
        if not sep or not NAME_RE.match(key):
            return f"field {part!r} is not `key: value`"
        if key in line.fields:
            return f"key {key!r} twice"
        line.keys.append(key)
        line.fields[key] = value
    return line


def violation(party, raw):
    """None when the line keeps the contract for that party, else why it does not."""
    line = parse(raw, party)
    if isinstance(line, str):
        return line
    owners = CONTRACT_ACTIONS.get(line.action)
    if owners is None:
        return None  # a project action: any keys
    if party not in owners:
        return (f"{line.action} is logged by {' and '.join(owners)} only, not by the {party}")
    allowed = owners[party]
    if line.result not in allowed:
        return (f"{line.action} from the {party} is only `result: "
                f"{' or '.join(allowed)}`; other results need a project action")
    want = list(allowed[line.result])
    if line.keys != want:
        return (f"{line.action} | result: {line.result} from the {party} takes exactly "
                f"{want or 'no keys'}, got {line.keys}")
    for key in want:
        pattern = CONTRACT_VALUES.get(key)
        if pattern and not re.fullmatch(pattern, line.fields[key]):
            return f"{key}: {line.fields[key]!r} does not look like /{pattern}/"
    return None


def violations(party, text, name=None):
    """Every line of one process's stdout that breaks the contract, as readable strings. text
    is the whole output; a last line without its newline is itself a violation."""
    label = name or party
    out = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        out.append(f"{label}: last line has no newline: {lines[-1]!r}")
    for raw in lines:
        why = violation(party, raw)
        if why:
            out.append(f"{label}: {why}:\n    {raw}")
    return out
