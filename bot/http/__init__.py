"""The owner's HTTP server: /healthz, /readyz, /metrics and the dashboard, run with the core.

- `server`: the aiohttp server, its routes and who may see the dashboard;
- `metrics`: the Prometheus metrics, each `promptreel_*`;
- `views`: what the endpoints read from the core (readiness, workers seen, dashboard data);
- `dashboard`: the page's markup; `texts`: every sentence it says.

Hosts call `attach(core)` before `core.start()`: with `PROMPTREEL_HTTP_PORT` set, the server
then starts and stops with the core.
"""

from __future__ import annotations

from bot.core import Core
from bot.http.server import HttpServer


def attach(core: Core) -> HttpServer | None:
    """The core's HTTP server, registered to run with it; None when no port is configured."""
    if core.settings.http_port is None:
        return None
    server = HttpServer(core)
    core.add_service(server)
    return server


__all__ = ["HttpServer", "attach"]
