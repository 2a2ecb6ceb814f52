"""Le français de `bot.discord.texts`: the same names and signatures, every sentence in French."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bot.discord.texts import short, status_text
from bot.translation import member_prompt

if TYPE_CHECKING:
    from bot.core import Answer
    from engine.credentials import Verdict
    from engine.journal import Job

__all__ = ["short", "status_text"]  # shared with English: no words of their own

# --- replies to a request --------------------------------------------------------------------

DMS_OFF = "Les prompts par message privé sont désactivés ; utilisez /vidéo sur un serveur."
JOB_GONE = "Cette vidéo n'est plus dans le journal."
NOT_YOURS = "Ce n'est pas à vous : seule la personne qui l'a demandée peut faire cela."
DELETED = "Supprimée."
MODS_ONLY = "Seuls les modérateurs peuvent utiliser cette commande."


def retry_text(answer: Answer) -> str:
    """La réponse, avec quand réessayer, sauf si elle le dit déjà."""
    if not answer.retry_after_s or "réessayez dans" in answer.text.lower():
        return answer.text
    return f"{answer.text} (réessayez dans {math.ceil(answer.retry_after_s)} s)"


def command_failed(ref: str) -> str:
    return f"Désolé, quelque chose s'est mal passé (réf. `{ref}`). Réessayez plus tard."


def event_failed(ref: str) -> str:
    return f"Désolé, quelque chose s'est mal passé (réf. `{ref}`)."


# --- a job's status message ------------------------------------------------------------------


def rendering_line(step: int, total: int) -> str:
    bar = "▰" * round(10 * step / max(1, total)) + "▱" * (10 - round(10 * step / max(1, total)))
    return f"Rendu {bar} {step}/{total}"


DONE = "Terminé ↓"
CANCELLED = "Annulée."
RENDER_FAILED = "Désolé, le rendu de celle-ci a échoué. Réessayez, ou avec d'autres options."


def undeliverable_line(reason: str, job_id: int) -> str:
    return (
        f"Votre vidéo est prête, mais je n'ai pas pu la publier ici ({reason}). "
        f"Modérateurs : voir la tâche {job_id}."
    )


CLIP_TOO_LARGE = "la vidéo reste trop lourde pour la limite d'envoi de ce salon"
NO_PERMISSION = "il me manque les permissions pour publier dans ce salon"


def discord_error(status: int) -> str:
    return f"erreur Discord {status}"


# --- the clip --------------------------------------------------------------------------------


def caption(job: Job) -> str:
    r = job.request
    took = f" en {job.render_seconds:.0f} s" if job.render_seconds else ""
    return f"<@{job.user_id}> **{short(member_prompt(job))}**\ngraine {r.seed} · {r.model}{took}"


# --- buttons and the remix modal -------------------------------------------------------------

BUTTON_LABELS = {
    "reroll": "Relancer",
    "remix": "Remixer",
    "info": "Infos",
    "delete": "Supprimer",
    "cancel": "Annuler",
    "report": "Signaler",
    "extend": "Prolonger",
}
IMAGE_TOO_BIG = "Cette image est trop lourde pour partir d'elle ; envoyez-en une de moins de 20 Mo."
REMIX_TITLE = "Remixer cette vidéo"
REMIX_PROMPT_LABEL = "Nouveau prompt (même graine, mêmes options)"


# --- /verify ---------------------------------------------------------------------------------


def verify_too_large(limit: int) -> str:
    size = f"{limit / 1_000_000:.0f} Mo" if limit >= 1_000_000 else f"{limit / 1000:.0f} Ko"
    return f"Ce fichier est trop lourd pour être vérifié ici (la limite est de {size})."


VERIFY_UNREADABLE = "Je n'ai pas pu télécharger ce fichier depuis Discord ; réessayez."


def verify_answer(verdict: Verdict, job_id: int | None) -> str:
    facts = verdict.facts
    names = {"preset": "préréglage", "seed": "graine", "steps": "étapes"}
    made = ", ".join(f"{names[k]} {facts[k]}" for k in ("preset", "seed", "steps") if k in facts)
    how = f" Faite avec {short(verdict.generator or 'un générateur sans nom')}"
    how += f" ({short(made)})." if made else "."
    signer = short(verdict.signer or "un signataire sans nom")
    if verdict.kind == "trusted":
        line = f"✅ **De confiance** : identifiants de contenu intacts, signés par {signer}"
        line += f" sous une autorité à laquelle ce bot fait confiance.{how}"
    elif verdict.kind == "valid":
        line = f"☑️ **Valides** : identifiants de contenu intacts, signés par {signer},"
        line += f" dont ce bot ne reconnaît pas l'autorité.{how}"
    elif verdict.kind == "changed":
        line = "⚠️ **Modifié** : ce fichier a des identifiants de contenu,"
        line += f" mais il a été altéré après la signature ({verdict.part})."
    else:
        line = "**Aucun identifiant de contenu** dans ce fichier."
    if job_id is not None:
        return f"{line}\nIl correspond à une vidéo faite par ce bot : tâche {job_id}."
    return f"{line}\nIl ne correspond à aucune vidéo faite par ce bot."


MEDIA_USAGE = "Indiquez au moins l'un de pictures, faces, mark ou chain_seconds."
PREVIEW_FILENAME = "apercu.jpg"
