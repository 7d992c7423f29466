"""Entry point of one testbed component process: `python -m chaos.testbed.serve NAME CONFIG LOG`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn

from chaos.gcpacing import GCPacing
from chaos.testbed.asgi import Component
from chaos.testbed.config import TestbedConfig, load_config

# A component's hot paths make almost no cyclic garbage, so young collections would only walk
# live streams (10-100 ms pauses at 1,000 streams): they run once the tracked objects grew by
# this many (garbage piling up, e.g. exceptions under a fault), and on the paced clock.
COMPONENT_YOUNG_THRESHOLD = 100_000


def build_app(name: str, config: TestbedConfig, log_path: Path) -> tuple[Component, int]:
    """The ASGI app and port of component `name` (provider-*, gateway-*, router)."""
    from chaos.testbed.gateway import GatewayApp
    from chaos.testbed.provider import ProviderApp
    from chaos.testbed.router import RouterApp

    kind, _, which = name.partition("-")
    if kind == "provider" and which in config.ports.providers:
        return ProviderApp(which, config.provider), config.ports.providers[which]
    if kind == "gateway" and which in config.ports.gateways:
        return GatewayApp(which, config, log_path), config.ports.gateways[which]
    if name == "router":
        return RouterApp(config, log_path), config.ports.router
    raise SystemExit(f"unknown testbed component {name!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.testbed.serve")
    parser.add_argument("name")
    parser.add_argument("config", type=Path, help="resolved config JSON written by the launcher")
    parser.add_argument("log", type=Path, help="request log file (one JSON line per request)")
    args = parser.parse_args(argv)
    if args.config.suffix in (".yaml", ".yml"):  # overrides of the defaults (compose stack)
        config = load_config(args.config)
    else:
        config = TestbedConfig.model_validate(json.loads(args.config.read_text("utf-8")))
    app, port = build_app(args.name, config, args.log)
    # This process is the component's own: pace its collector.
    app.gc_pacing = GCPacing(young_threshold=COMPONENT_YOUNG_THRESHOLD)
    uvicorn.run(app, host=config.listen_host, port=port, loop="uvloop", http="httptools", lifespan="on",
                access_log=False, log_level="warning", backlog=4096, timeout_keep_alive=30)


if __name__ == "__main__":
    main()
