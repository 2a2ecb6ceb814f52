"""The X surface (optional: every post costs money): API v2 over aiohttp, OAuth 1.0a user tokens."""

from bot.x.adapter import XAdapter

__all__ = ["XAdapter"]
