"""Lifecycle of the embedded Neo4j: fetch jars, start, stop, status, connect.

The embedded default is Neo4j 5.26 LTS Community, run in-process by the one Java class of
``services/neo4j_launcher`` with its Bolt connector on a loopback address. Its jars come
from Maven Central through that directory's ``pom.xml`` (:func:`ensure_jars`); its state
lives under ``HOME/neo4j/``::

    HOME/neo4j/
        db/            the DBMS home (data/, logs/debug.log)
        neo4j.pid      pid of the running JVM
        server.json    uri, port, pid of the running JVM
        password       the generated password of the ``neo4j`` user (mode 0600)
        neo4j.log      the launcher's stdout/stderr (READY / FAILED / STOPPED lines)

Authentication is always on. When ``Settings.neo4j_uri`` is set, :func:`connect` uses that
server with ``Settings.neo4j_user`` / ``neo4j_password`` and nothing is started locally.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import neo4j
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from ringwatch.errors import ConfigError, ServiceError
from ringwatch.settings import Settings
from ringwatch.versions import Home, locked, write_atomic
from services.processes import command_line, pid_alive, terminate

LAUNCHER_DIR = Path(__file__).resolve().parent / "neo4j_launcher"
"""The Maven project holding ``pom.xml`` and ``Launcher.java``."""
LAUNCHER_CLASS = "ringwatch.neo4j.Launcher"
LAUNCHER_SOURCE = Path("src/main/java/ringwatch/neo4j/Launcher.java")
NEO4J_USER = "neo4j"
"""The embedded server's built-in admin user."""
DEFAULT_HEAP_MB = 2048
"""JVM heap: enough for 50k-row UNWIND batches, modest next to a 24 GiB machine shared with Ray and torch."""
DEFAULT_PAGECACHE_MB = 1024
"""Page cache: holds a million-account graph's stores (~0.8 GiB after a bulk load); the OS cache does the rest."""
DEFAULT_START_TIMEOUT_S = 180.0
"""A cold JVM on 2 busy cores loads ~200 jars and creates two databases; 3 minutes is generous."""
DEFAULT_STOP_TIMEOUT_S = 60.0
"""A clean stop checkpoints both databases; past this the JVM is killed (recovery runs on next start)."""

IMPORTER_MIN_OFF_HEAP_MB = 2048
"""The bulk importer's off-heap cap, at least. Left alone it reserves ~70% of free memory (16 GiB
here) and its node phase then ran 6-20 s at 1M accounts (first touches of fresh pages on this VM);
capped near its own estimate (1.0 GiB at 1M) it ran 6.1-6.9 s every time."""
IMPORTER_OFF_HEAP_PER_CSV_BYTE = 6
"""Off-heap bytes per CSV byte above the minimum (1M accounts: 0.31 GB of CSV, estimate 1.0 GiB)."""

_PIDFILE = "neo4j.pid"
_STATEFILE = "server.json"
_STARTLOCK = ".start.lock"
_PASSWORDFILE = "password"
_LOGFILE = "neo4j.log"
_DBMS_HOME = "db"
_BULK_HOME = "bulk-import"
_SWAP_REQUEST = "swap.request"
"""In the DBMS home: asks the running launcher to swap in the store staged by a bulk import."""
DATABASE = "neo4j"
"""The (Community: only) user database the embedded server serves."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class Neo4jServer:
    """Where a Neo4j is and whether it runs.

    Attributes:
        uri: Bolt URI clients connect to.
        user: User to authenticate as.
        embedded: ``True`` for the project's own server, ``False`` for ``NEO4J_URI``.
        running: Whether the server process is alive (embedded) or reachable (external).
        pid: JVM process id (embedded, running).
        port: Bolt port.
        home: ``HOME/neo4j`` (embedded).
        password_file: Where the password is stored (embedded).
        log_file: The launcher's log (embedded).
        startup_s: Seconds :func:`start` took, when it started the server.
        message: A human-readable one-liner about the state.
    """

    uri: str
    user: str
    embedded: bool
    running: bool
    pid: int | None = None
    port: int | None = None
    home: Path | None = None
    password_file: Path | None = None
    log_file: Path | None = None
    startup_s: float | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


# --- jars ---------------------------------------------------------------------------------


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _run_tool(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ServiceError(
            f"{cmd[0]} not found on PATH; {what} needs Maven and a JDK 17 (e.g. `apt-get install maven openjdk-17-jdk-headless`)"
        ) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ServiceError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def classpath(launcher_dir: Path = LAUNCHER_DIR) -> str:
    """The JVM classpath of the launcher (valid once :func:`ensure_jars` ran)."""
    return f"{launcher_dir / 'target' / 'classes'}{os.pathsep}{launcher_dir / 'lib' / '*'}"


def ensure_jars(launcher_dir: Path = LAUNCHER_DIR, *, log: Log | None = None) -> str:
    """Fetch Neo4j's jars from Maven Central and compile the launcher, once.

    ``mvn -q dependency:copy-dependencies`` copies the jars pinned in ``pom.xml`` into
    ``lib/``; ``javac`` compiles ``Launcher.java`` into ``target/classes/``. Each step records
    a digest of its inputs and is skipped while they are unchanged, so later calls cost a
    few file reads. A file lock makes concurrent callers (CLI and tests) build once.

    Args:
        launcher_dir: The Maven project directory.
        log: Called with a line before each slow step.

    Returns:
        The classpath to run :data:`LAUNCHER_CLASS` with.

    Raises:
        ServiceError: Maven or javac is missing or fails (e.g. Maven Central unreachable).
    """
    pom = launcher_dir / "pom.xml"
    source = launcher_dir / LAUNCHER_SOURCE
    lib = launcher_dir / "lib"
    classes = launcher_dir / "target" / "classes"
    classes.mkdir(parents=True, exist_ok=True)
    lib_stamp = lib / ".ringwatch-stamp"
    classes_stamp = classes / ".ringwatch-stamp"
    with (launcher_dir / "target" / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want_lib = _digest(pom)
        if not (lib_stamp.is_file() and lib_stamp.read_text() == want_lib):
            if log:
                log("fetching Neo4j jars from Maven Central (first run only) ...")
            shutil.rmtree(lib, ignore_errors=True)
            _run_tool(["mvn", "-q", "-B", "dependency:copy-dependencies"], launcher_dir, "fetching the Neo4j jars")
            lib_stamp.write_text(want_lib)
        want_classes = _digest(pom, source)
        if not (classes_stamp.is_file() and classes_stamp.read_text() == want_classes):
            if log:
                log("compiling the Neo4j launcher ...")
            _run_tool(
                ["javac", "--release", "17", "-nowarn", "-cp", str(lib / "*"), "-d", str(classes), str(source)],
                launcher_dir, "compiling the Neo4j launcher",
            )
            classes_stamp.write_text(want_classes)
    return classpath(launcher_dir)


# --- process bookkeeping ----------------------------------------------------------------------


def _neo4j_dir(home: Path) -> Path:
    """``HOME/neo4j``, absolute: the JVM runs in its own folder, and launchers are matched by path."""
    return Home(Path(home).absolute()).neo4j


def _is_our_launcher(pid: int, dbms_home: Path) -> bool:
    """Guard against a recycled pid: the process must be our launcher for this home."""
    args = command_line(pid)
    if args is None:
        return pid_alive(pid)
    real = os.path.realpath(dbms_home)  # the home may be spelled another way (a symlink, a relative path)
    return LAUNCHER_CLASS in args and any(os.path.realpath(a) == real for a in args if a.startswith("/")) and pid_alive(pid)


def _read_state(neo4j_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((neo4j_dir / _STATEFILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _clear_state(neo4j_dir: Path) -> None:
    for name in (_PIDFILE, _STATEFILE):
        (neo4j_dir / name).unlink(missing_ok=True)


def _running_pid(neo4j_dir: Path) -> int | None:
    """The pid of our live launcher for this home, clearing stale files otherwise."""
    try:
        pid = int((neo4j_dir / _PIDFILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        _clear_state(neo4j_dir)
        return None
    if _is_our_launcher(pid, neo4j_dir / _DBMS_HOME):
        return pid
    _clear_state(neo4j_dir)
    return None


def ensure_password(neo4j_dir: Path) -> str:
    """The embedded server's password, generated on first use and stored with mode 0600.

    Args:
        neo4j_dir: ``HOME/neo4j``.
    """
    neo4j_dir.mkdir(parents=True, exist_ok=True)
    path = neo4j_dir / _PASSWORDFILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        password = path.read_text().strip()
        if len(password) >= 8:
            return password
        path.unlink()
        return ensure_password(neo4j_dir)
    with os.fdopen(fd, "w") as fh:
        password = secrets.token_urlsafe(24)
        fh.write(password + "\n")
    return password


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`ServiceError` when something already listens on ``host:port``, and
    :class:`ConfigError` for a port outside 1–65535 (the embedded server cannot pick one itself:
    clients find it at the port they were configured with)."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"the Neo4j Bolt port must be between 1 and 65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen(1)
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ServiceError(
                f"cannot start Neo4j: port {host}:{port} is {why} by another process; "
                f"stop it or pick another port with `ringwatch neo4j start --port N` (or RINGWATCH_NEO4J_BOLT_PORT)"
            ) from exc


def _bolt_uri(host: str, port: int) -> str:
    return f"bolt://{host}:{port}"


def _embedded_info(neo4j_dir: Path, pid: int | None, state: dict[str, Any] | None, message: str,
                   startup_s: float | None = None) -> Neo4jServer:
    port = state.get("port") if state else None
    host = state.get("host", "127.0.0.1") if state else "127.0.0.1"
    return Neo4jServer(
        uri=_bolt_uri(host, port) if port else "",
        user=NEO4J_USER,
        embedded=True,
        running=pid is not None,
        pid=pid,
        port=port,
        home=neo4j_dir,
        password_file=neo4j_dir / _PASSWORDFILE,
        log_file=neo4j_dir / _LOGFILE,
        startup_s=startup_s,
        message=message,
    )


# --- lifecycle ------------------------------------------------------------------------------


def start(
    home: Path,
    port: int = 7687,
    *,
    host: str = "127.0.0.1",
    heap_mb: int = DEFAULT_HEAP_MB,
    pagecache_mb: int = DEFAULT_PAGECACHE_MB,
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
    launcher_dir: Path = LAUNCHER_DIR,
    log: Log | None = None,
) -> Neo4jServer:
    """Start the embedded Neo4j in the background, or return the one already running.

    Args:
        home: The Ringwatch home; state goes to ``home/neo4j``.
        port: Bolt port.
        host: Address to listen on; loopback unless an operator decides otherwise.
        heap_mb: JVM ``-Xmx``.
        pagecache_mb: Neo4j page cache.
        timeout_s: How long to wait for the READY line.
        launcher_dir: The Maven project (jars are fetched into it when missing).
        log: Called with progress lines.

    Returns:
        The running server.

    Raises:
        ServiceError: The port is taken, Java/Maven is missing, or the server failed or
            timed out while starting (the message quotes its log).
    """
    neo4j_dir = _neo4j_dir(home)
    neo4j_dir.mkdir(parents=True, exist_ok=True)
    with locked(neo4j_dir / _STARTLOCK, fcntl.LOCK_EX):  # a second start waits, then finds this one running
        return _start(neo4j_dir, port, host, heap_mb, pagecache_mb, timeout_s, launcher_dir, log)


def _start(neo4j_dir: Path, port: int, host: str, heap_mb: int, pagecache_mb: int, timeout_s: float, launcher_dir: Path,
           log: Log | None) -> Neo4jServer:
    pid = _running_pid(neo4j_dir)
    if pid is not None:
        state = _read_state(neo4j_dir)
        return _embedded_info(neo4j_dir, pid, state, f"already running (pid {pid})")
    check_port_free(host, port)
    # A store swap the last server died in the middle of is redone by re-running the export (it
    # sees the bulk-pending marker); a stale request must not make this start swap a half-moved store.
    (neo4j_dir / _DBMS_HOME / _SWAP_REQUEST).unlink(missing_ok=True)
    cp = ensure_jars(launcher_dir, log=log)
    password_file = neo4j_dir / _PASSWORDFILE
    ensure_password(neo4j_dir)
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found on PATH; the embedded Neo4j needs a JDK 17 (e.g. `apt-get install openjdk-17-jdk-headless`)")
    dbms_home = neo4j_dir / _DBMS_HOME
    cmd = [
        java, f"-Xms{min(512, heap_mb)}m", f"-Xmx{heap_mb}m", "-XX:+ExitOnOutOfMemoryError",
        "-Dfile.encoding=UTF-8", "-cp", cp, LAUNCHER_CLASS,
        str(dbms_home), host, str(port), str(password_file), str(pagecache_mb),
    ]
    log_file = neo4j_dir / _LOGFILE
    if log:
        log(f"starting Neo4j on {_bolt_uri(host, port)} ...")
    t0 = time.monotonic()
    with log_file.open("ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} start port={port}\n".encode())
        out.flush()
        offset = out.tell()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, cwd=neo4j_dir,
        )
    state = {"pid": proc.pid, "host": host, "port": port, "uri": _bolt_uri(host, port),
             "started_at": time.time(), "heap_mb": heap_mb, "pagecache_mb": pagecache_mb}
    write_atomic(neo4j_dir / _PIDFILE, f"{proc.pid}\n")
    write_atomic(neo4j_dir / _STATEFILE, json.dumps(state, indent=2))
    try:
        _wait_ready(proc.poll, log_file, offset, timeout_s)
    except ServiceError:
        terminate(proc.pid, 10.0, "Neo4j")
        _clear_state(neo4j_dir)
        raise
    elapsed = time.monotonic() - t0
    return _embedded_info(neo4j_dir, proc.pid, state, f"started in {elapsed:.1f}s", startup_s=elapsed)


def _log_tail(log_file: Path, offset: int, lines: int = 12) -> str:
    with log_file.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def _wait_ready(poll: Callable[[], int | None], log_file: Path, offset: int, timeout_s: float) -> None:
    """Wait for the launcher's ``READY`` line after ``offset``; ``poll`` gives its exit code once it died."""
    deadline = time.monotonic() + timeout_s
    while True:
        with log_file.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("READY "):
                return
            if line.startswith("FAILED "):
                reason = line[len("FAILED "):]
                if "address already in use" in reason.lower() or "bind" in reason.lower():
                    raise ServiceError(f"Neo4j could not listen: {reason}; pick another port with --port")
                raise ServiceError(f"Neo4j failed to start: {reason} (log: {log_file})")
        if (code := poll()) is not None:
            raise ServiceError(
                f"Neo4j exited with code {code} while starting; last lines of {log_file}:\n{_log_tail(log_file, offset)}"
            )
        if time.monotonic() > deadline:
            raise ServiceError(
                f"Neo4j did not become ready within {timeout_s:.0f}s; last lines of {log_file}:\n{_log_tail(log_file, offset)}"
            )
        time.sleep(0.1)


def stop(home: Path, *, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> Neo4jServer:
    """Stop the embedded Neo4j: SIGTERM (clean checkpoint), SIGKILL after ``timeout_s``.

    Args:
        home: The Ringwatch home.
        timeout_s: Grace period before SIGKILL.

    Returns:
        The (now stopped) server; ``message`` says what happened.
    """
    neo4j_dir = _neo4j_dir(home)
    pid = _running_pid(neo4j_dir)
    state = _read_state(neo4j_dir)
    if pid is None:
        return _embedded_info(neo4j_dir, None, state, "not running")
    t0 = time.monotonic()
    clean = terminate(pid, timeout_s, "Neo4j")
    _clear_state(neo4j_dir)
    took = time.monotonic() - t0
    message = f"stopped (pid {pid}) in {took:.1f}s" if clean else f"killed (pid {pid}) after {timeout_s:.0f}s without a clean stop"
    return _embedded_info(neo4j_dir, None, state, message)


def status(home: Path) -> Neo4jServer:
    """Whether the embedded Neo4j runs, and where."""
    neo4j_dir = _neo4j_dir(home)
    pid = _running_pid(neo4j_dir)
    state = _read_state(neo4j_dir) if pid is not None else None
    return _embedded_info(neo4j_dir, pid, state, f"running (pid {pid})" if pid else "not running")


# --- bulk import ------------------------------------------------------------------------------


def bulk_import(
    home: Path,
    nodes: list[tuple[str, Path]],
    relationships: list[tuple[str, Path]],
    *,
    array_delimiter: str = "U+001F",
    multiline: bool = False,
    id_type: str = "string",
    before_swap: Callable[[], None] | None = None,
    launcher_dir: Path = LAUNCHER_DIR,
    log: Log | None = None,
) -> Neo4jServer:
    """Replace the embedded server's database with one built by Neo4j's bulk importer.

    ``neo4j-admin database import full`` (the ``org.neo4j.cli.AdminTool`` class of the
    pinned jars) builds a store from CSV files into a separate staging home while the server
    keeps running; then the running launcher shuts its DBMS down, renames the staged store
    and transaction logs into place and starts the DBMS again in the same JVM on the same
    port (a few seconds; a cold JVM start is ~10 s more here). A kill before the swap leaves the
    live database untouched; the staging home is rebuilt from scratch on the next call.

    Args:
        home: The Ringwatch home of a running embedded server.
        nodes: ``(label, csv)`` pairs; each CSV has its header line (``id:ID(Label)``, ...).
        relationships: ``(type, csv)`` pairs (``:START_ID(Label)``, ``:END_ID(Label)``, ...).
        array_delimiter: Between array elements within a field.
        multiline: Whether some field contains a line break (slower parsing).
        id_type: ``string`` or ``integer``: what the ``:ID`` / ``:START_ID`` / ``:END_ID`` columns hold.
        before_swap: Called after the import succeeded, just before the server stops.
        launcher_dir: The Maven project (classpath).
        log: Called with progress lines.

    Returns:
        The server, now serving the imported store.

    Raises:
        ServiceError: The server is not running, the importer failed, or the swap failed.
    """
    neo4j_dir = _neo4j_dir(home)
    pid = _running_pid(neo4j_dir)
    state = _read_state(neo4j_dir)
    if pid is None or state is None:
        raise ServiceError("the embedded Neo4j is not running; start it with `ringwatch neo4j start`")
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found on PATH; the bulk import needs a JDK 17")
    cp = ensure_jars(launcher_dir, log=log)
    staging = neo4j_dir / _BULK_HOME
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    csv_bytes = sum(path.stat().st_size for _, path in nodes + relationships)
    off_heap_mb = max(IMPORTER_MIN_OFF_HEAP_MB, IMPORTER_OFF_HEAP_PER_CSV_BYTE * csv_bytes >> 20)
    cmd = [java, "-Xms256m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError", "-Dfile.encoding=UTF-8", "-cp", cp,
           "org.neo4j.cli.AdminTool", "database", "import", "full", DATABASE,
           f"--array-delimiter={array_delimiter}", f"--id-type={id_type}", "--overwrite-destination=true",
           f"--multiline-fields={'true' if multiline else 'false'}", "--high-parallel-io=on",
           f"--max-off-heap-memory={off_heap_mb}m", f"--report-file={staging / 'import.report'}"]
    cmd += [f"--nodes={label}={path}" for label, path in nodes]
    cmd += [f"--relationships={rel}={path}" for rel, path in relationships]
    if log:
        log("bulk-importing into a staging store (neo4j-admin database import full) ...")
    env = {**os.environ, "NEO4J_HOME": str(staging), "NEO4J_CONF": str(staging / "conf")}
    (staging / "conf").mkdir()
    (staging / "conf" / "neo4j.conf").write_text("")
    proc = subprocess.run(cmd, cwd=staging, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join([line for line in lines if not line.lstrip().startswith("at ")][-15:])
        raise ServiceError(f"the Neo4j bulk import failed (exit {proc.returncode}):\n{tail}")
    if log:
        phases = [line.strip() for line in proc.stdout.splitlines() if " COMPLETED in " in line or line.startswith("IMPORT DONE")]
        log("importer: " + "; ".join(phases))
    if before_swap is not None:
        before_swap()
    # The running launcher swaps the store in without leaving its JVM (see Launcher.java).
    log_file = neo4j_dir / _LOGFILE
    offset = log_file.stat().st_size
    t0 = time.monotonic()
    write_atomic(neo4j_dir / _DBMS_HOME / _SWAP_REQUEST, f"{staging}\n")
    _wait_ready(lambda: None if pid_alive(pid) else -1, log_file, offset, DEFAULT_START_TIMEOUT_S)
    shutil.rmtree(staging, ignore_errors=True)
    return _embedded_info(neo4j_dir, pid, state, f"store swapped in {time.monotonic() - t0:.1f}s")


# --- settings-level entry points (CLI, demo) ----------------------------------------------------


def external_server(settings: Settings) -> Neo4jServer | None:
    """The ``NEO4J_URI`` server when one is configured, else ``None`` (use the embedded one)."""
    if not settings.neo4j_uri:
        return None
    return Neo4jServer(uri=settings.neo4j_uri, user=settings.neo4j_user, embedded=False, running=True,
                       message=f"using the external Neo4j at {settings.neo4j_uri} (NEO4J_URI)")


def external_status(settings: Settings) -> Neo4jServer | None:
    """The ``NEO4J_URI`` server as :func:`external_server` gives it, with ``running`` saying whether
    it answers now; ``None`` when none is configured (use the embedded one).

    Raises:
        ServiceError: The server answers but rejects the credentials.
        ConfigError: ``NEO4J_URI`` is malformed.
    """
    external = external_server(settings)
    if external is None:
        return None
    try:
        connect(settings).close()
    except ServiceError as exc:
        if isinstance(exc.__cause__, AuthError):
            raise
        return replace(external, running=False, message=str(exc))
    return external


def start_from_settings(settings: Settings, *, port: int | None = None, log: Log | None = None) -> Neo4jServer:
    """Start the embedded server as configured, or check the external one is reachable."""
    external = external_server(settings)
    if external is not None:
        connect(settings).close()
        return external
    return start(settings.ensure_home(), settings.neo4j_bolt_port if port is None else port, log=log)


def connect(settings: Settings, *, verify: bool = True) -> neo4j.Driver:
    """An official-driver connection to the configured Neo4j.

    Uses ``NEO4J_URI`` (with ``NEO4J_USER`` / ``NEO4J_PASSWORD``) when set, else the
    embedded server under ``settings.home``, which must be running.

    Args:
        settings: The process settings.
        verify: Check connectivity and credentials now rather than on first query.

    Raises:
        ServiceError: The server is not running or not reachable, or rejects the credentials.
        ConfigError: ``NEO4J_URI`` is malformed.
    """
    if settings.neo4j_uri:
        uri = settings.neo4j_uri
        auth = (settings.neo4j_user, settings.neo4j_password) if settings.neo4j_password is not None else None
        where = f"the Neo4j at {uri} (NEO4J_URI)"
    else:
        info = status(settings.home)
        if not info.running:
            raise ServiceError("the embedded Neo4j is not running; start it with `ringwatch neo4j start`")
        uri = info.uri
        auth = (NEO4J_USER, ensure_password(Home(settings.home).neo4j))
        where = f"the embedded Neo4j at {uri}"
    try:
        # Notifications (deprecations, unknown relationship types before a first export) are
        # log noise for tools; errors still raise.
        driver = neo4j.GraphDatabase.driver(
            uri, auth=auth, notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF,
        )
    except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
        raise ConfigError(f"invalid Neo4j URI {uri!r}: {exc}; expected e.g. bolt://host:7687 or neo4j://host:7687") from exc
    if verify:
        try:
            driver.verify_connectivity()
        except AuthError as exc:
            driver.close()
            if auth is None:
                raise ServiceError(f"{where} asks for credentials and NEO4J_PASSWORD is not set (NEO4J_USER, default "
                                   "neo4j, is sent with it); set NEO4J_PASSWORD") from exc
            raise ServiceError(f"{where} rejected the credentials for user {auth[0]}") from exc
        except (ServiceUnavailable, Neo4jError, OSError) as exc:
            driver.close()
            raise ServiceError(f"cannot reach {where}: {exc}") from exc
    return driver
