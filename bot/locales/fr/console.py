"""Le français de `bot.console_texts`: what the console surface itself says."""

from __future__ import annotations

from bot.texts import quoted

USAGE = "Les lignes ressemblent à `nom: un prompt --seed 3` ou `nom: /queue`. Essayez `nom: /help`."
MOD_ONLY = "Seuls les modérateurs peuvent utiliser /mod."
MOD_USAGE = (
    "Commandes de modération : ban MEMBRE [raison] [--everywhere], unban MEMBRE [--everywhere], "
    "pause, resume, clear, cancel TÂCHE, limit rate=N burst=N per_user=N per_guild=N, "
    "quota member=N server=N quiet=HH:MM-HH:MM, reports, purge member|server ID, "
    "words add|remove|list ..., category NOM on|off, allow EXPRESSION, allow list, "
    "allow remove EXPRESSION, classifier [off|hosted|local], audit [everywhere], dms on|off, "
    "images on|off, faces on|off, mark on|off, language [en|fr|default], chain SECONDES "
    "(propriétaires), held [everywhere], release TÂCHE, reject TÂCHE, threshold [VALEUR|default], "
    "workers (propriétaires)."
)


def _int(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")


def line_too_long(length: int, limit: int) -> str:
    return f"Cette ligne fait {_int(length)} caractères ; une ligne ne peut pas dépasser {_int(limit)}."


def not_a_job_number(text: str) -> str:
    return f"`{quoted(text)}` n'est pas un numéro de tâche."


def unknown_command(name: str) -> str:
    return f"Commande `/{quoted(name)}` inconnue. Essayez /help, /queue, /cancel TÂCHE, /history."


def line_failed(error: str, ref: str) -> str:
    return f"Un problème est survenu avec cette ligne ({error}, réf. {ref})."


def progress(job_id: int, step: int, total: int) -> str:
    return f"tâche {job_id} : étape {step}/{total}"


def delivered(job_id: int, path: str) -> str:
    return f"la tâche {job_id} est prête : {path}"


def cancelled(job_id: int) -> str:
    return f"la tâche {job_id} a été annulée."


def failed(job_id: int, reason: str) -> str:
    return f"la tâche {job_id} a échoué : {reason}"


def preview_line(job_id: int, step: int | None) -> str:
    return f"tâche {job_id} : aperçu de l'étape {step}"
