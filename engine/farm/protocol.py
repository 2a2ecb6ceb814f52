"""What the bot and the farm workers agree on: Redis key names, the wire format, the URL rules.

Redis is a courier here, never a record: the journal decides who renders what and which
attempt counts. Redis carries the jobs ready to render (arq queues, one per preset, so a
worker only ever sees jobs it can render), short-lived liveness and progress keys, cancel
flags, and the results. Everything travels as JSON: arq's default pickle would run code for
anyone who can write to Redis, and Redis is reached by rented machines.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any
from urllib.parse import urlparse

PREFIX = "promptreel"
RENDER_FUNCTION = "render"
# Where finished, cancelled and failed attempts are reported; the bot pops them in order.
RESULTS_KEY = f"{PREFIX}:results"
# Every worker ever seen, with what it last said (for the pool view's "last seen").
SEEN_KEY = f"{PREFIX}:seen"
# arq's own key prefixes (arq.constants), used to take an abandoned attempt out of its queue.
ARQ_JOB_PREFIX = "arq:job:"
ARQ_IN_PROGRESS_PREFIX = "arq:in-progress:"


class FarmConfigError(Exception):
    """The farm cannot start as configured; the message is one line for the owner."""


def queue_name(preset: str) -> str:
    """One arq queue per preset: a worker of another preset never even sees the job."""
    return f"{PREFIX}:queue:{preset}"


def arq_job_id(job_id: int, attempt: int) -> str:
    """The journal's job and attempt: arq refuses a second job with this id, so one attempt
    is never enqueued twice."""
    return f"job-{job_id}-a{attempt}"


def attempt_key(job_id: int) -> str:
    """The attempt the bot currently wants rendered; a worker starts only if its attempt matches,
    and drops its render when the key names another attempt or `NO_ATTEMPT`."""
    return f"{PREFIX}:attempt:{job_id}"


NO_ATTEMPT = "0"  # attempts count from 1: the bot wants none of this job's attempts rendered


def run_key(job_id: int, attempt: int) -> str:
    """Set (short TTL) by the worker rendering this attempt, with its progress."""
    return f"{PREFIX}:run:{job_id}:{attempt}"


def cancel_key(job_id: int) -> str:
    return f"{PREFIX}:cancel:{job_id}"


def worker_key(name: str) -> str:
    """Set (short TTL) by a live worker: its preset, what it renders, how many it finished."""
    return f"{PREFIX}:worker:{name}"


WORKER_PATTERN = f"{PREFIX}:worker:*"
# Set by the bot, never expiring: when it is missing, Redis has forgotten everything (restarted
# without persistence, flushed), and the attempts it carried are sent again, uncounted.
EPOCH_KEY = f"{PREFIX}:epoch"


def dumps(value: Any) -> bytes:
    """arq's `job_serializer`: JSON, so nothing read from Redis can run code."""
    return json.dumps(value, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """arq's `job_deserializer`."""
    return json.loads(data)


def encode_clip_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_clip_bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redis_url(url: str | None) -> str:
    """The URL, or `FarmConfigError` saying in one line why the farm must not use it."""
    if not url:
        raise FarmConfigError("the redis backend needs PROMPTREEL_REDIS_URL (or --redis URL)")
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise FarmConfigError(
            f"the Redis URL must start with redis://, rediss:// or unix://, not {parsed.scheme}://"
        )
    if parsed.scheme != "unix" and not parsed.password and not _is_loopback(parsed.hostname or ""):
        raise FarmConfigError(
            f"Redis at {parsed.hostname} is not on this machine and the URL has no password; "
            "use redis://:PASSWORD@host:port (requirepass in redis.conf), rediss:// for TLS"
        )
    return url


def safe_url(url: str) -> str:
    """The URL for logs, without its password."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return url


def redis_settings(url: str) -> Any:
    """arq's RedisSettings for `url` (TLS for rediss://), retrying a lost connection quietly."""
    from arq.connections import RedisSettings

    settings = RedisSettings.from_dsn(check_redis_url(url))
    settings.conn_retries = 0
    settings.conn_timeout = 2
    return settings
