"""The file-descriptor budget of a worker: raised to what it needs, or a clear refusal."""

from __future__ import annotations

import resource

from chaos.errors import LoadError

FD_RESERVE = 64  # the interpreter, the control channel, logs, the odd reconnect overlap


def fds_needed(connections: int) -> int:
    return connections + FD_RESERVE


def check_fd_limit(connections: int, *, raise_soft: bool) -> int:
    """Make sure this process may hold `connections` sockets; returns the soft limit.

    Raises the soft limit up to the hard limit when `raise_soft` (the worker process does;
    the controller only checks). Raises LoadError when even the hard limit is too low.
    """
    needed = fds_needed(connections)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
    if needed > ceiling:
        raise LoadError(
            f"a worker needs {needed} file descriptors for {connections} connections but the "
            f"hard limit is {hard}: use more workers (streams are spread evenly) or raise "
            f"`ulimit -Hn`"
        )
    if raise_soft and soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft
