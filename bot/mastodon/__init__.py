"""The Mastodon surface: mentions read with Mastodon.py (off the event loop), clips as replies."""

from bot.mastodon.adapter import MastodonAdapter

__all__ = ["MastodonAdapter"]
