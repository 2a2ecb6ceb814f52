"""Le français de `bot.social.texts`: what Promptreel posts on a social network, in French."""

from __future__ import annotations

from bot.locales.fr.texts import format_eta, queue_line
from bot.social.texts import MAX_ALT, MAX_REPLY, _cut

__all__ = ["MAX_ALT", "MAX_REPLY"]  # limits of the networks, the same in every language


def clip_reply(prompt: str) -> str:
    return _cut(f"Voici votre vidéo : « {_cut(prompt, 200)} »")


def alt_text(prompt: str) -> str:
    return _cut(f"Vidéo générée par IA : {prompt}", MAX_ALT)


def queued(position: int, eta_s: float) -> str:
    return f"En file : {queue_line(position, eta_s)}. Je répondrai ici avec la vidéo."


def refused(reason: str, category: str | None, retry_after_s: float | None) -> str | None:
    if reason == "policy":
        return _cut(
            f"Désolé, je ne peux pas faire celle-ci : elle relève de « {category or 'non autorisé'} »."
        )
    if reason == "banned":
        return None
    if reason in ("rate_limited", "too_many_waiting", "busy", "guild_busy", "paused", "unavailable"):
        later = f" dans {format_eta(retry_after_s)}" if retry_after_s else " plus tard"
        return f"Je suis trop occupé pour l'instant. Réessayez{later}."
    return None


def invalid(detail: str) -> str:
    return _cut(f"Je n'ai pas pu lire ce prompt : {detail}")


NO_PROMPT = (
    "Mentionnez-moi avec ce que vous aimeriez voir, par ex. "
    "« un bateau en papier sous la pluie --frames 16 »."
)
FAILED = "Désolé, le rendu de cette vidéo a échoué."
CANNOT_UPLOAD = "Désolé, j'ai publié toutes les vidéos permises aujourd'hui. Redemandez demain."
CANCELLED = "Cette vidéo a été annulée."


def undeliverable(reason: str) -> str:
    return _cut(f"Désolé, j'ai fait votre vidéo mais je n'ai pas pu la publier ({reason}).")
