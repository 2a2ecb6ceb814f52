"""One JSON POST to a hosted service the owner configured (moderation, translation).

Both are asked once per prompt while a member waits, so there is one attempt within a timeout
and every way it can go wrong (429, an HTTP error, no answer in time, a broken connection, an
answer that is not JSON) becomes the caller's own exception with one line for the log. The
session is made on first use, inside the running loop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp


class HostedJSON:
    def __init__(
        self,
        url: str,
        *,
        what: str,
        error: type[Exception],
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`what` names the service in messages ("moderation API"); `error` is what is raised."""
        self.url = url
        self.what = what
        self.error = error
        self._headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def post(self, body: Mapping[str, Any]) -> Any:
        """The decoded answer to `body`, or `error` saying in one line why there is none."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            async with self._session.post(self.url, json=dict(body)) as response:
                if response.status == 429:
                    raise self.error(f"{self.what}: rate limited (429)")
                if response.status >= 400:
                    raise self.error(f"{self.what}: HTTP {response.status}")
                return await response.json(content_type=None)
        except TimeoutError:
            raise self.error(f"{self.what}: no answer within {self._timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise self.error(f"{self.what}: {type(exc).__name__}: {exc}") from None
        except json.JSONDecodeError:
            raise self.error(f"{self.what}: the answer is not JSON") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
