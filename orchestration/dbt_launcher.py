#!/usr/bin/env python3
"""dbt, tied to the life of the salesdw run that starts it (the dbt resource's `dbt_executable`).

dagster-dbt runs dbt as a child process. When the run dies without cleaning up (SIGKILL, the OOM
killer), an orphaned dbt would go on writing the build warehouse underneath the next run. On Linux
this launcher asks the kernel to SIGKILL dbt as soon as its parent dies, then becomes dbt (exec:
same process). Standard library only; the real dbt comes from SALESDW_DBT_EXECUTABLE.

dbt is started the way its own script starts it (`from dbt.cli.main import cli`), by the same
interpreter, with one difference: Python's garbage collector is off while dbt imports and the
imported objects are then frozen (`gc.freeze()`), so the full collections during the build stop
rescanning them (0.84 s of collections in a scale-10 build -> 0.52 s, and a faster import; the
dbt step 11.4-11.9 s -> 10.1-10.4 s). The same policy as the salesdw CLI (orchestration/gc_policy.py):
dbt is a process that runs one command and exits. When dbt is not a Python script (no
`#!/.../python` line), it is executed as it is.

A warm start takes dbt's import off the run's critical path: importing dbt and its adapter costs
about 2.5 s before dbt prints a line, while the first seconds of a run (importing Dagster,
ingesting) leave the second core idle. So `salesdw run` starts a warm dbt at once (`warm_dbt`):
a process of this script (`--salesdw-serve-warm`) that imports dbt, listens on an abstract Unix
socket named in SALESDW_DBT_WARM, and runs one dbt command for the first launcher of the same user
that connects. The launcher then hands over its command, environment, working directory and
standard streams (`hand_over`), relays SIGINT/SIGTERM and exits with dbt's exit code, so to
dagster-dbt it is dbt as before. The warm dbt dies with the run (PR_SET_PDEATHSIG) and with its
launcher (it exits when the launcher's connection closes); without it, or when it is taken, or
with SALESDW_DBT_WARM_START=0, the launcher starts dbt cold as above.
"""

import contextlib
import ctypes
import gc
import importlib
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback

LAUNCHER = os.path.abspath(__file__)
DBT_EXECUTABLE_ENV = "SALESDW_DBT_EXECUTABLE"
PARENT_PID_ENV = "SALESDW_DBT_PARENT_PID"
DBT_CWD_ENV = "SALESDW_DBT_CWD"  # when set, dbt runs in this folder (relative profile paths start here)
WARM_ENV = "SALESDW_DBT_WARM"  # the abstract socket name of the run's warm dbt
WARM_START_ENV = "SALESDW_DBT_WARM_START"  # "0": no warm dbt (debugging, cold/warm comparisons)
SERVE_FLAG = "--salesdw-serve-warm"
WARM_ADAPTERS = ("duckdb",)  # Spark builds start a JVM: dbt's import is no part of their wait
_PR_SET_PDEATHSIG = 1
_STARTED = b"started"
_MAX_REQUEST = 1 << 20


def launch_env() -> dict[str, str]:
    """What the launcher needs from the process that starts it: the real dbt, and who its parent is."""
    return {DBT_EXECUTABLE_ENV: os.path.join(os.path.dirname(sys.executable), "dbt"), PARENT_PID_ENV: str(os.getpid())}


def main() -> None:
    dbt = os.environ.get(DBT_EXECUTABLE_ENV) or shutil.which("dbt")
    if not dbt:
        sys.exit(f"{DBT_EXECUTABLE_ENV} is not set and no dbt is on PATH")
    _tie_to_parent()
    if os.environ.get(DBT_CWD_ENV):
        os.chdir(os.environ[DBT_CWD_ENV])  # dagster-dbt passes the project as DBT_PROJECT_DIR
    if os.environ.get(WARM_ENV):
        code = hand_over(os.environ[WARM_ENV])
        if code is not None:
            sys.exit(code)
    python = script_interpreter(dbt)
    if python:
        os.execv(python, [python, "-c", BOOTSTRAP, *sys.argv[1:]])
    os.execv(dbt, [dbt, *sys.argv[1:]])


def _tie_to_parent() -> None:
    """SIGKILL this process when its parent dies (Linux); exit if the parent is already gone."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        parent = os.environ.get(PARENT_PID_ENV)
        if parent and os.getppid() != int(parent):
            sys.exit(1)  # the run died before the line above could tie us to it


# dbt's console script, with the collector kept off its imports (see the module doc).
BOOTSTRAP = """import gc, sys
gc.disable()
from dbt.cli.main import cli
gc.enable()
gc.freeze()
sys.argv[0] = "dbt"
sys.exit(cli())
"""


def script_interpreter(script: str) -> "str | None":
    """The Python interpreter named on a script's `#!` line, if it is one and exists."""
    try:
        with open(script, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode(errors="replace").split()
    if len(parts) != 1 or not os.path.basename(parts[0]).startswith("python"):
        return None  # e.g. `/usr/bin/env python3`, or not Python at all
    return parts[0] if os.access(parts[0], os.X_OK) else None


# --- the warm start (see the module doc) -------------------------------------------------------


@contextlib.contextmanager
def warm_dbt(data_dir, adapter: str):
    """A warm dbt for the dbt launchers this process starts while inside the block (through
    SALESDW_DBT_WARM in os.environ); it is killed on leaving the block if it is still there."""
    server = _start_server(data_dir, adapter)
    if server is None:
        yield None
        return
    name, proc = server
    os.environ[WARM_ENV] = name
    try:
        yield proc
    finally:
        if os.environ.get(WARM_ENV) == name:
            del os.environ[WARM_ENV]
        proc.kill()  # unused, or done with its one command (then it is exiting anyway)
        proc.wait()


def warm_start_enabled() -> bool:
    return os.environ.get(WARM_START_ENV, "1") != "0"


def _start_server(data_dir, adapter: str):
    """(socket name, process) of a new warm dbt, or None where dbt cannot be started warm."""
    if adapter not in WARM_ADAPTERS or not warm_start_enabled() or not sys.platform.startswith("linux"):
        return None
    env = {**os.environ, **launch_env(), "SALESDW_DATA_DIR": str(data_dir)}
    env.pop(WARM_ENV, None)
    python = script_interpreter(env[DBT_EXECUTABLE_ENV])
    if not python:
        return None
    name = f"salesdw-dbt-{os.getpid()}-{secrets.token_hex(8)}"
    try:
        # its own session: a Ctrl-C in the terminal reaches dbt through its launcher only, as when cold
        proc = subprocess.Popen(
            [python, LAUNCHER, SERVE_FLAG, name, adapter],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None  # the launcher starts dbt cold
    return name, proc


def warm_imports(adapter: str) -> list[str]:
    """What dbt imports only once a build runs (found by comparing sys.modules before and after a
    `dbt build`): about 0.1 s, on top of the 1.5-2.5 s of `dbt.cli.main`."""
    return [
        "dbt.task.build",
        f"dbt.adapters.{adapter}",
        f"dbt.include.{adapter}",
        "dbt.adapters.sql",
        "dbt.compilation",
        "dbt.parser.sql",
        "dbt.graph.thread_pool",
        "dbt.runners.exposure_runner",
        "dbt.runners.saved_query_runner",
        "dbt.task.function",
        "dbt_common.clients.agate_helper",
        "sqlparse",
        "daff",
        "babel.dates",
        "multiprocessing.dummy",
    ]


def serve(name: str, adapter: str) -> int:
    """The warm dbt: import dbt, then run the command of the first launcher of this user."""
    _tie_to_parent()
    # Run as a script, sys.path[0] is orchestration/, where dbt's plugin discovery (every `dbt_*`
    # module on sys.path) would import orchestration/dbt_*.py and with it Dagster; "" is the
    # working directory, as for `python -c` (the cold start).
    sys.path[0] = ""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("\0" + name)
    listener.listen(1)  # a launcher can connect while dbt imports; it is answered below
    cli = _import_dbt(adapter)
    conn, request, fds = _accept_request(listener)
    listener.close()  # one command: later launchers start dbt cold
    return _run_request(conn, request, fds, cli)


def _import_dbt(adapter: str):
    gc.disable()
    from dbt.cli.main import cli

    for module in warm_imports(adapter):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    gc.enable()
    gc.freeze()
    return cli


def same_user_peer(sock: socket.socket) -> "int | None":
    """The pid of the process at the other end of a Unix socket, if it runs as this user (an
    abstract socket name is open to every user of the machine)."""
    pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid if uid == os.getuid() else None


def _accept_request(listener: socket.socket):
    """The first connection of this user with a whole request: (connection, request, its 3 fds)."""
    while True:
        conn, _ = listener.accept()
        try:
            if same_user_peer(conn) is not None:
                message, fds, flags, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
                if len(fds) == 3 and not flags & socket.MSG_TRUNC:
                    return conn, json.loads(message), fds
                for fd in fds:
                    os.close(fd)
        except (OSError, ValueError):
            pass
        conn.close()


def _run_request(conn: socket.socket, request: dict, fds: list[int], cli) -> int:
    """Become the launcher's dbt: its streams, environment, folder and command; send back the exit code."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=stream.isatty())
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = request["argv"]
    finished = threading.Event()
    threading.Thread(target=_exit_with_launcher, args=(conn, finished), daemon=True).start()
    conn.send(_STARTED)
    code = _run_cli(cli)
    sys.stdout.flush()
    sys.stderr.flush()
    finished.set()
    with contextlib.suppress(OSError):
        conn.send(str(code).encode())
    return code


def _exit_with_launcher(conn: socket.socket, finished: threading.Event) -> None:
    """End dbt when its launcher is gone (killed, or its run died): the connection closes."""
    with contextlib.suppress(OSError):
        conn.recv(16)
    if not finished.is_set():
        os._exit(1)


def _run_cli(cli) -> int:
    """dbt's exit code, as the interpreter would make it of dbt's `sys.exit`."""
    try:
        cli()
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def hand_over(name: str) -> "int | None":
    """dbt's exit code from the warm dbt `name`, or None when it cannot take this command (then
    nothing has run: absent, already taken, another user's, or it died before starting)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        try:
            sock.connect("\0" + name)
            server = same_user_peer(sock)
            if server is None:
                return None
            request = {"argv": ["dbt", *sys.argv[1:]], "env": dict(os.environ), "cwd": os.getcwd()}
            socket.send_fds(sock, [json.dumps(request).encode()], [0, 1, 2])
            if sock.recv(len(_STARTED)) != _STARTED:
                return None
        except OSError:
            return None
        return _wait_for_exit_code(sock, server)


def _wait_for_exit_code(sock: socket.socket, server: int) -> int:
    """Relay SIGINT/SIGTERM (dagster-dbt's cancellation) to the warm dbt until it sends its exit
    code; if it dies instead, die of the signal relayed to it, or exit 1."""
    relayed = []

    def relay(signum, _frame):
        relayed.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(server, signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, relay)
    try:
        reply = sock.recv(16)
    except OSError:
        reply = b""
    if reply:
        return int(reply)
    if relayed:
        signal.signal(relayed[-1], signal.SIG_DFL)
        os.kill(os.getpid(), relayed[-1])
    return 1


if __name__ == "__main__":
    if sys.argv[1:2] == [SERVE_FLAG]:
        sys.exit(serve(*sys.argv[2:4]))
    main()
