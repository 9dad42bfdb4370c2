"""Helpers for the native integration tests (and the benchmark): where the binaries are, how to
start the server and the clients, the contract's log lines, the process tree, the binary protocol
of lib/proto.h, and synthetic agency data.

Nothing here sleeps to synchronise: every wait polls a condition (a log line, a file, an exit)
against a deadline, and every deadline is multiplied by FACTOR (larger under valgrind)."""

import csv
import ctypes
import datetime
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# environment

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TP0_BIN") or REPO / "build" / "bin").resolve()
VALGRIND = os.environ.get("TP0_VALGRIND", "") not in ("", "0")
FACTOR = float(os.environ.get("TP0_TIMEOUT_FACTOR") or (12 if VALGRIND else 1))
DATASET_ZIP = (REPO / ".." / "shared" / "data" / "dataset.zip").resolve()
POLL_S = 0.02

VALGRIND_CMD = [
    "valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect", "--track-fds=yes", "--trace-children=yes",
    "--child-silent-after-fork=yes",
]

PROGRAMS = ("supervisor", "acceptor", "storage", "client", "agency-gen")

# Environment variables the programs read: never inherited from the caller's shell.
_SCRUB_EXACT = {
    "SERVER_PORT", "SERVER_IP", "SERVER_LISTEN_BACKLOG", "LOGGING_LEVEL", "AGENCIES",
    "MAX_WORKERS", "IDLE_TIMEOUT", "FRAME_TIMEOUT", "BETS_FILE", "FSYNC", "LOG_SETTLE", "NOMBRE",
    "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO", "CLIENT_MODE", "AGENCY_KEYS",
}


def T(seconds):
    """A timeout in seconds, scaled for slow runs (valgrind)."""
    return seconds * FACTOR


def binary(name):
    return BIN / name


def missing_binaries(names=PROGRAMS):
    return [n for n in names if not os.access(binary(n), os.X_OK)]


def wrap(argv):
    return (VALGRIND_CMD + [str(a) for a in argv]) if VALGRIND else [str(a) for a in argv]


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUB_EXACT and not k.startswith("CLI_")}
    env["LC_ALL"] = "C.UTF-8"
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
    return env


def wait_for(predicate, timeout, what, details=None, poll=POLL_S):
    """Polls predicate() until it returns something truthy (which is returned); after timeout
    seconds (scaled here) fails with what and details()."""
    limit = T(timeout)
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = f"timed out after {limit:.1f}s waiting for {what}"
            if details is not None:
                msg += "\n" + details()
            raise AssertionError(msg)
        time.sleep(poll)


# ---------------------------------------------------------------------------------------------
# log lines

_LINE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ([A-Z]+) +action: (.*)$")
_STRICT_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} "
    r"(DEBUG {4}|INFO {5}|WARNING {2}|ERROR {4}|CRITICAL )"
    r"action: [^|\n]+? \| result: (success|fail|in_progress)( \| [^|:\n]+: [^|\n]*)*$")


@dataclass
class Line:
    raw: str
    index: int
    time: str = ""
    level: str = ""
    action: str = ""
    result: str = ""
    keys: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    ok: bool = False

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def matches(self, action=None, result=None, **fields):
        if action is not None and self.action != action:
            return False
        if result is not None and self.result != result:
            return False
        for k, v in fields.items():
            if self.fields.get(k) != str(v):
                return False
        return True

    def __str__(self):
        return self.raw


def parse_line(raw, index=0):
    line = Line(raw=raw, index=index)
    m = _LINE_RE.match(raw)
    if not m:
        return line
    line.time, line.level = m.group(1), m.group(2)
    parts = m.group(3).split(" | ")
    line.action = parts[0]
    if len(parts) < 2 or not parts[1].startswith("result: "):
        return line
    line.result = parts[1][len("result: "):]
    for part in parts[2:]:
        key, sep, value = part.partition(": ")
        if not sep:
            key, _, value = part.partition(":")
            value = value.lstrip(" ")
        line.keys.append(key)
        line.fields[key] = value
    line.ok = True
    return line


def strict_format_ok(raw):
    """The contract's exact layout: level padded to 8 then a space, result one of three."""
    return bool(_STRICT_RE.match(raw))


class LogFile:
    """A file that one or more processes append log lines to; read incrementally."""

    def __init__(self, path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""
        self._lines = []

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self._lines
        if data:
            self._offset += len(data)
            data = self._partial + data
            chunks = data.split(b"\n")
            self._partial = chunks.pop()
            for chunk in chunks:
                text = chunk.decode("utf-8", errors="replace")
                self._lines.append(parse_line(text, len(self._lines)))
        return self._lines

    def find(self, action=None, result=None, **fields):
        return [ln for ln in self.lines() if ln.ok and ln.matches(action, result, **fields)]

    def first(self, action=None, result=None, **fields):
        found = self.find(action, result, **fields)
        return found[0] if found else None

    def malformed(self):
        return [ln for ln in self.lines() if not ln.ok]

    def fails(self):
        return [ln for ln in self.lines() if ln.ok and ln.result == "fail"]

    def tail(self, n=40):
        lines = self.lines()
        text = "\n".join(ln.raw for ln in lines[-n:])
        if self._partial:
            text += "\n" + self._partial.decode("utf-8", errors="replace") + "  <no newline>"
        return text


def read_text(path, limit=20000):
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


# ---------------------------------------------------------------------------------------------
# processes

@dataclass
class Stat:
    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int


def read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    lp, rp = data.find("("), data.rfind(")")
    rest = data[rp + 2:].split()
    return Stat(pid, data[lp + 1:rp], rest[0], int(rest[1]), int(rest[2]))


def all_stats():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None:
                out[st.pid] = st
    return out


def alive(pid):
    st = read_stat(pid)
    return st is not None and st.state not in ("Z", "X")


def stopped(pid):
    """Whether every thread of pid is stopped (SIGSTOP takes effect some time after kill())."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    states = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                data = f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        states.append(data[data.rfind(")") + 2:].split()[0])
    return bool(states) and all(st in ("T", "t") for st in states)


def sigstop(pid, timeout=10):
    """SIGSTOPs pid and waits until all of its threads have stopped."""
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: stopped(pid), timeout, f"pid {pid} stopped")


def descendants(root):
    stats = all_stats()
    children = {}
    for st in stats.values():
        children.setdefault(st.ppid, []).append(st.pid)
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def vm_hwm_kib(pid):
    """Peak resident set of a live process, in KiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def become_subreaper():
    """Orphans of the programs under test are reparented to us instead of init, so a process
    left behind can be seen (and killed) instead of vanishing from view."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except OSError:
        return False


# Every process a test starts, so the leftover check can tell our children from orphans.
STARTED = []
OWN_PIDS = set()


def orphans():
    """Processes reparented to us (they outlived their parent): pid -> Stat."""
    me = os.getpid()
    return {pid: st for pid, st in all_stats().items() if st.ppid == me and pid not in OWN_PIDS}


def reap_orphans():
    """Kills and reaps every orphan; returns descriptions of those that were still running and
    of those that had already exited (zombies)."""
    found = []
    for pid, st in orphans().items():
        if st.state not in ("Z", "X"):
            found.append(f"pid {pid} ({st.comm}) still running")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            found.append(f"pid {pid} ({st.comm}) exited after its parent")
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return found


class Proc:
    """One program started by a test: stdout and stderr go to files in logdir."""

    def __init__(self, name, argv, cwd, env, logdir, wrap_cmd=True):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.cwd = Path(cwd)
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        self.out_path = logdir / f"{name}.out"
        self.err_path = logdir / f"{name}.err"
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            cmd = wrap(self.argv) if wrap_cmd else self.argv
            self.popen = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=out,
                                          stderr=err, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.pid = self.popen.pid
        self.started = time.monotonic()
        self.log = LogFile(self.out_path)
        OWN_PIDS.add(self.pid)
        STARTED.append(self)

    # --- state
    def running(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def signal(self, signo):
        if self.running():
            os.kill(self.pid, signo)

    def wait(self, timeout, what=None):
        """Waits for the exit (scaled timeout); returns the exit code or fails."""
        try:
            return self.popen.wait(timeout=T(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{what or self.name} did not exit within {T(timeout):.1f}s\n"
                                 + self.describe()) from None

    def wait_line(self, timeout, action=None, result=None, count=1, **fields):
        """Waits until count lines match; returns the first of them."""
        def check():
            found = self.log.find(action, result, **fields)
            return found if len(found) >= count else None
        desc = f"{count} x 'action: {action} | result: {result} {fields or ''}' in {self.name}"
        return wait_for(check, timeout, desc, self.describe)[0]

    def stderr(self):
        return read_text(self.err_path)

    def valgrind_errors(self):
        return [ln for ln in self.stderr().splitlines() if re.match(r"^==\d+==", ln)]

    def describe(self, n=40):
        text = f"--- {self.name} (pid {self.pid}, rc {self.returncode}) stdout tail:\n"
        text += self.log.tail(n)
        err = self.stderr().strip()
        if err:
            text += f"\n--- {self.name} stderr:\n" + err[-4000:]
        return text

    def kill(self):
        if self.running():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=T(10))
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self):
        self.kill()


# ---------------------------------------------------------------------------------------------
# the server

SERVER_DEFAULTS = {
    "SERVER_PORT": 0,
    "SERVER_IP": "127.0.0.1",
    "SERVER_LISTEN_BACKLOG": 5,
    "LOGGING_LEVEL": "INFO",
    "AGENCIES": 1,
    "MAX_WORKERS": 64,
    "IDLE_TIMEOUT": "10s",
    "BETS_FILE": "bets.csv",
}


def write_server_ini(path, values):
    lines = ["[DEFAULT]"] + [f"{k} = {v}" for k, v in values.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def scaled_duration(seconds):
    """A Go duration for a config value that must grow under valgrind."""
    ms = int(round(T(seconds) * 1000))
    return f"{ms}ms"


class Server(Proc):
    """The supervisor with its storage and acceptor, in its own working directory."""

    def __init__(self, workdir, config=None, env=None, name="server", write_config=True,
                 config_path=None, extra_args=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.values = dict(SERVER_DEFAULTS)
        self.values.update(config or {})
        self.config_path = Path(config_path) if config_path else self.dir / "config.ini"
        if write_config:
            write_server_ini(self.config_path, self.values)
        # A short private TMPDIR: the storage socket path must stay under 108 bytes.
        self.tmpdir = Path(tempfile.mkdtemp(prefix="tp0t-", dir="/tmp"))
        env_all = {"TMPDIR": str(self.tmpdir)}
        env_all.update(env or {})
        argv = [binary("supervisor"), "--config", self.config_path] + list(extra_args or [])
        super().__init__(name, argv, self.dir, clean_env(env_all), self.dir)
        self.port = None
        self.tree = set()
        self.forced = False

    # --- start
    def wait_listening(self, timeout=10):
        def check():
            if not self.running():
                raise AssertionError(f"server exited ({self.returncode}) before listening\n"
                                     + self.describe())
            return self.log.first("listen", "success")
        line = wait_for(check, timeout, "the acceptor's listen line", self.describe)
        self.port = int(line.get("port"))
        return self.port

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def child_pid(self, name):
        """The pid of the child's latest start (the supervisor restarts children that die)."""
        pids = self.child_pids(name)
        return pids[-1] if pids else None

    def child_pids(self, name):
        """Every pid the child has had, in order of starting."""
        return [int(ln.get("pid")) for ln in self.log.find("child_start", "success", name=name)]

    def wait_restarted(self, name, old_pid, timeout=10):
        """Waits for a child_start of name with a pid other than old_pid; returns the new pid."""
        def check():
            if not self.running():
                raise AssertionError(f"server exited ({self.returncode}) instead of restarting "
                                     f"{name}\n" + self.describe())
            pid = self.child_pid(name)
            return pid if pid not in (None, old_pid) else None
        return wait_for(check, timeout, f"{name} restarted", self.describe)

    def known_pids(self):
        pids = set()
        for ln in self.log.find("child_start", "success"):
            pids.add(int(ln.get("pid")))
        for ln in self.log.find("worker_start", "success"):
            pids.add(int(ln.get("pid")))
        return pids

    def snapshot(self):
        """Remembers every process of the server's tree as it is now."""
        if self.running():
            self.tree |= descendants(self.pid)
        self.tree |= self.known_pids()
        return set(self.tree)

    # --- stop
    def stop(self, timeout=2, signo=signal.SIGTERM):
        """Signals the supervisor and waits for its exit: the exit code."""
        self.snapshot()
        t0 = time.monotonic()
        self.signal(signo)
        rc = self.wait(timeout, f"supervisor after signal {signo}")
        self.stop_seconds = time.monotonic() - t0
        return rc

    def leftovers(self):
        """Processes of this server's tree still running (the supervisor must have exited)."""
        pids = (self.tree | self.known_pids()) - {self.pid}
        return sorted(p for p in pids if alive(p))

    def assert_all_gone(self):
        assert not self.running(), "supervisor still running\n" + self.describe()
        left = self.leftovers()
        assert not left, (f"server processes left running: "
                          f"{[(p, read_stat(p)) for p in left]}\n" + self.describe())
        runs = list(self.tmpdir.glob("tp0-*"))
        assert not runs, f"runtime dir(s) left behind: {runs}"

    def bets_path(self):
        p = Path(self.values.get("BETS_FILE", "bets.csv"))
        return p if p.is_absolute() else self.dir / p

    def cleanup(self):
        if self.running():
            # A test that left its server running: stop it as a user would. Whatever outlives
            # a graceful stop is then a real leftover for the orphan check.
            self.snapshot()
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=T(8))
            except subprocess.TimeoutExpired:
                self._force_kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def kill_tree(self):
        """SIGKILL to the whole tree on purpose, as a crash of the machine would end it (unlike
        a stop that had to be forced, not a failure of the test)."""
        self._force_kill()
        self.forced = False

    def _force_kill(self):
        """SIGKILL to the whole tree; the orphans that this makes are reaped here, since they
        are our doing, not the programs'."""
        self.snapshot()
        for name in ("storage", "acceptor"):
            pid = self.child_pid(name)
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid in self.tree | self.known_pids():
            if pid != self.pid and alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.kill()
        self.forced = True
        me = os.getpid()
        for pid in self.tree - {self.pid}:
            st = read_stat(pid)
            if st is not None and st.ppid == me:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass


def start_server(workdir, config=None, env=None, wait=True, **kw):
    srv = Server(workdir, config, env, **kw)
    if wait:
        srv.wait_listening()
    return srv


# ---------------------------------------------------------------------------------------------
# clients

def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a YAML double-quoted scalar


def to_yaml(d, indent=0):
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(" " * indent + f"{k}:")
            out.append(to_yaml(v, indent + 2))
        elif v is not None:
            out.append(" " * indent + f"{k}: {_yaml_scalar(v)}")
    return "\n".join(x for x in out if x)


def client_config(id, address, mode="echo", amount=1, period="50ms", level="INFO",
                  max_amount=None, bets_file=None, timeout="10s", attempts=5,
                  draw_timeout="120s"):
    return {
        "id": id,
        "server": {"address": address, "timeout": timeout},
        "loop": {"amount": amount, "period": period},
        "log": {"level": level},
        "batch": {"maxAmount": max_amount} if max_amount is not None else None,
        "mode": mode,
        "bets": {"file": bets_file} if bets_file is not None else None,
        "retry": {"attempts": attempts},
        "draw": {"timeout": draw_timeout},
    }


class Client(Proc):
    def __init__(self, workdir, config, env=None, name=None, raw_yaml=None, config_path=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.config_path = Path(config_path) if config_path else self.dir / "config.yaml"
        if raw_yaml is not None:
            self.config_path.write_text(raw_yaml)
        elif config is not None:
            self.config_path.write_text(to_yaml({k: v for k, v in config.items()
                                                 if v is not None}) + "\n")
        cid = config.get("id") if config else "x"
        super().__init__(name or f"client{cid}", [binary("client"), "--config", self.config_path],
                         self.dir, clean_env(env), self.dir)


def start_client(workdir, id, address, env=None, name=None, **cfg):
    return Client(workdir, client_config(id, address, **cfg), env=env, name=name)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tool(argv, cwd, timeout=60, env=None):
    """Runs a short program to its end: CompletedProcess with text stdout/stderr."""
    return subprocess.run(wrap(argv), cwd=cwd, env=clean_env(env), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=T(timeout))


# ---------------------------------------------------------------------------------------------
# the binary protocol (lib/proto.h)

MAGIC, VERSION, HEADER = 0xFE, 1, 8
FRAME_MAX, PAYLOAD_MAX = 8192, 8192 - 8
T_BET, T_BATCH, T_DONE, T_QUERY = 0x01, 0x02, 0x03, 0x04
T_ACK, T_REJECT, T_WINNERS, T_ERROR = 0x81, 0x82, 0x83, 0x84
T_HELLO, T_AUTH, T_CHALLENGE = 0x05, 0x06, 0x85
TYPE_NAMES = {T_BET: "BET", T_BATCH: "BATCH", T_DONE: "DONE", T_QUERY: "WINNERS_QUERY",
              T_ACK: "ACK", T_REJECT: "REJECT", T_WINNERS: "WINNERS", T_ERROR: "ERROR",
              T_HELLO: "HELLO", T_AUTH: "AUTH", T_CHALLENGE: "CHALLENGE"}
E_VERSION, E_TYPE, E_TOO_LARGE, E_TRUNCATED, E_MALFORMED = 1, 2, 3, 4, 5
E_INVALID_BET, E_AGENCY, E_SEQUENCE, E_TOTAL, E_SHUTTING_DOWN = 6, 7, 8, 9, 10
E_STORAGE, E_TIMEOUT, E_BAD_MAGIC, E_CONFLICT, E_AUTH = 11, 12, 13, 14, 15
E_DIGEST, E_SESSION = 16, 17
WINNER_NUMBER = 7574
BATCH_DEFAULT = 430  # PROTO_BATCH_DEFAULT = PROTO_BATCH_LIMIT: (8192 - 8 - 10) / 19
BATCH_HEADER = 8 + 10  # frame header, then agency, seq and count


@dataclass(frozen=True)
class Bet:
    first_name: str
    last_name: str
    document: str
    birthdate: str
    number: int

    def row(self):
        return [self.first_name, self.last_name, self.document, self.birthdate, str(self.number)]


def pstr(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    assert len(b) <= 255
    return bytes([len(b)]) + b


def enc_bet(bet):
    return (pstr(bet.first_name) + pstr(bet.last_name) + pstr(bet.document)
            + pstr(bet.birthdate) + struct.pack(">H", bet.number))


def frame(ftype, payload, magic=MAGIC, version=VERSION, reserved=0, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">BBBBI", magic, version, ftype, reserved, n) + payload


def batch_payload(agency, seq, bets, count=None):
    n = len(bets) if count is None else count
    return struct.pack(">IIH", agency, seq, n) + b"".join(enc_bet(b) for b in bets)


def batch_frame(agency, seq, bets, count=None):
    return frame(T_BATCH, batch_payload(agency, seq, bets, count))


def bet_frame(agency, bet):
    return frame(T_BET, struct.pack(">I", agency) + enc_bet(bet))


def bets_digest(bets):
    """lib/digest.h: BLAKE2b-256 of the bets' wire encodings, in order (what DONE carries)."""
    d = hashlib.blake2b(digest_size=32)
    for b in bets:
        d.update(enc_bet(b))
    return d.digest()


def done_frame(agency, total, bets=(), digest=None):
    """DONE with the digest of bets, the agency's acknowledged bets in order (or digest)."""
    return frame(T_DONE, struct.pack(">II", agency, total)
                 + (digest if digest is not None else bets_digest(bets)))


def query_frame(agency, offset=0):
    return frame(T_QUERY, struct.pack(">II", agency, offset))


def ack_frame(seq, count):
    return frame(T_ACK, struct.pack(">II", seq, count))


def hello_frame(agency):
    return frame(T_HELLO, struct.pack(">I", agency))


def auth_frame(mac):
    return frame(T_AUTH, bytes(mac))


AUTH_LABEL = b"tp0 agency auth v1"  # lib/auth.c


def auth_mac(key, agency, nonce):
    """libsodium's crypto_auth (HMAC-SHA-512 cut to 32 bytes) of what lib/auth.c covers."""
    msg = AUTH_LABEL + struct.pack(">I", agency) + bytes(nonce)
    return hmac.new(bytes(key), msg, hashlib.sha512).digest()[:32]


def new_keys(agencies):
    """{agency: 32 random bytes}."""
    return {a: os.urandom(32) for a in range(1, agencies + 1)}


def write_keys_file(path, keys):
    Path(path).write_text("".join(f"{a}:{k.hex()}\n" for a, k in sorted(keys.items())))
    return Path(path)


class ProtocolError(AssertionError):
    pass


def _read_str(payload, pos):
    n = payload[pos]
    s = payload[pos + 1:pos + 1 + n]
    if len(s) != n:
        raise ProtocolError(f"string runs past the payload: {payload!r}")
    return s.decode("utf-8", errors="replace"), pos + 1 + n


def decode_reply(ftype, payload):
    """A server reply as a dict (type name plus its fields)."""
    d = {"type": TYPE_NAMES.get(ftype, f"0x{ftype:02x}"), "raw": payload}
    try:
        if ftype == T_ACK:
            d["seq"], d["count"] = struct.unpack(">II", payload)
        elif ftype == T_REJECT:
            d["code"], d["index"] = struct.unpack(">BH", payload[:3])
            d["reason"], end = _read_str(payload, 3)
            assert end == len(payload), "trailing bytes"
        elif ftype == T_ERROR:
            d["code"] = payload[0]
            d["reason"], end = _read_str(payload, 1)
            assert end == len(payload), "trailing bytes"
        elif ftype == T_CHALLENGE:
            assert len(payload) == 32, "a nonce is 32 bytes"
            d["nonce"] = payload
        elif ftype == T_WINNERS:
            d["total"], d["offset"], d["count"] = struct.unpack(">IIH", payload[:10])
            pos, docs = 10, []
            for _ in range(d["count"]):
                doc, pos = _read_str(payload, pos)
                docs.append(doc)
            assert pos == len(payload), "trailing bytes"
            d["documents"] = docs
    except (struct.error, IndexError, AssertionError) as e:
        raise ProtocolError(f"malformed {d['type']} reply {payload!r}: {e}") from None
    return d


def recv_exact(sock, n):
    """n bytes from sock, or fewer if the peer closed first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


def assert_ack(reply, seq, count=None):
    """reply is ACK(seq[, count])."""
    assert reply["type"] == "ACK" and reply["seq"] == seq, reply
    assert count is None or reply["count"] == count, reply


class Peer:
    """A raw TCP connection speaking frames (or bytes) to the server."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T(timeout))
        self.timeout = T(timeout)

    def send(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        return recv_exact(self.sock, n)

    def read_frame(self):
        """(type, payload), or None when the server closed cleanly before a frame."""
        self.sock.settimeout(self.timeout)
        head = self._recv_exact(HEADER)
        if not head:
            return None
        if len(head) < HEADER:
            raise ProtocolError(f"connection closed inside a reply header: {head!r}")
        magic, version, ftype, reserved, length = struct.unpack(">BBBBI", head)
        if magic != MAGIC or version != VERSION or reserved != 0 or length > PAYLOAD_MAX:
            raise ProtocolError(f"bad reply header {head!r}")
        payload = self._recv_exact(length)
        if len(payload) < length:
            raise ProtocolError(f"connection closed inside a reply payload ({len(payload)}"
                                f"/{length})")
        return ftype, payload

    def reply(self):
        try:
            got = self.read_frame()
        except ConnectionResetError:
            raise ProtocolError("connection reset before any reply") from None
        except socket.timeout:
            raise ProtocolError(f"no reply within {self.timeout:.1f}s") from None
        if got is None:
            raise ProtocolError("server closed the connection without a reply")
        return decode_reply(*got)

    def request(self, data):
        self.send(data)
        return self.reply()

    def closed_by_server(self, timeout=5):
        """True once the server has closed (EOF or reset) within timeout; extra bytes fail."""
        self.sock.settimeout(T(timeout))
        try:
            data = self.sock.recv(4096)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        if data:
            raise ProtocolError(f"unexpected bytes after the last reply: {data!r}")
        return True

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_until_eof(sock, timeout):
    """All bytes until the peer closes (a reset counts as a close)."""
    sock.settimeout(T(timeout))
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "timeout"
        if not chunk:
            return data, "eof"
        data += chunk


# ---------------------------------------------------------------------------------------------
# agency data

_FIRST = ["Santiago Lionel", "Agustin", "Camila Rocio", "Tiago Nicolás", "María José", "Diego",
          "Kiara", "Marcos Nahuel", "Lucía", "Joaquín", "Ana", "Iñaki"]
_LAST = ["Lorca", "Zambrano", "Rivera", "Varela", "Mamani", "Rotman", "Peña", "Gómez",
         "Fernández", "Muñoz", "O'Neill", "Di María"]


def make_bets(agency, rows, winners, seed=1, odd_names=False):
    """rows deterministic valid bets for an agency, exactly `winners` of them with the winning
    number, every document unique across agencies. odd_names adds names that need CSV quoting."""
    assert winners <= rows
    rng = random.Random(seed * 7919 + agency)
    win_at = set(rng.sample(range(rows), winners))
    bets = []
    for i in range(rows):
        number = rng.randrange(0, 10000)
        if i in win_at:
            number = WINNER_NUMBER
        elif number == WINNER_NUMBER:
            number = 7573
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if odd_names and i % 3 == 0:
            first, last = 'Juan "Pepe", Jr', "Pérez, de la Torre"
        bets.append(Bet(first, last, str(20_000_000 + agency * 100_000 + i),
                        f"{rng.randrange(1940, 2006)}-{rng.randrange(1, 13):02d}-"
                        f"{rng.randrange(1, 29):02d}", number))
    return bets


def write_agency_csv(path, bets, crlf=False):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")
        for b in bets:
            w.writerow(b.row())
    return Path(path)


def read_agency_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [Bet(r[0], r[1], r[2], r[3], int(r[4])) for r in csv.reader(f) if r]


def read_bets_csv(path):
    """bets.csv as (agency, Bet) pairs; fails on any row that is not the contract's format."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for n, r in enumerate(csv.reader(f), 1):
            assert len(r) == 6, f"{path}:{n}: {len(r)} fields: {r!r}"
            assert r[0].isdigit() and 1 <= int(r[0]) <= 9999, f"{path}:{n}: agency {r[0]!r}"
            assert r[5].isdigit() and 0 <= int(r[5]) <= 9999, f"{path}:{n}: number {r[5]!r}"
            assert re.fullmatch(r"\d{1,10}", r[3]), f"{path}:{n}: document {r[3]!r}"
            datetime.date.fromisoformat(r[4])
            assert r[1] and r[2], f"{path}:{n}: empty name in {r!r}"
            out.append((int(r[0]), Bet(r[1], r[2], r[3], r[4], int(r[5]))))
    return out


def by_agency(rows):
    out = {}
    for agency, bet in rows:
        out.setdefault(agency, []).append(bet)
    return out


def agency_gen(path, rows, winners, seed, cwd=None, agency=None):
    argv = [binary("agency-gen"), "--rows", rows, "--winners", winners, "--seed", seed,
            "--output", path]
    if agency is not None:
        argv += ["--agency", agency]
    res = run_tool(argv, cwd or Path(path).parent, timeout=120)
    assert res.returncode == 0, (f"agency-gen failed ({res.returncode}):\n"
                                 f"{res.stdout.decode(errors='replace')}\n"
                                 f"{res.stderr.decode(errors='replace')}")
    return Path(path)


def unzip_dataset(dest):
    import zipfile
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(DATASET_ZIP) as z:
        for info in z.infolist():
            name = Path(info.filename).name
            if name.endswith(".csv"):
                (dest / name).write_bytes(z.read(info))
    return dest
