"""The fields a run resolves `${VAR}` in, and a check that each resolves to a usable value,
so that what validate (with --env) and plan accept, run accepts too."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from chaos.errors import SpecError
from chaos.spec.drill import Drill
from chaos.spec.environment import Environment
from chaos.spec.text import first_control
from chaos.spec.urls import url_problem
from chaos.spec.yamlmap import Loc

Problem = tuple[Loc, str]
# An http(s) URL; an HTTP header value (one line of Latin-1); one line of text (a name, a path).
Shape = Literal["url", "header", "line"]
Field = tuple[Loc, str, Shape]


def environment_fields(env: Environment) -> list[Field]:
    """Every field of `env` whose `${VAR}` references a run (or its cleanup) resolves."""
    fields: list[Field] = [(("target", "base_url"), env.target.base_url, "url"),
                           (("toxiproxy", "api"), env.toxiproxy.api, "url")]
    if env.target.auth is not None:
        fields.append((("target", "auth", "token"), env.target.auth.token, "header"))
    fields += [(("target", "headers", name), value, "header")
               for name, value in getattr(env.target, "headers", {}).items()]
    runtime = env.runtime
    if runtime.kind == "process":
        fields.append((("runtime", "state_file"), runtime.state_file, "line"))
    else:
        for name in ("docker_host", "compose_project"):
            value = getattr(runtime, name)
            if value is not None:
                fields.append((("runtime", name), value, "line"))
    for route_name, route in env.topology.providers.items():
        if route.http_fault is not None:
            fields.append((("topology", "providers", route_name, "http_fault"), route.http_fault, "url"))
    for region_name, region in env.topology.regions.items():
        where: Loc = ("topology", "regions", region_name)
        fields += [((*where, "networks", i), n, "line") for i, n in enumerate(region.networks)]
        for action_name in ("drain", "undrain"):
            action = getattr(region, action_name)
            if action is not None:
                fields.append(((*where, action_name, "url"), action.url, "url"))
    metrics = env.metrics
    fields += [(("metrics", "scrape", i), url, "url") for i, url in enumerate(metrics.scrape)]
    if metrics.prometheus is not None:
        fields.append((("metrics", "prometheus"), metrics.prometheus, "url"))
    fields += [(("metrics", "headers", name), value, "header")
               for name, value in getattr(metrics, "headers", {}).items()]
    return fields


def drill_fields(drill: Drill) -> list[Field]:
    """Every field of `drill` whose `${VAR}` references a run resolves."""
    fields: list[Field] = []
    for i, check in enumerate(drill.steady_state):
        if check.http is not None and check.http.url is not None:
            fields.append((("steady_state", i, "http", "url"), check.http.url, "url"))
        elif check.http is not None and check.http.path is not None:
            fields.append((("steady_state", i, "http", "path"), check.http.path, "line"))
    return fields


def variable_problems(fields: list[Field], environ: Mapping[str, str]) -> list[Problem]:
    """Fields whose `${VAR}` is unset (without a default), malformed, or resolves to text the
    field cannot take. Messages never show a resolved value: it may be a secret."""
    from chaos.spec.envvars import expand_env

    problems: list[Problem] = []
    for loc, value, shape in fields:
        if "${" not in value and shape != "header":
            continue
        try:
            resolved = expand_env(value, environ)
        except SpecError as exc:
            problems.append((loc, exc.issues[0].message))
            continue
        if shape == "url" and url_problem(resolved) is not None:
            problems.append((loc, f"{_source(value)} resolves to something that is not an http:// or "
                                  "https:// URL with a host (and without spaces or control characters)"))
        elif shape != "url" and first_control(resolved) is not None:
            problems.append((loc, f"{_source(value)} resolves to text with a control character "
                                  "(a line break would split the request it goes into)"))
        elif shape == "header" and not _latin1(resolved):
            problems.append((loc, f"{_source(value)} resolves to text an HTTP header cannot carry "
                                  "(characters beyond Latin-1)"))
    return problems


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _source(value: str) -> str:
    """What a message says a value came from: the variables it names, never the text (a
    literal token or a `${VAR:-default}` default may be a secret)."""
    names = sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", value)))
    return "the value of " + ", ".join(f"${{{n}}}" for n in names) if names else "the value"
