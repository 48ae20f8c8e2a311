"""``ringwatch serve``: the gRPC risk service (foreground, detached, stop, status)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from ringwatch.cli.common import console, emit_json, settings


def register(app: typer.Typer) -> None:
    """Add the ``serve`` verb to ``app``."""

    @app.command("serve")
    def serve(
        host: Annotated[Optional[str], typer.Option(help="Interface to listen on (default: RINGWATCH_GRPC_HOST or 127.0.0.1).")] = None,
        port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Port; 0 picks a free one (default: RINGWATCH_GRPC_PORT or 50051).")] = None,
        metrics_port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Serve Prometheus /metrics on this port (0 picks one).")] = None,
        token: Annotated[Optional[str], typer.Option(help="Require 'authorization: Bearer TOKEN' (default: RINGWATCH_GRPC_TOKEN).")] = None,
        tls_cert: Annotated[Optional[Path], typer.Option(help="PEM certificate chain; with --tls-key serves TLS only.")] = None,
        tls_key: Annotated[Optional[Path], typer.Option(help="PEM private key for --tls-cert.")] = None,
        workers: Annotated[int, typer.Option(min=1, help="Processes sharing the port with SO_REUSEPORT (use every core).")] = 1,
        edge: Annotated[Optional[bool], typer.Option(
            "--edge/--no-edge", help="Serve through the Go edge (edge/; default: RINGWATCH_GRPC_EDGE); Python runs behind it."
        )] = None,
        detach: Annotated[bool, typer.Option("--detach", help="Run in the background; wait until SERVING and print the port.")] = False,
        stop: Annotated[bool, typer.Option("--stop", help="Stop the background server.")] = False,
        status: Annotated[bool, typer.Option("--status", help="Show whether a server runs, and where.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Serve risk scores over gRPC (RiskService, health, reflection), hot-swapping new score sets."""
        from services.grpc_server import (
            ServerOptions,
            address_of,
            background_status,
            health_status,
            serve_from_settings,
            start_background,
            stop_background,
        )

        cfg = settings()
        use_edge = cfg.grpc_edge if edge is None else edge
        if stop:
            stopped = stop_background(cfg)
            if json_out:
                emit_json({"stopped": stopped})
            console.print("risk server stopped" if stopped else "no risk server was running")
            return
        if status:
            state = background_status(cfg)
            if state is not None and not state.get("tls"):
                state["health"] = health_status(address_of(state["host"], state["port"]))
            if json_out:
                emit_json({"running": state is not None, **(state or {})})
            elif state is None:
                console.print("no risk server running")
            else:
                metrics = state.get("metrics_port")
                console.print(f"risk server pid {state['pid']} on {state['host']}:{state['port']} ({state.get('health', 'TLS')}), "
                              f"{'no metrics port' if metrics is None else f'metrics port {metrics}'}, "
                              f"score set {state.get('score_version')}")
            if state is None:
                raise typer.Exit(3)
            return
        if detach:
            bound = start_background(
                cfg, port, host=host, metrics_port=metrics_port, token=token, tls_cert=tls_cert, tls_key=tls_key, workers=workers,
                edge=use_edge,
            )
            if json_out:
                emit_json({"port": bound, "host": host or cfg.grpc_host})
            else:
                typer.echo(bound)
                console.print(f"risk server SERVING on {host or cfg.grpc_host}:{bound}; stop it with `ringwatch serve --stop`")
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        options = ServerOptions(token=token if token is not None else cfg.grpc_token, tls_cert=tls_cert, tls_key=tls_key)

        def ready(bound: int, bound_metrics: int | None) -> None:
            console.print(f"risk server{' (Go edge)' if use_edge else ''} listening on {host or cfg.grpc_host}:{bound}"
                          + (f", metrics on :{bound_metrics}/metrics" if bound_metrics is not None else ""))

        serve_from_settings(cfg, host=host, port=port, metrics_port=metrics_port, options=options, workers=workers,
                            edge=use_edge, on_ready=ready)
