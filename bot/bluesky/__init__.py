"""The Bluesky surface: mentions read with atproto's async client, clips through the video service."""

from bot.bluesky.adapter import BlueskyAdapter

__all__ = ["BlueskyAdapter"]
