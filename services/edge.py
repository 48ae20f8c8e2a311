"""Launch the Go edge (``edge/``, binary ``ringwatch-edge``) in front of the Python risk service.

The edge is the data plane: it listens on the public address and answers ``GetRiskScore`` and
``BatchGetRiskScores`` itself, from the same verified ``.npy`` columns the Python
:class:`~services.score_store.ScoreStore` writes (it follows the store's pointer file and
hot-swaps when it changes), and forwards ``ExplainRiskScore``, ``GetRing`` and
``WatchRiskScores`` to the Python grpc.aio server, which runs as its backend on a loopback port
chosen by the kernel. Health, reflection, the bearer token, TLS and Prometheus metrics are the
edge's; the backend also checks the token (the edge forwards the caller's metadata).

:class:`EdgeServer` starts and stops the pair (tests, tools); :func:`run_edge` serves in the
foreground until SIGTERM or SIGINT (``ringwatch serve --edge``) and then stops the edge first,
letting its in-flight calls drain, then the backend.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ringwatch.errors import ConfigError, ServiceError
from services.grpc_server import ServerOptions, ServerThread
from services.score_store import ScoreStore

TOKEN_ENV = "RINGWATCH_GRPC_TOKEN"
"""The edge reads its bearer token from this variable, so the token stays out of ``ps``."""
BUILD_HINT = "run ./scripts/bootstrap to build it (needs Go 1.26+)"


def require_binary(binary: Path) -> Path:
    """Return ``binary`` if the edge has been built there.

    Raises:
        ConfigError: When it is missing or not executable, saying how to build it.
    """
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise ConfigError(f"the Go edge is not built: no executable at {binary}; {BUILD_HINT}")
    return binary


class EdgeServer:
    """The Python backend on loopback plus the edge process on the public address.

    The backend is a :class:`~services.grpc_server.ServerThread` in this process (plaintext:
    TLS ends at the edge). The store must have a cache directory, because the edge maps the
    columns its pointer file names. Like ``ServerThread``, this does not poll ``CURRENT``: call
    ``store.refresh()`` or ``store.start_watcher()``.

    Args:
        address: Public ``host:port`` of the edge (port 0 picks one; read :attr:`port`).
        store: The score store; its pointer file is what the edge follows.
        binary: The ``ringwatch-edge`` executable.
        options: Token, TLS, limits and grace period, applied by the edge (token also by the backend).
        metrics_address: ``host:port`` for the edge's Prometheus ``/metrics`` (``None``: none).
        poll_interval_s: How often the edge checks the pointer file.
        start_timeout_s: How long to wait for the edge to listen.
    """

    def __init__(
        self,
        address: str,
        store: ScoreStore,
        binary: Path,
        options: ServerOptions | None = None,
        *,
        metrics_address: str | None = None,
        poll_interval_s: float = 0.5,
        start_timeout_s: float = 30.0,
    ) -> None:
        if store.pointer_path is None:
            raise ConfigError("the edge needs a score store with a cache directory (it maps the cached columns)")
        self.address = address
        self.store = store
        self.binary = require_binary(binary)
        self.options = options or ServerOptions()
        self.metrics_address = metrics_address
        self.poll_interval_s = poll_interval_s
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.metrics_port: int | None = None
        self.backend: ServerThread | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeServer:
        """Start the backend, then the edge, and wait until the edge listens.

        Raises:
            ServiceError: When either cannot bind, or the edge exits or stays silent.
        """
        backend_options = dataclasses.replace(self.options, tls_cert=None, tls_key=None, reuse_port=False)
        self.backend = ServerThread("127.0.0.1:0", self.store, backend_options).start()
        try:
            self._start_edge(self.backend.port)
        except BaseException:
            self.backend.stop()
            raise
        return self

    def _command(self, backend_port: int, ready_file: Path) -> list[str]:
        opts = self.options
        cmd = [
            str(self.binary), "-listen", self.address, "-backend", f"127.0.0.1:{backend_port}",
            "-pointer", str(self.store.pointer_path), "-ready-file", str(ready_file),
            "-poll", f"{self.poll_interval_s}s", "-grace", f"{opts.grace_s}s", "-max-batch", str(opts.max_batch),
            "-max-recv-bytes", str(opts.max_receive_bytes), "-max-send-bytes", str(opts.max_send_bytes),
        ]
        if self.metrics_address is not None:
            cmd += ["-metrics-listen", self.metrics_address]
        if opts.tls_cert is not None and opts.tls_key is not None:
            cmd += ["-tls-cert", str(opts.tls_cert), "-tls-key", str(opts.tls_key)]
        return cmd

    def _start_edge(self, backend_port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        if self.options.token:
            env[TOKEN_ENV] = self.options.token
        with tempfile.TemporaryDirectory(prefix="ringwatch-edge-") as tmp:
            ready_file = Path(tmp) / "ready.json"
            self.process = subprocess.Popen(self._command(backend_port, ready_file), env=env, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + self.start_timeout_s
            while not ready_file.is_file():
                if self.process.poll() is not None:
                    raise ServiceError(f"the edge exited with code {self.process.returncode} before listening on "
                                       f"{self.address} (its JSON log above says why; is the port taken?)")
                if time.monotonic() > deadline:
                    self._stop_edge(0.0)
                    raise ServiceError(f"the edge did not listen within {self.start_timeout_s:.0f}s")
                time.sleep(0.02)
            ready = json.loads(ready_file.read_text())
        self.port = int(ready["grpc_port"])
        self.metrics_port = int(ready["metrics_port"]) if self.metrics_address is not None else None

    def alive(self) -> bool:
        """Whether the edge process is still running."""
        return self.process is not None and self.process.poll() is None

    def _stop_edge(self, grace_s: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # the edge drains in-flight calls for its -grace
        try:
            self.process.wait(timeout=grace_s + 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self, grace_s: float | None = None) -> None:
        """Stop the edge (graceful drain), then the backend."""
        grace = self.options.grace_s if grace_s is None else grace_s
        self._stop_edge(grace)
        if self.backend is not None:
            self.backend.stop(grace)

    def __enter__(self) -> EdgeServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_edge(
    address: str,
    store: ScoreStore,
    binary: Path,
    options: ServerOptions | None = None,
    *,
    metrics_address: str | None = None,
    on_ready: Callable[[int, int | None], None] | None = None,
) -> None:
    """Serve through the edge in the foreground until SIGTERM or SIGINT.

    Starts the store's ``CURRENT`` watcher (the backend loads new score sets and rewrites the
    pointer file; the edge follows it).

    Args:
        address: Public ``host:port``.
        store: The score store (with a cache directory).
        binary: The ``ringwatch-edge`` executable.
        options: Token, TLS, limits, refresh interval, grace period.
        metrics_address: ``host:port`` for Prometheus ``/metrics`` (``None``: none).
        on_ready: Called with ``(port, metrics_port)`` once the edge listens.

    Raises:
        ServiceError: When the edge cannot start or exits on its own.
    """
    options = options or ServerOptions()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with EdgeServer(address, store, binary, options, metrics_address=metrics_address) as edge:
            store.start_watcher(options.refresh_interval_s)
            try:
                if on_ready is not None:
                    on_ready(edge.port, edge.metrics_port)
                while not stop.wait(0.5):
                    if not edge.alive():
                        raise ServiceError(f"the edge exited with code {edge.process.returncode if edge.process else '?'}; see its log")
            finally:
                store.stop_watcher()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
