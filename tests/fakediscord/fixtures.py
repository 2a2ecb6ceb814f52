"""pytest fixtures for the fake Discord.

Register with ``pytest_plugins = ["tests.fakediscord.fixtures"]`` in the top-level
``tests/conftest.py`` (or import ``fake_discord`` into a conftest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started ``FakeDiscord`` on 127.0.0.1:<random port>; clients started through it and the
    server itself are shut down at teardown."""
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def make_fake_discord() -> AsyncIterator[Callable[..., Awaitable[FakeDiscord]]]:
    """Factory for a fake with non-default settings: ``fake = await make_fake_discord(
    text_channels=("general", "renders"), extra_roles=("Renderer",), upload_limit=1024)``.
    Every fake made is stopped at teardown."""
    made: list[FakeDiscord] = []

    async def make(**kwargs: Any) -> FakeDiscord:
        fake = await FakeDiscord(**kwargs).start()
        made.append(fake)
        return fake

    yield make
    for fake in reversed(made):
        await fake.stop()
