"""OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), which X API v2 takes for user-context calls.

The signature covers the method, the URL without its query, and every query and OAuth
parameter (a JSON or multipart body is not part of it), so a request cannot be replayed with
other parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote


def _enc(value: str) -> str:
    return quote(value, safe="~-._")


def signature(
    method: str, url: str, params: Mapping[str, str], consumer_secret: str, token_secret: str
) -> str:
    pairs = sorted((_enc(k), _enc(v)) for k, v in params.items())
    normal = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join([method.upper(), _enc(url), _enc(normal)])
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def authorization(
    method: str,
    url: str,
    query: Mapping[str, str],
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
) -> str:
    """The `Authorization: OAuth ...` header for one request."""
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    oauth["oauth_signature"] = signature(method, url, {**query, **oauth}, consumer_secret, token_secret)
    return "OAuth " + ", ".join(f'{_enc(k)}="{_enc(v)}"' for k, v in sorted(oauth.items()))
