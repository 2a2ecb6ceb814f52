"""The state the core's parts (intake, commands) share; `bot.core.core.Core` puts them together."""

from __future__ import annotations

from bot.config import Settings
from bot.core.delivery import Adapter, Dispatcher
from bot.core.events import JobEvents
from bot.core.runtime import Runtime
from bot.policy import PromptPolicy
from bot.policy.layers import Layers
from bot.translation import Translator
from engine.journal import AsyncJournal
from engine.storage import Episodes


class CoreBase:
    settings: Settings
    adapter: Adapter
    policy: PromptPolicy
    # The policy's layers: the lists (`policy`) and the classifiers this bot has configured.
    layers: Layers
    # Prompts that read as not English go through it before the model, when configured.
    translator: Translator | None
    journal: AsyncJournal | None
    dispatcher: Dispatcher | None
    # What renders the jobs: a worker thread of this process or the farm (None: other processes).
    runtime: Runtime | None
    # Intake refused for want of storage: logged once when that starts and once when it ends.
    intake_faults: Episodes
    events: JobEvents

    @property
    def db(self) -> AsyncJournal:
        assert self.journal is not None, "Core.start() first"
        return self.journal

    @property
    def models(self) -> list[str]:
        return [self.settings.model, *[m for m in self.settings.extra_models if m != self.settings.model]]
