"""Undo what a run left behind: replay a journal's open entries, or clean a whole environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import ChaosError, CleanupError, FaultError
from chaos.faults.executor import Executor
from chaos.faults.journal import JOURNAL_NAME, Journal, open_entries, read_journal
from chaos.faults.process_runtime import process_state
from chaos.faults.revert import revert_primitive
from chaos.faults.scenarios import targets_for
from chaos.faults.toxics import TOXIC_PREFIX
from chaos.redact import redact_text

if TYPE_CHECKING:
    from chaos.spec.environment import Environment


def journal_path_of(path: Path) -> Path:
    """A run directory's journal, or the journal file itself."""
    path = Path(path)
    return path / JOURNAL_NAME if path.is_dir() else path


async def replay_journal(journal_path: Path, *, timeout_s: float = 20.0) -> list[str]:
    """Revert every applied-but-not-reverted primitive (reverse order); returns what was done.

    Each revert is journalled, so replaying twice is harmless. Raises FaultError listing the
    primitives that could not be reverted, after trying all of them. The journal's `${VAR}`
    are resolved from this process's environment; what is returned or raised is redacted
    (the watchdog writes it to its log).
    """
    path = journal_path_of(journal_path)
    targets, _run_id, entries = read_journal(path)
    pending = open_entries(entries, path)
    done: list[str] = []
    failures: list[str] = []
    if not pending:
        return done
    journal = Journal.append_to(path)
    try:
        async with Executor(targets) as executor:
            for entry in reversed(pending):
                try:
                    method = await revert_primitive(executor, entry.primitive, timeout_s=timeout_s)
                except FaultError as exc:
                    failures.append(redact_text(str(exc)))
                    journal.write({"type": "revert_failed", "seq": entry.seq, "error": str(exc),
                                   "by": f"replay pid {os.getpid()}"})
                    continue
                journal.write({"type": "reverted", "seq": entry.seq, "method": method,
                               "by": f"replay pid {os.getpid()}"})
                done.append(redact_text(f"reverted ({method}) {entry.fault_id}: "
                                        f"{entry.primitive.describe()}"))
    finally:
        journal.close()
    if failures:
        raise CleanupError(str(path), done, failures)
    return done


async def cleanup_environment(env: Environment) -> list[str]:
    """Remove every framework toxic (name prefix `chaos_`) from the environment's Toxiproxy,
    enable every proxy its topology names, and bring back its stopped or paused services."""
    targets = targets_for(env)
    done: list[str] = []
    failures: list[str] = []
    topo = env.topology
    named = {p for r in topo.providers.values() for p in r.proxies}
    named |= {p for r in topo.regions.values() for p in r.proxies}
    if topo.redis is not None:
        named |= set(topo.redis.proxies)
    async with Executor(targets) as executor:
        if targets.toxiproxy_api:
            try:
                proxies = await executor.toxiproxy.proxies()
                for name, proxy in sorted(proxies.items()):
                    for toxic in proxy.toxics:
                        if toxic.name.startswith(TOXIC_PREFIX):
                            await executor.toxiproxy.delete_toxic(name, toxic.name)
                            done.append(f"removed toxic {toxic.name} from {name}")
                    if name in named and not proxy.enabled:
                        await executor.toxiproxy.enable(name)
                        done.append(f"enabled proxy {name}")
                lost = sorted(named - set(proxies))
                if lost:
                    # A restarted Toxiproxy comes back empty: nothing to revert, nothing linked.
                    failures.append(
                        f"toxiproxy: {len(lost)} proxy(ies) the environment names are missing "
                        f"({', '.join(lost)}): Toxiproxy lost them (restarted?); recreate the "
                        "proxies (the embedded testbed: `chaos testbed down`, then `up`), then run cleanup again")
            except ChaosError as exc:
                failures.append(f"toxiproxy: {exc}")
        for service, ref in sorted(env.services.items()):
            try:
                if ref.ref_kind == "process":
                    comp = executor.process.component(ref.ref_name)
                    was = process_state(comp.pid)
                    if was in ("T", "t"):
                        await executor.process.resume(ref.ref_name)
                        done.append(f"resumed process {service} (pid {comp.pid})")
                    else:
                        await executor.process.ensure_running(ref.ref_name)
                        if executor.process.component(ref.ref_name).pid != comp.pid:
                            done.append(f"restarted process {service}")
                    continue
                from chaos.faults.docker_runtime import compose_ref

                target = (ref.ref_name if ref.ref_kind == "container"
                          else compose_ref(targets.compose_project, ref.ref_name))
                for container in await executor.docker.resolve(target):
                    status = await executor.docker.status(container)
                    if status != "running":
                        await executor.docker.start(container)
                        done.append(f"started container {container} (was {status})")
            except ChaosError as exc:
                failures.append(f"{service}: {exc}")
        if targets.runtime == "docker":
            failures += await _reconnect_regions(env, executor, done)
    if failures:
        raise CleanupError(env.name, done, failures)
    return done


async def _reconnect_regions(env: Environment, executor: Executor, done: list[str]) -> list[str]:
    """Reattach each region's containers to the Docker networks the region lists (a partition
    whose journal is lost). The saved aliases are gone with the journal, so a compose service
    gets back its service name, the alias compose gives it; a plain container its name."""
    from chaos.faults.docker_runtime import compose_ref
    from chaos.faults.scenarios import expand_env

    failures: list[str] = []
    project = targets_for(env).compose_project
    for region_name, region in sorted(env.topology.regions.items()):
        networks = [expand_env(n, where=f"topology.regions.{region_name}.networks[{i}]")
                    for i, n in enumerate(region.networks)]
        for service in region.services if networks else ():
            ref = env.services.get(service)
            if ref is None or ref.ref_kind == "process":
                continue
            target = ref.ref_name if ref.ref_kind == "container" else compose_ref(project, ref.ref_name)
            try:
                for container in await executor.docker.resolve(target):
                    attached = await executor.docker.networks(container)
                    for network in networks:
                        if network not in attached:
                            await executor.docker.connect(container, network, [ref.ref_name])
                            done.append(f"reconnected container {container} to {network} "
                                        f"(alias {ref.ref_name})")
            except ChaosError as exc:
                failures.append(f"{region_name}/{service}: {exc}")
    return failures
