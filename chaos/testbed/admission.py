"""Redis-backed admission: a per-subject sliding-window rate limit and a global concurrency cap."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import anyio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chaos.testbed.config import GatewaySettings

_INFLIGHT_KEY = "tb:inflight"
# A stream's entry in the in-flight set expires after this long even if its gateway died
# without releasing it, so a crash cannot shrink the global cap for good.
_LEASE_S = 600.0


class RedisUnavailable(Exception):
    """Redis did not answer within the configured timeout."""


@dataclass(frozen=True)
class Decision:
    """`allow`, `fail_open` (Redis down, admitted anyway), `rate_limited` or `overloaded`."""

    plan: str
    retry_after_s: float | None = None
    holds_slot: bool = False  # True when release() must remove the request from the in-flight set

    @property
    def admitted(self) -> bool:
        return self.plan in ("allow", "fail_open")


class Admission:
    def __init__(self, redis_port: int, settings: GatewaySettings, host: str = "127.0.0.1") -> None:
        self.settings = settings
        self.redis = Redis(
            host=host, port=redis_port, socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s, retry=Retry(NoBackoff(), 1),  # one reconnect: pooled sockets die with redis
            max_connections=256,
        )
        self.redis_up = True

    async def admit(self, subject: str, request_id: str) -> Decision:
        """Raise RedisUnavailable (fail-closed) or return the decision."""
        s = self.settings
        now = time.time()
        try:
            with anyio.fail_after(s.redis_timeout_s):
                pipe = self.redis.pipeline(transaction=False)
                key = f"tb:rl:{subject}"
                if s.rate_limit_requests:
                    # Sliding-window log: one member per admitted request in the last window.
                    pipe.zremrangebyscore(key, "-inf", now - s.rate_limit_window_s)
                    pipe.zadd(key, {request_id: now})
                    pipe.zcard(key)
                    pipe.zrange(key, 0, 0, withscores=True)
                    pipe.expire(key, math.ceil(s.rate_limit_window_s) + 1)
                pipe.zremrangebyscore(_INFLIGHT_KEY, "-inf", now - _LEASE_S)
                pipe.zadd(_INFLIGHT_KEY, {request_id: now})
                pipe.zcard(_INFLIGHT_KEY)
                results = await pipe.execute()
                self.redis_up = True
                in_flight = int(results[-1])
                if s.rate_limit_requests and int(results[2]) > s.rate_limit_requests:
                    oldest = float(results[3][0][1]) if results[3] else now
                    undo = self.redis.pipeline(transaction=False)
                    undo.zrem(key, request_id)
                    undo.zrem(_INFLIGHT_KEY, request_id)
                    await undo.execute()
                    return Decision("rate_limited", max(0.0, oldest + s.rate_limit_window_s - now))
                if in_flight > s.concurrency_cap:
                    await self.redis.zrem(_INFLIGHT_KEY, request_id)
                    return Decision("overloaded", 1.0)
                return Decision("allow", holds_slot=True)
        except (RedisError, OSError, TimeoutError) as exc:
            self.redis_up = False
            if s.fail_open:
                return Decision("fail_open")
            raise RedisUnavailable(f"redis: {type(exc).__name__}") from None

    async def release(self, request_id: str) -> bool:
        """Remove the request from the in-flight set; False when Redis did not answer
        (the entry's lease then expires it)."""
        try:
            with anyio.fail_after(self.settings.redis_timeout_s):
                await self.redis.zrem(_INFLIGHT_KEY, request_id)
        except (RedisError, OSError, TimeoutError):
            self.redis_up = False
            return False
        return True

    async def ping(self) -> bool:
        try:
            with anyio.fail_after(self.settings.redis_timeout_s):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError):
            self.redis_up = False
        else:
            self.redis_up = True
        return self.redis_up

    async def close(self) -> None:
        await self.redis.aclose()
