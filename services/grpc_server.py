"""The grpc.aio server: RiskService, health, reflection, auth, TLS, metrics, lifecycle.

Layers, from the inside out:

* :func:`build_server` / :func:`create_server` put a server together on the running event
  loop and bind it (port 0 picks a free port) without starting it.
* :class:`ServerThread` runs one on its own event loop in a background thread (tests, tools).
* :func:`run_server` serves in the foreground until SIGTERM/SIGINT, then drains gracefully:
  health turns NOT_SERVING, new calls are refused, in-flight calls get ``grace_s`` to finish.
* :func:`serve_from_settings`, :func:`start_background`, :func:`stop_background` and
  :func:`background_status` are what ``ringwatch serve`` and the demo call; the background
  server records its pid and port in ``HOME/run/grpc.json`` and logs to ``HOME/run/grpc.log``.

grpc.aio is kept over the thread-pool server: with the raw-bytes GetRiskScore fast path both
measured within noise of each other here (ghz, 32 in flight, load average 7-8 on 2 cores:
aio 2,900-3,150 QPS at 240-280 µs of server CPU per call, sync with 8 threads 2,560-3,800 QPS
at 250-335 µs), and aio needs no thread per ``WatchRiskScores`` stream. The per-call cost is
grpcio's own; the handler is ~2 µs of it.

Multi-process mode (``workers > 1``): a supervisor reserves the port and starts ``workers``
processes that each bind it with ``SO_REUSEPORT``; the kernel spreads connections across them,
each serves from the same memory-mapped score cache. Clients must open several channels (or
connections) to spread load, because one HTTP/2 connection sticks to one process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import multiprocessing
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ringwatch.errors import ConfigError, NotFoundError, ServiceError
from ringwatch.settings import Settings
from ringwatch.v1 import risk_pb2
from ringwatch.versions import Home, write_atomic
from services.auth import BearerTokenInterceptor
from services.metrics import ServiceMetrics
from services.processes import is_recorded_process, process_start, terminate
from services.risk_service import MAX_BATCH, SERVICE_NAME, ChangeFeed, RiskServicer, method_handlers
from services.score_store import ScoreStore

log = logging.getLogger(__name__)

STATE_FILE = "grpc.json"
LOG_FILE = "grpc.log"


@dataclass(frozen=True)
class ServerOptions:
    """How a server is set up (all optional).

    Attributes:
        token: Require ``authorization: Bearer <token>`` on every call except health checks.
        tls_cert: PEM certificate chain; with ``tls_key`` the server speaks TLS only.
        tls_key: PEM private key.
        max_batch: Most ids per ``BatchGetRiskScores`` call.
        max_receive_bytes: Largest request accepted; 6 MiB holds a full batch of 10,000 ids of 128
            four-byte characters (5.15 MB with their field tags and lengths).
        max_send_bytes: Largest answer sent (a ring with 10,000 members is well below).
        reuse_port: Bind with ``SO_REUSEPORT`` (multi-process mode). Off otherwise so a port
            already taken is an error instead of a silent second listener.
        refresh_interval_s: How often the score watcher polls ``CURRENT``.
        grace_s: How long in-flight calls may run during a graceful shutdown.
    """

    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_batch: int = MAX_BATCH
    max_receive_bytes: int = 6 * 1024 * 1024
    max_send_bytes: int = 64 * 1024 * 1024
    reuse_port: bool = False
    refresh_interval_s: float = 2.0
    grace_s: float = 5.0

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"TLS file {path} does not exist")
        if self.max_batch < 1:
            raise ConfigError("max_batch must be at least 1")


@dataclass
class RiskServer:
    """A built (not yet started) server and the parts its lifecycle needs."""

    server: grpc.aio.Server
    port: int
    store: ScoreStore
    health: Any
    options: ServerOptions
    metrics: ServiceMetrics | None = None
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Start serving; health says SERVING as soon as a score set is loaded."""
        await self.server.start()
        await self._set_health()

    async def _set_health(self) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if self.store.current is not None else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    def _on_swap(self, old: object, new: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._set_health(), self._loop)

    async def stop(self, grace_s: float | None = None) -> None:
        """Graceful shutdown: NOT_SERVING, refuse new calls, let in-flight ones finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.options.grace_s if grace_s is None else grace_s)


class _ReflectionPool:
    """The default descriptor pool, also resolving method symbols (``pkg.Service.Method``).

    upb's pool cannot find the file of a method symbol, which ``ghz`` and ``grpcurl describe``
    ask for; without this they report "Symbol not found".
    """

    def __init__(self) -> None:
        self._pool = descriptor_pool.Default()

    def FindFileContainingSymbol(self, symbol: str) -> Any:  # noqa: N802 - the pool's API
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            return self._pool.FindMethodByName(symbol).containing_service.file  # KeyError when absent too

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def _channel_options(options: ServerOptions) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", options.max_receive_bytes),
        ("grpc.max_send_message_length", options.max_send_bytes),
        ("grpc.so_reuseport", 1 if options.reuse_port else 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]


def build_server(
    address: str, store: ScoreStore, options: ServerOptions | None = None, metrics: ServiceMetrics | None = None
) -> RiskServer:
    """Assemble and bind a server; call from the event loop that will run it.

    Args:
        address: ``host:port``; port 0 picks a free port.
        store: The score store to answer from (may be empty: RPCs answer UNAVAILABLE and
            health NOT_SERVING until it loads a score set).
        options: Auth, TLS, limits.
        metrics: Where to record requests (``None`` records nothing).

    Returns:
        The bound, unstarted server.

    Raises:
        ServiceError: When the address cannot be bound.
    """
    options = options or ServerOptions()
    loop = asyncio.get_running_loop()
    feed = ChangeFeed(loop)
    servicer = RiskServicer(store, feed, metrics, options.max_batch)
    handlers = method_handlers(servicer)
    prefix = f"/{SERVICE_NAME}/"

    def denied(path: str) -> None:  # the service's own methods only: a caller cannot mint label values
        name = path[len(prefix):] if path.startswith(prefix) else None
        if metrics is not None and name in handlers:
            metrics.observe(name, grpc.StatusCode.UNAUTHENTICATED, 0.0)

    interceptors = [BearerTokenInterceptor(options.token, on_deny=denied)] if options.token else []
    server = grpc.aio.server(interceptors=interceptors, options=_channel_options(options))
    store.add_listener(feed.on_swap)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name, health.SERVICE_NAME, reflection.SERVICE_NAME),
        server,
        pool=_ReflectionPool(),
    )
    try:
        if options.tls_cert is not None and options.tls_key is not None:
            creds = grpc.ssl_server_credentials([(Path(options.tls_key).read_bytes(), Path(options.tls_cert).read_bytes())])
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ServiceError(f"cannot listen on {address}: {exc}; is the port taken? pick another with --port") from exc
    if port == 0:
        raise ServiceError(f"cannot listen on {address}; is the port taken? pick another with --port")
    risk_server = RiskServer(server=server, port=port, store=store, health=health_servicer, options=options, metrics=metrics, _loop=loop)
    store.add_listener(risk_server._on_swap)
    return risk_server


def create_server(
    address: str, store: ScoreStore, options: ServerOptions | None = None, metrics: ServiceMetrics | None = None
) -> tuple[grpc.aio.Server, int]:
    """Build and bind a grpc.aio server (see :func:`build_server`); ``await server.start()`` it.

    Returns:
        The unstarted server and the bound port.
    """
    built = build_server(address, store, options, metrics)
    return built.server, built.port


class ServerThread:
    """A server on its own event loop in a daemon thread (tests, embedding).

    Args:
        address: ``host:port`` (port 0 picks one; read :attr:`port`).
        store: The score store.
        options: Auth, TLS, limits.
        metrics: Metrics to record into.
    """

    def __init__(
        self, address: str, store: ScoreStore, options: ServerOptions | None = None, metrics: ServiceMetrics | None = None
    ) -> None:
        self.address = address
        self.store = store
        self.options = options or ServerOptions()
        self.metrics = metrics
        self.port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._grace: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"grpc-server-{address}", daemon=True)

    def start(self) -> ServerThread:
        """Start and wait until the server listens.

        Raises:
            ServiceError: When it cannot bind.
        """
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            built = build_server(self.address, self.store, self.options, self.metrics)
            await built.start()
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            self._ready.set()
            return
        self.port = built.port
        self._ready.set()
        await self._stop.wait()
        await built.stop(self._grace)

    def stop(self, grace_s: float | None = 0.5) -> None:
        """Shut down gracefully and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._grace = grace_s
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # loop already closed
                pass
        self._thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start() if not self._thread.is_alive() else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_server(
    address: str,
    store: ScoreStore,
    options: ServerOptions | None = None,
    *,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    on_ready: Callable[[int, int | None], None] | None = None,
) -> None:
    """Serve in the foreground until SIGTERM or SIGINT, then shut down gracefully.

    Args:
        address: ``host:port``.
        store: The score store; its watcher thread is started here.
        options: Auth, TLS, limits.
        metrics_port: Serve Prometheus ``/metrics`` here (0 picks a port, ``None`` disables).
        metrics_host: Interface for the metrics endpoint.
        on_ready: Called with ``(grpc_port, metrics_port)`` once listening.
    """
    options = options or ServerOptions()

    async def main() -> None:
        metrics = ServiceMetrics(store) if metrics_port is not None else None
        bound_metrics = None
        if metrics is not None and metrics_port is not None:  # before gRPC: a taken port fails before anything serves
            try:
                bound_metrics = metrics.serve_http(metrics_port, metrics_host)
            except OSError as exc:
                raise ServiceError(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}; "
                                   "pick another --metrics-port (0 picks a free one)") from None
        built = build_server(address, store, options, metrics)
        await built.start()
        store.start_watcher(options.refresh_interval_s)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("serving %s on port %d (metrics: %s)", SERVICE_NAME, built.port, bound_metrics)
        if on_ready is not None:
            on_ready(built.port, bound_metrics)
        try:
            await stop.wait()
            log.info("shutting down: draining in-flight calls for up to %.1fs", options.grace_s)
        finally:
            await asyncio.to_thread(store.stop_watcher)  # a reload in progress must not stall the loop's draining calls
            await built.stop()

    asyncio.run(main())


# --------------------------------------------------------------------------- settings-level


def _state_path(settings: Settings) -> Path:
    return Home(settings.home).run / STATE_FILE


def background_status(settings: Settings) -> dict[str, Any] | None:
    """The running server recorded under ``HOME/run`` (pid, host, port, ...), or ``None``."""
    path = _state_path(settings)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not is_recorded_process(int(state.get("pid", -1)), state.get("process_start"), "ringwatch"):
        return None  # exited, or the pid now names another process (a crash or reboot left the file)
    return state


def open_store(settings: Settings, require_scores: bool = True) -> ScoreStore:
    """The score store for ``settings.home``, loaded with the current score set.

    Args:
        settings: Where the home directory is.
        require_scores: Fail when nothing is published (else serve NOT_SERVING until it is).

    Raises:
        NotFoundError: No scores published and ``require_scores``.
        IntegrityError: The current score set is corrupt and ``require_scores``.
    """
    home = Home(settings.home)
    store = ScoreStore(home.scores, cache_root=settings.home / "cache" / "scores")
    if require_scores:
        if home.scores.current() is None:
            raise NotFoundError(
                f"no scores published under {home.scores.root}; run `ringwatch score` (or `ringwatch pipeline run`) first"
            )
        store.refresh()
        if store.current is None:
            raise ServiceError(f"cannot load the current score set: {store.last_error}")
    return store


def _reserve_port(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker_main(home: str, address: str, options: ServerOptions, metrics_port: int | None, ready: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s worker %(process)d %(name)s: %(message)s")
    settings = Settings(home=Path(home))
    store = open_store(settings)
    run_server(address, store, options, metrics_port=metrics_port, on_ready=lambda port, m: ready.put((port, m)))


def serve_from_settings(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    metrics_port: int | None = None,
    options: ServerOptions | None = None,
    workers: int = 1,
    edge: bool = False,
    on_ready: Callable[[int, int | None], None] | None = None,
) -> None:
    """Serve the current scores of ``settings.home`` in the foreground (``ringwatch serve``).

    Records pid and port in ``HOME/run/grpc.json`` while running.

    Args:
        settings: Home, default host/port/token.
        host: Interface (default ``settings.grpc_host``).
        port: Port (default ``settings.grpc_port``; 0 picks a free one).
        metrics_port: Prometheus endpoint port (``None``: none; 0: a free one; with workers,
            worker i uses ``metrics_port + i``, or a free one each for 0; the state file's
            ``metrics_ports`` lists them).
        options: Auth, TLS, limits (token defaults to ``settings.grpc_token``).
        workers: Processes sharing the port with ``SO_REUSEPORT`` (1 = this process serves).
        edge: Serve through the Go edge (``settings.edge_binary``, see :mod:`services.edge`),
            with this process as its loopback backend.
        on_ready: Called with ``(port, metrics_port)`` once listening.

    Raises:
        NotFoundError: No scores published.
        ConfigError: ``edge`` with ``workers > 1``, or the edge is not built.
        ServiceError: A server is already recorded as running, or the port cannot be bound.
    """
    if edge and workers > 1:
        raise ConfigError("--edge and --workers do not mix: the edge uses every core itself")
    host = host or settings.grpc_host
    port = settings.grpc_port if port is None else port
    options = options or ServerOptions(token=settings.grpc_token)
    running = background_status(settings)
    if running is not None and running.get("pid") != os.getpid():
        raise ServiceError(
            f"a risk server is already running (pid {running['pid']}, port {running['port']}); `ringwatch serve --stop` first"
        )
    store = open_store(settings)
    state_path = _state_path(settings)
    state_path.parent.mkdir(parents=True, exist_ok=True)

    def record(bound_port: int, bound_metrics: int | None, every_metrics: list[int] | None = None) -> None:
        state = {
            "pid": os.getpid(), "process_start": process_start(os.getpid()), "host": host, "port": bound_port,
            "metrics_port": bound_metrics,
            "metrics_ports": every_metrics if every_metrics is not None else ([] if bound_metrics is None else [bound_metrics]),
            "tls": options.tls_cert is not None, "workers": workers, "edge": edge,
            "tls_cert": str(options.tls_cert) if options.tls_cert else None,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "score_version": store.current.info.score_version if store.current else None,
        }
        write_atomic(state_path, json.dumps(state, indent=2))
        if on_ready is not None:
            on_ready(bound_port, bound_metrics)

    try:
        if edge:
            from services.edge import run_edge

            metrics_address = f"127.0.0.1:{metrics_port}" if metrics_port is not None else None  # as run_server
            run_edge(address_of(host, port), store, settings.edge_binary, options, metrics_address=metrics_address, on_ready=record)
        elif workers <= 1:
            run_server(address_of(host, port), store, options, metrics_port=metrics_port, on_ready=record)
        else:
            _supervise(settings, host, port, options, workers, metrics_port, record)
    finally:
        try:
            if json.loads(state_path.read_text()).get("pid") == os.getpid():
                state_path.unlink()
        except (OSError, json.JSONDecodeError):
            pass


def address_of(host: str, port: int | str) -> str:
    """``host:port`` as gRPC targets spell it (an IPv6 host in brackets)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _supervise(
    settings: Settings, host: str, port: int, options: ServerOptions, workers: int,
    metrics_port: int | None, record: Callable[[int, int | None, list[int] | None], None],
) -> None:
    """Multi-process mode: reserve the port, start workers with SO_REUSEPORT, wait for SIGTERM."""
    reserved = _reserve_port(host, port)  # holds the port (not listening) until workers bind it
    port = reserved.getsockname()[1]
    options = dataclasses.replace(options, reuse_port=True)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(str(settings.home), address_of(host, port), options,
                  None if metrics_port is None else (0 if metrics_port == 0 else metrics_port + i), ready),
            name=f"ringwatch-grpc-{i}", daemon=False,
        )
        for i in range(workers)
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for p in procs:
        p.start()
    try:
        bound: list[int | None] = []  # each worker's metrics port (None: none)
        deadline = time.monotonic() + 120
        while len(bound) < workers and time.monotonic() < deadline:
            try:
                _, m = ready.get(timeout=0.5)
            except queue.Empty:
                if not all(p.is_alive() for p in procs):
                    raise ServiceError("a server worker exited before it was ready; see the log") from None
                continue
            bound.append(m)
        if len(bound) < workers:
            raise ServiceError(f"{workers - len(bound)} of {workers} server workers were not ready within 120 s; see the log")
        reserved.close()
        ports = sorted(m for m in bound if m is not None)
        record(port, ports[0] if ports else None, ports or None)
        while not stop.wait(0.5):
            if not all(p.is_alive() for p in procs):
                raise ServiceError("a server worker process exited; see the log")
    finally:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(timeout=options.grace_s + 10)


def health_status(target: str, timeout_s: float = 1.0) -> str:
    """The overall health (``SERVING``, ``NOT_SERVING``, ...) of the server at ``target``.

    Returns ``UNREACHABLE`` when no answer came within ``timeout_s``.
    """
    channel = grpc.insecure_channel(target)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.RpcError:
        return "UNREACHABLE"
    finally:
        channel.close()


def start_background(
    settings: Settings,
    port: int | None = None,
    *,
    host: str | None = None,
    metrics_port: int | None = None,
    token: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    workers: int = 1,
    edge: bool | None = None,
    timeout_s: float = 90.0,
) -> int:
    """Start ``ringwatch serve`` detached and wait until health says SERVING.

    With TLS, it waits until the server records its state, which it does once it serves: the
    certificate names the service (a DNS name, a CA's), not necessarily the address bound.

    The server's log goes to ``HOME/run/grpc.log``; its pid and port to ``HOME/run/grpc.json``.

    Args:
        settings: Home and defaults (host, port, token).
        port: Port (default ``settings.grpc_port``; 0 picks a free one).
        host: Interface (default ``settings.grpc_host``).
        metrics_port: Prometheus port, or ``None`` for none.
        token: Bearer token to require (default ``settings.grpc_token``); passed by environment.
        tls_cert: PEM certificate (with ``tls_key``) to serve TLS.
        tls_key: PEM key.
        workers: Server processes sharing the port.
        edge: Serve through the Go edge (default ``settings.grpc_edge``).
        timeout_s: How long to wait for SERVING.

    Returns:
        The port the server listens on.

    Raises:
        NotFoundError: No scores published.
        ServiceError: Already running, or it did not come up (the log's tail is included).
    """
    if Home(settings.home).scores.current() is None:
        raise NotFoundError(f"no scores published under {Home(settings.home).scores.root}; run `ringwatch score` first")
    running = background_status(settings)
    if running is not None:
        raise ServiceError(f"a risk server is already running (pid {running['pid']}, port {running['port']}); `ringwatch serve --stop` first")
    run_dir = Home(settings.home).run
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE_FILE
    state_path.unlink(missing_ok=True)
    host = host or settings.grpc_host
    port = settings.grpc_port if port is None else port
    cmd = [sys.executable, "-c", "from ringwatch.cli import main; main()", "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    if settings.grpc_edge if edge is None else edge:
        from services.edge import require_binary

        require_binary(settings.edge_binary)
        cmd += ["--edge"]
    if tls_cert is not None and tls_key is not None:
        cmd += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
    env = {**os.environ, "RINGWATCH_HOME": str(settings.home)}
    token = token if token is not None else settings.grpc_token
    if token:
        env["RINGWATCH_GRPC_TOKEN"] = token
    log_path = run_dir / LOG_FILE
    with log_path.open("ab") as log_fh:
        run_starts = log_fh.tell()  # the log is appended to: an error is quoted from this run's lines only
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with log_path.open("rb") as log_fh:
                log_fh.seek(run_starts)
                tail = log_fh.read().decode(errors="replace").strip().splitlines()[-5:]
            raise ServiceError(f"the risk server exited with code {proc.returncode}: {' | '.join(tail)} (log: {log_path})")
        try:
            state = json.loads(state_path.read_text())
        except (OSError, json.JSONDecodeError):
            state = None
        if state and state.get("pid") == proc.pid:
            # with TLS the certificate names the service (a DNS name, a CA), not this address, so a
            # verified check here could never pass: the server records its state only once it serves
            if tls_cert is not None or health_status(address_of(host, state["port"]), 1.0) == "SERVING":
                return int(state["port"])
        time.sleep(0.1)
    proc.terminate()
    raise ServiceError(f"the risk server did not report SERVING within {timeout_s:.0f}s (log: {log_path})")


def stop_background(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop the background server gracefully (SIGTERM, then SIGKILL after ``timeout_s``).

    Returns:
        True when a server was running and is now stopped; False when none was running.
    """
    state = background_status(settings)
    if state is None:
        _state_path(settings).unlink(missing_ok=True)
        return False
    terminate(int(state["pid"]), timeout_s, "the risk server")
    _state_path(settings).unlink(missing_ok=True)
    return True


