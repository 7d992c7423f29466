"""`chaos fault-proxy`: an HTTP fault point between a gateway and one provider."""

from __future__ import annotations

from typing import Annotated

import typer

from chaos.errors import ExitCode


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("fault-proxy")(fault_proxy)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        typer.echo(f"chaos fault-proxy: --listen: expected HOST:PORT, got {value!r}", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    return host.strip("[]"), int(port)


def fault_proxy(
    upstream: Annotated[str, typer.Option("--upstream", help="The provider's base URL (http:// or https://), e.g. https://api.openai.com.")],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT the gateway sends its provider requests to.")] = "127.0.0.1:8089",
    protocol: Annotated[str, typer.Option("--protocol", help="The upstream's wire format: openai or anthropic (error bodies, in-band errors, content events).")] = "openai",
    name: Annotated[str, typer.Option("--name", help="Route name the admin API answers with.")] = "upstream",
    fault_path: Annotated[list[str] | None, typer.Option("--fault-path", help="Path suffix of the POSTs faults apply to (repeatable; default: the protocol's chat endpoints).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the per-request draw (reproducible shares).")] = None,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="CA bundle that signs a TLS upstream's certificate (default: the system's).")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify the upstream's TLS certificate (tests only).")] = False,
    read_timeout_s: Annotated[float, typer.Option("--read-timeout", help="Seconds between two reads of an upstream answer before it counts as failed.")] = 600.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
) -> None:
    """Forward HTTP/1.1 and SSE to one provider; `/__chaos/fault` switches 429/5xx answers and
    broken, truncated or stalled streams on and off (docs/faultproxy.md)."""
    from chaos.faultproxy import PROTOCOLS, ProxyConfig, serve

    host, port = _listen(listen)
    if protocol not in PROTOCOLS:
        typer.echo(f"chaos fault-proxy: --protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    if not upstream.startswith(("http://", "https://")):
        typer.echo("chaos fault-proxy: --upstream: expected an http:// or https:// URL", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    if read_timeout_s <= 0 or read_timeout_s != read_timeout_s or read_timeout_s == float("inf"):
        typer.echo("chaos fault-proxy: --read-timeout: expected a finite number of seconds > 0", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    config = ProxyConfig(upstream=upstream, listen_host=host, listen_port=port,
                         protocol=protocol,  # checked against PROTOCOLS above
                         name=name, fault_paths=tuple(fault_path) if fault_path else None, seed=seed,
                         ca_file=ca_file, insecure=insecure, read_timeout_s=read_timeout_s)
    typer.echo(f"fault proxy {name}: http://{host}:{port} -> {config.upstream_origin} "
               f"({protocol}); switch at http://{host}:{port}/__chaos/fault", err=True)
    serve(config, log_level=log_level)
