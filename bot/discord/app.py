"""Building the bot: the client and the cogs it serves, wired but not connected.

`python -m bot`, the tests and the benches all start the bot through `create_bot`, so they run
the same commands, listeners and workers (which start in `PromptreelBot.setup_hook`).
"""

from __future__ import annotations

from bot.config import Settings
from bot.core import IdleWait
from bot.discord.client import CogFactory, PromptreelBot
from bot.discord.cogs.info import Info
from bot.discord.cogs.mod import Mod
from bot.discord.cogs.verify import Verify
from bot.discord.cogs.video import Video

# Added in this order, which is the order of the command list synced to Discord (/video first,
# /mod, then the newer /verify last): reordering them changes the sync digest and so costs one
# extra sync.
COGS: tuple[CogFactory, ...] = (Video, Info, Mod, Verify)


def create_bot(settings: Settings, *, idle_wait: IdleWait | None = None) -> PromptreelBot:
    """The fully wired bot, not yet connected: commands, views and workers start in setup_hook."""
    return PromptreelBot(settings, cogs=COGS, idle_wait=idle_wait)
