"""The chat workflow every surface shares.

- `core`: `Core`, started and stopped with the process;
- `intake`: a prompt becomes a job or a refusal; `commands`: a member's commands;
- `delivery`: the dispatcher that follows jobs to their replies, exactly once;
- `runtime`: the in-process render worker; `answers`: `Requester` and `Answer`.

What it says to people is in `bot.texts`.
"""

from bot.core.answers import Answer, Requester, info, refused
from bot.core.core import Core
from bot.core.delivery import Adapter, DeliveryError, IdleWait

__all__ = [
    "Adapter",
    "Answer",
    "Core",
    "DeliveryError",
    "IdleWait",
    "Requester",
    "info",
    "refused",
]
