"""`chaos slo show [--tier X] [--gate M3]`: the SLO catalog as rich tables."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `slo` command group to the app."""
    slo = typer.Typer(help="The SLO catalog: tiers, milestone gates and rollback triggers.",
                      no_args_is_help=True)

    @slo.command("show")
    def show(
        tier: str | None = typer.Option(None, "--tier", help="Only this tier (L, G or X)."),
        gate: str | None = typer.Option(None, "--gate", help="Only this gate (M1, M2 or M3) and its tier."),
    ) -> None:
        """Print tiers, gates and rollback triggers exactly as the catalog holds them."""
        from rich.console import Console
        from rich.table import Table

        from chaos.slo import catalog

        try:
            gates = [catalog.gate(gate)] if gate else list(catalog.GATES.values())
            if tier:
                tiers = [catalog.tier(tier)]
            elif gate:
                tiers = [catalog.tier(gates[0].tier)]
                if gates[0].failover_drill_tier:
                    tiers.append(catalog.tier(gates[0].failover_drill_tier))
            else:
                tiers = list(catalog.TIERS.values())
        except catalog.CatalogError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(int(exc.exit_code)) from None
        if tier and not gate:
            gates = [g for g in gates if g.tier == tiers[0].name]

        console = Console()
        if console.width < 150:  # the tables are wide; wrapping numbers would garble them
            console = Console(width=150)
        console.print(f"SLO catalog {catalog.CATALOG_VERSION} ({catalog.CATALOG_SOURCE})")
        t = Table(title="Tiers")
        for col in ("tier", "streams", "availability", "2xx", "5xx", "429", "p95 first token",
                    "p95 completion"):
            t.add_column(col, justify="right" if col != "tier" else "left")
        for x in tiers:
            t.add_row(f"{x.name} ({x.title})", f"{x.streams:,}", f">= {x.availability_min:.2%}",
                      f">= {x.rate_2xx_min:.1%}", f"<= {x.rate_5xx_max:.1%}",
                      f"<= {x.rate_429_max:.1%}", f"<= {x.p95_first_token_ms_max:,.0f} ms",
                      f"<= {x.p95_completion_ms_max:,.0f} ms")
        console.print(t)
        if gates:
            g_table = Table(title="Milestone gates")
            for col in ("gate", "tier", "profile", "min soak", "circuit open max", "queue age max",
                        "requirements"):
                g_table.add_column(col)
            for g in gates:
                g_table.add_row(g.name, g.tier, f"{g.profile} ({catalog.profile(g.profile).streams:,} streams, closed)",
                                f"{g.min_soak_s / 60:.0f}m", f"{g.circuit_open_max_s:.0f}s",
                                f"<= {g.queue_age_max_s:.0f}s", "\n".join(g.requirements))
            console.print(g_table)
        r_table = Table(title="Rollback triggers (1-minute windows)")
        r_table.add_column("id")
        r_table.add_column("condition")
        for r in catalog.ROLLBACK_TRIGGERS:
            r_table.add_row(r.id, r.description)
        console.print(r_table)

    app.add_typer(slo, name="slo")
