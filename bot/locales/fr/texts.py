"""Le français de `bot.texts`: the same names and signatures, every sentence in French.

`bot.texts` is the source of truth; a sentence added there needs its French here
(`tests/bot/test_languages.py` fails otherwise). Numbers are written the French way (1 234,
2,5). What is data rather than a sentence (the audit log's layer note, quoting) is the English
module's own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from bot.policy import CATEGORY_LABELS
from bot.texts import EXACT_POSITIONS, quoted, refused_by

__all__ = ["EXACT_POSITIONS", "quoted", "refused_by"]  # shared with English; the rest is below


def _int(n: int) -> str:
    """1234 -> "1 234" (a no-break space, as French groups digits)."""
    return f"{n:,}".replace(",", "\u00a0")


def _s(n: float) -> str:
    """The plural's "s": in French 0 and 1 take the singular."""
    return "s" if abs(n) >= 2 else ""


def _num(x: float, spec: str = "g") -> str:
    """2.5 -> "2,5"."""
    return format(x, spec).replace(".", ",")


# --- options -------------------------------------------------------------------------------------


def unknown_option(name: str, flag_help: str) -> str:
    return f"Je ne connais pas l'option `--{quoted(name)}`. Options : {flag_help}"


def option_needs_value(name: str, what: str) -> str:
    return f"`--{name}` demande une valeur ({_WHAT.get(what, what)})."


def option_not_a(name: str, what: str, raw: str) -> str:
    return f"`--{name}` doit être {_WHAT.get(what, what)}, pas `{quoted(raw)}`."


# `bot.flags` names what an option takes in English ("a whole number"): said in French here.
_WHAT = {
    "a whole number": "un nombre entier",
    "a number": "un nombre",
    "a ratio like 16:9": "un rapport comme 16:9",
    "some text": "du texte",
    "a model name": "un nom de modèle",
    "a picture's path": "le chemin d'une image",
}

# --- intake ------------------------------------------------------------------------------------

OPTIONS_CLASH = "Certaines de ces options ne peuvent pas être utilisées ensemble."

# `engine.request`'s option names, as its range errors name them.
_OPTIONS = {
    "fps": "Le nombre d'images par seconde",
    "Length": "La durée",
    "Frames": "Le nombre d'images",
    "Width": "La largeur",
    "Height": "La hauteur",
    "Steps": "Le nombre d'étapes",
    "Guidance": "La guidance",
    "Seed": "La graine",
}
_REQUEST_ERRORS = {
    "aspect_form": "Le format {text} doit ressembler à 16:9 ou 1:1.",
    "aspect_range": "Le format doit être compris entre 1:4 et 4:1.",
    "no_prompt": "Décrivez la vidéo que vous voulez, par ex. `un corgi qui surfe au coucher du soleil`.",
    "prompt_too_long": "Ce prompt fait {length} caractères ; {model} en accepte au plus {limit}.",
    "negative_too_long": "Le prompt négatif ne peut pas dépasser {limit} caractères.",
    "seconds_or_frames": "Donnez soit une durée en secondes, soit un nombre d'images, pas les deux.",
    "aspect_or_size": "Donnez soit un format, soit une largeur et une hauteur, pas les deux.",
    "no_picture": "{model} ne peut pas partir d'une image ; {others} le peuvent.",
    "no_extend": "{model} ne peut pas prolonger une vidéo ; {others} le peuvent.",
    "no_loop": "{model} ne peut pas faire de vidéo en boucle ; {others} le peuvent.",
    "extend_and_loop": "Une vidéo peut être prolongée ou mise en boucle, pas les deux à la fois.",
    "extend_and_picture": "Une prolongation reprend les dernières images de la vidéo ; retirez l'image.",
    # `engine.image`'s refusals of an uploaded picture.
    "image_bytes": "Cette image fait {size} Mo ; la limite est de {limit} Mo.",
    "image_gif": (
        "Les images animées (GIF) ne peuvent pas servir de départ ; envoyez un PNG, un JPEG ou un WebP."
    ),
    "image_kind": "Je ne sais pas lire ce fichier comme une image ; envoyez un PNG, un JPEG ou un WebP.",
    "image_pixels": "Cette image fait {width}x{height} ; envoyez-en une de moins de {megapixels} mégapixels.",
    "image_small": "Cette image ne fait que {width}x{height} pixels ; envoyez-en une plus grande.",
    "image_animated": (
        "Les images animées ne peuvent pas servir de départ ; envoyez un PNG, un JPEG ou un WebP fixe."
    ),
    "image_bomb": "Cette image est trop grande ; envoyez-en une de moins de {megapixels} mégapixels.",
    "image_damaged": "Je n'ai pas pu lire cette image (elle est peut-être abîmée) ; renvoyez-la.",
    "loop_needs_picture": (
        "Une boucle a besoin d'une image de départ et d'arrivée : joignez-en une au prompt."
    ),
}


def invalid_request(exc: Exception) -> str:
    """`engine.request`'s refusal of an option (or `engine.image`'s of a picture), in French;
    one they do not key stays as it is."""
    key, values = getattr(exc, "key", ""), dict(getattr(exc, "values", {}))
    if key == "image_bytes":
        values = {k: str(v).replace(".", ",") for k, v in values.items()}
    if key == "range":
        unit = values.get("unit") or ""
        if unit == "pixels":
            unit = " pixels"
        elif values.get("fps") is not None:
            unit = f" secondes à {values['fps']} i/s"
        name = _OPTIONS.get(values.get("option", ""), values.get("option", ""))
        low, high = (str(values.get(k, "")).replace(".", ",") for k in ("low", "high"))
        return f"{name} doit se situer entre {low} et {high}{unit}."
    template = _REQUEST_ERRORS.get(key)
    if template is None:
        return str(exc)
    if values.get("others") == "no preset here":
        values["others"] = "aucun modèle ici"
    return template.format(**values)


def text_too_long(length: int, limit: int) -> str:
    return (
        f"Ce message fait {_int(length)} caractères ; un prompt et ses options ne peuvent pas "
        f"dépasser {_int(limit)}."
    )


def model_unavailable(model: str, offered: Iterable[str]) -> str:
    return f"Le modèle `{quoted(model, 30)}` n'est pas disponible ici. Essayez : {', '.join(offered)}."


def format_eta(seconds: float) -> str:
    """« environ 2 min » plutôt que « 137 s »."""
    if seconds < 60:
        return "moins d'une minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"environ {minutes} min"
    return f"environ {_num(round(seconds / 3600, 1))} h"


def queue_line(position: int, eta_s: float) -> str:
    if not position:
        return "démarrage immédiat"
    if position <= EXACT_POSITIONS:
        return f"n° {position} dans la file, {format_eta(eta_s)}"
    return f"dans la file, {format_eta(eta_s)}"


def queued(job_id: int, where: str) -> str:
    return f"Tâche {job_id} enregistrée : {where}."


CANNOT_TAKE_PROMPTS = (
    "Désolé, le bot ne peut pas prendre de prompts pour l'instant (un problème de son côté). "
    "Réessayez plus tard."
)
STORAGE_DELAY = (
    "C'est plus long que d'habitude : le bot ne peut pas enregistrer de vidéos pour l'instant. "
    "La vôtre suivra dès que possible."
)

# --- the content policy's layers and appeals ---------------------------------------------------

CANNOT_CHECK_PROMPTS = (
    "Désolé, je ne peux pas vérifier les prompts pour l'instant, donc je ne peux pas prendre "
    "celui-ci. Réessayez dans quelques minutes."
)


# The content policy's categories (`bot.policy.CATEGORY_LABELS` in English).
_CATEGORIES = {
    "sexual": "contenu sexuel",
    "minors": "contenu sexuel impliquant des mineurs",
    "violence": "violence explicite",
    "hate": "contenu haineux",
    "self_harm": "automutilation",
    "harassment": "harcèlement ou humiliation d'une personne réelle",
    "public_figures": "vraies personnalités publiques",
    "trademarks": "personnages de marques déposées",
    "custom": "mot ou expression bloqué par ce serveur",
}
# Moderation names a category by its English label (`bot.policy.CATEGORY_LABELS`).
_BY_LABEL = {english: _CATEGORIES[code] for code, english in CATEGORY_LABELS.items()}


def policy_refusal(category: str | None, english: str) -> str:
    """A refusal by the content policy, in French (`english`: its English wording, not shown)."""
    label = _CATEGORIES.get(category or "")
    if label is None:
        return "Désolé, je ne peux pas faire ce prompt."
    if category == "custom":
        return "Désolé, ce prompt contient un mot ou une expression que ce serveur a bloqué."
    never = "ce qui n'est jamais autorisé" if category == "minors" else "ce que ce serveur n'autorise pas"
    return f"Désolé, ce prompt semble relever de la catégorie « {label} », {never}."


def appeal_hint(category: str | None, in_server: bool) -> str:
    if category == "minors":
        return (
            "Si c'est une erreur, un modérateur peut demander aux propriétaires du bot "
            "d'autoriser l'expression inoffensive."
        )
    if not in_server:
        return "Si c'est une erreur, demandez aux propriétaires du bot d'autoriser l'expression inoffensive."
    return (
        "Si c'est une erreur, demandez à un modérateur d'autoriser l'expression inoffensive "
        "avec `/mod allow`."
    )


ALLOW_USAGE = "Utilisez `allow EXPRESSION`, `allow list` ou `allow remove EXPRESSION`."
ALLOW_NOTHING = "Cette expression ne contient ni lettre ni chiffre à autoriser."


def allowed_phrases_now(phrases: list[str], owner_phrases: list[str]) -> str:
    if not phrases:
        return "Expressions autorisées : aucune."
    shown = [f"{p} (propriétaire)" if p in owner_phrases else p for p in phrases]
    return "Expressions autorisées : " + ", ".join(shown) + "."


def phrase_allowed(phrase: str, by_owner: bool) -> str:
    also = (
        " Elle échappe aussi au contrôle sur les mineurs (un propriétaire l'a autorisée)."
        if by_owner
        else " Le contrôle sur les mineurs la lit toujours : seuls les propriétaires du bot peuvent le lever."
    )
    return (
        f"`{quoted(phrase, 60)}` est autorisée sur ce serveur : les prompts qui la contiennent "
        f"ne sont plus refusés pour elle.{also}"
    )


def phrase_removed(phrase: str, was_there: bool) -> str:
    q = quoted(phrase, 60)
    return f"`{q}` n'est plus autorisée." if was_there else f"`{q}` n'était pas une expression autorisée."


OWNER_PHRASE = "Seuls les propriétaires du bot peuvent retirer une expression autorisée par un propriétaire."


def unknown_classifier(name: str, choices: Iterable[str]) -> str:
    return (
        f"Classifieur `{quoted(name, 30)}` inconnu ou non configuré. Choix possibles ici : "
        f"{', '.join(choices)}."
    )


def classifier_now(name: str, fail_open: bool) -> str:
    if name == "off":
        return "Sur ce serveur, les prompts sont vérifiés par les listes de mots seules."
    when = "acceptés selon les listes" if fail_open else "refusés jusqu'à ce qu'il réponde à nouveau"
    return (
        f"Sur ce serveur, les prompts sont vérifiés par les listes de mots, puis par le "
        f"classifieur {name} (s'il ne peut pas répondre, les prompts sont {when})."
    )


# --- admission ---------------------------------------------------------------------------------

BANNED = "Désolé, vous ne pouvez pas créer de vidéos ici : un modérateur vous a banni."
PAUSED = "La création de vidéos est mise en pause par les modérateurs. Réessayez plus tard."
GUILD_BUSY = "La file de ce serveur est pleine pour l'instant. Réessayez bientôt."


def busy(wait_s: float) -> str:
    return f"Le bot est très occupé pour l'instant. Réessayez dans {format_eta(wait_s)}."


def too_many_waiting(waiting: int, limit: int) -> str:
    return (
        f"Vous avez déjà {waiting} vidéos en attente (la limite est de {limit}). "
        "Attendez qu'une d'elles soit terminée."
    )


def rate_limited(per_minute: float, wait_s: int) -> str:
    return f"Vous envoyez plus de {_num(per_minute)} prompts par minute. Réessayez dans {wait_s} s."


# --- a member's commands -----------------------------------------------------------------------


def no_such_job(job_id: int) -> str:
    return f"Il n'y a pas de tâche {job_id}."


def not_your_job(job_id: int) -> str:
    return f"Vous n'avez pas de tâche {job_id}."


def not_here(job_id: int) -> str:
    return f"Il n'y a pas de tâche {job_id} ici."


# Job states as a member reads them (the journal's own names are English codes).
_STATES = {
    "queued": "en file",
    "running": "en cours de rendu",
    "rendered": "rendue",
    "delivered": "livrée",
    "failed": "en échec",
    "cancelled": "annulée",
    "held": "retenue pour examen",
    "rejected": "rejetée",
    "refused": "refusée",
    "dead": "abandonnée",
}


def _state(state: object) -> str:
    code = str(getattr(state, "value", state))
    return _STATES.get(code, code)


def already(job_id: int, state: str) -> str:
    return f"La tâche {job_id} est déjà {_state(state)}."


def cancelling(job_id: int) -> str:
    return f"Annulation de la tâche {job_id}."


QUEUE_EMPTY = "La file est vide."
NO_HISTORY = "Vous n'avez encore créé aucune vidéo."


def queue_entry(number: int, job_id: int, mine: bool, rendering: tuple[int, int] | None) -> str:
    state = f"rendu {rendering[0]}/{rendering[1]}" if rendering else "en attente"
    return f"{number}. tâche {job_id}{' (la vôtre)' if mine else ''} : {state}"


def queue_more(count: int) -> str:
    return f"\n…et {count} de plus"


def history_entry(job_id: int, state: str, prompt: str, seed: int) -> str:
    return f"tâche {job_id} [{_state(state)}] {prompt[:60]} (graine {seed})"


def chain_line(job: Any) -> str:
    r = job.request
    if r.extend and job.parent_id:
        return f"\nProlonge la n° {job.parent_id}."
    parts = []
    if r.image:
        parts.append("partie d'une image (visible de vous seul)")
    if r.loop:
        parts.append("en boucle")
    return ("\n" + "; ".join(parts).capitalize() + ".") if parts else ""


def job_details(job: Any) -> str:
    r = job.request
    took = f", rendue en {_num(job.render_seconds, '.1f')} s" if job.render_seconds else ""
    negative = f"\nPrompt négatif : {r.negative_prompt}" if r.negative_prompt else ""
    return (
        f"Tâche {job.id} [{_state(job.state)}]\nPrompt : {r.prompt}{negative}\n"
        f"Modèle {r.model}, graine {r.seed}, {r.steps} étape{_s(r.steps)}, guidance {_num(r.guidance)}, "
        f"{r.frames} image{_s(r.frames)} à {r.fps} i/s, {r.width}x{r.height}{took}{chain_line(job)}"
    )


def stats(renders: int, median_s: float | None, waiting: int) -> str:
    median = f"{_num(median_s, '.1f')} s" if median_s is not None else "n/d"
    return f"{renders} rendu{_s(renders)}, temps de rendu médian {median}, {waiting} dans la file."


def help_intro(flag_help: str) -> str:
    return "Envoyez un prompt pour recevoir une courte vidéo. Options : " + flag_help


HELP_RULES = (
    "Relancer et remixer ne marchent que sur vos propres vidéos, quelle que soit la façon de le "
    "demander (boutons, réponses, commandes). Les vidéos d'un serveur peuvent être consultées par "
    "tous ses membres ; une vidéo faite en message privé, par vous seul."
)


def help_model(name: str, preset: Any) -> str:
    p = preset
    return (
        f"• {name} : jusqu'à {p.max_frames} images "
        f"({_num(p.max_frames / p.default_fps, '.1f')} s à {p.default_fps} i/s), côtés jusqu'à "
        f"{p.max_side} px, jusqu'à {p.max_steps} étapes, prompts jusqu'à {p.max_prompt_chars} "
        f"caractères ; poids : {p.licence.name if p.licence else 'licence inconnue'}"
    )


def help_not_for_paid_use(name: str, licence: str) -> str:
    return (
        f"⚠ Ce bot fait payer ses membres, mais la licence de `{name}` ({licence}) n'autorise pas "
        "un usage commercial en l'état : le propriétaire devrait changer de modèle ou vérifier "
        "les termes de la licence."
    )


# --- the output check ------------------------------------------------------------------------


def held_for_review(job_id: int) -> str:
    return (
        f"Votre vidéo (tâche {job_id}) attend qu'un modérateur la regarde avant d'être publiée. "
        "Désolé pour l'attente : si elle est approuvée, elle sera publiée ici."
    )


def rejected_after_review(job_id: int) -> str:
    return f"Un modérateur a regardé votre vidéo (tâche {job_id}) et a décidé de ne pas la publier. Désolé !"


NO_HELD = "Aucune vidéo n'est retenue pour examen."
HELD_BUSY = "Le demandeur est en train d'être prévenu pour cette vidéo ; réessayez dans un instant."
THRESHOLD_USAGE = (
    "Utilisez `threshold VALEUR` (de 0 à 1 ; plus bas, plus de vidéos retenues) ou `threshold default`."
)


def held_entry(job: Any) -> str:
    score = "?" if job.check_score is None else _num(job.check_score, ".2f")
    limit = "?" if job.check_threshold is None else _num(job.check_threshold, ".2f")
    return (
        f"tâche {job.id} de {quoted(job.user_name or job.user_id, 32)} : score {score} "
        f"(retenue à {limit}), prompt : {quoted(job.request.prompt, 60)}"
    )


def not_held(job_id: int, state: str) -> str:
    return f"La tâche {job_id} n'est pas retenue pour examen (elle est {_state(state)})."


def released(job_id: int) -> str:
    return f"Tâche {job_id} libérée : elle va être publiée pour son demandeur."


def rejected(job_id: int) -> str:
    return f"Tâche {job_id} rejetée : sa vidéo est supprimée et son demandeur prévenu."


def threshold_now(value: float, own: bool, checking: bool) -> str:
    where = "celui de ce serveur" if own else "celui par défaut"
    off = "" if checking else " (le contrôle des vidéos est désactivé sur ce bot, donc rien n'est retenu)"
    return (
        f"Seuil du contrôle des vidéos : {_num(value)} ({where}) ; les vidéos qui l'atteignent "
        f"ou le dépassent sont retenues.{off}"
    )


# --- moderators --------------------------------------------------------------------------------

DELIVERY_BROKE = "un problème est survenu de notre côté"

NOT_MOD = "Seuls les modérateurs peuvent faire cela."
OWNER_ONLY = (
    "Seuls les propriétaires du bot peuvent faire cela : cela agit sur tous les serveurs, "
    "pas seulement celui-ci."
)
NOT_YOUR_CLIP = "Seule la personne qui a demandé cette vidéo peut la relancer ou la remixer."
PAUSED_NOW = (
    "En pause : les nouveaux prompts sont refusés jusqu'à ce qu'un modérateur relance. "
    "Les tâches en file se terminent quand même."
)
RESUMED = "Reprise : les prompts sont de nouveau les bienvenus."
NO_SELF_BAN = "Vous ne pouvez pas vous bannir vous-même."
AUDIT_EMPTY = "Le journal d'audit est vide."
WORDS_USAGE = "Utilisez `words add`, `words remove` ou `words list`."


def cleared(count: int) -> str:
    return f"File vidée : {count} tâche{_s(count)} annulée{_s(count)}."


def banned(user_id: str, reason: str, cancelled: int) -> str:
    because = f" ({reason})" if reason else ""
    gone = f"{cancelled} tâche{_s(cancelled)} en attente annulée{_s(cancelled)}"
    return f"{quoted(user_id, 64)} est banni{because} ; {gone}."


def unbanned(user_id: str, was_banned: bool) -> str:
    who = quoted(user_id, 64)
    return f"{who} n'est plus banni." if was_banned else f"{who} n'était pas banni."


def unknown_limit(name: str, names: Iterable[str]) -> str:
    return f"Limite `{quoted(name, 30)}` inconnue. Limites : {', '.join(names)}."


def limit_not_a_number(name: str, low: float, high: float) -> str:
    return f"`{name}` demande un nombre entre {_num(low)} et {_num(high)}."


def limit_out_of_range(name: str, low: float, high: float) -> str:
    return f"`{name}` doit être compris entre {_num(low)} et {_num(high)}."


def limits_now(limits: Any) -> str:
    return (
        f"Limites : rafale {limits.rate_burst}, {_num(limits.rate_per_minute)} par minute, "
        f"{limits.max_waiting_per_user} en attente par membre, {limits.max_waiting_per_guild} par serveur."
    )


def blocked_words_list(words: list[str]) -> str:
    return "Mots bloqués : " + (", ".join(words) if words else "aucun.")


def blocked_words_now(words: list[str]) -> str:
    return f"Mots bloqués désormais : {', '.join(words) if words else 'aucun'}."


def unknown_category(name: str, categories: Iterable[str]) -> str:
    return f"Catégorie `{quoted(name, 30)}` inconnue. Catégories : {', '.join(categories)}."


def category_always_on(label: str) -> str:
    return f"Le filtre « {_BY_LABEL.get(label, label)} » est toujours actif et ne peut pas être désactivé."


def category_now(label: str, enabled: bool) -> str:
    return f"Le filtre « {_BY_LABEL.get(label, label)} » est désormais {'actif' if enabled else 'inactif'}."


def dms_now(allowed: bool) -> str:
    now = "acceptés" if allowed else "refusés"
    return f"Les prompts par message privé sont désormais {now} (pour tout le bot)."


def mod_role_now(role_id: int | None) -> str:
    return "Rôle de modérateur défini." if role_id else "Rôle de modérateur retiré."


def audit_entry(row: Mapping[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(row["at"], dt.UTC).strftime("%d/%m/%Y %H:%M")
    return (
        f"{when} {row['action']}"
        + (f" par {row['actor_id']}" if row["actor_id"] else "")
        + (f" membre {row['user_id']}" if row["user_id"] else "")
        + (f" [{row['category']}]" if row["category"] else "")
        + (f" : {row['detail']}" if row["detail"] else "")
    )


# --- pictures, extensions, loops ----------------------------------------------------------------

IMAGES_OFF = (
    "Partir d'une image pour faire une vidéo est désactivé ici. Un modérateur peut l'activer "
    "avec `/mod images on`."
)
FACE_IN_PICTURE = (
    "Cette image semble montrer un visage, et ce serveur n'anime pas les images de personnes "
    "(un modérateur peut l'autoriser avec `/mod faces on`)."
)
FACE_CHECK_MISSING = (
    "Ce bot ne peut pas vérifier la présence de visages pour l'instant, donc il ne peut pas partir d'images."
)


def cannot_read_file(path: str, why: str) -> str:
    return f"Je n'ai pas pu lire {quoted(path, 60)} : {why}."


IMAGE_PATHS_CONSOLE_ONLY = "Joignez l'image à votre message au lieu de donner un chemin."
EXTEND_NOT_READY = "Cette vidéo n'est pas encore terminée ; vous pourrez la prolonger une fois arrivée."


def chain_too_long(total_s: float, limit_s: float) -> str:
    return (
        f"La vidéo durerait alors {_num(total_s, '.1f')} s ; ici, les vidéos peuvent être "
        f"prolongées jusqu'à {limit_s:.0f} s au total."
    )


def images_now(on: bool) -> str:
    return (
        "Les vidéos peuvent désormais partir d'une image ici."
        if on
        else "Les vidéos ne peuvent plus partir d'une image ici."
    )


def faces_now(on: bool) -> str:
    return (
        "Les images montrant des visages sont désormais acceptées."
        if on
        else "Les images montrant des visages sont désormais refusées."
    )


def chain_limit_now(seconds: float) -> str:
    return f"Les vidéos prolongées peuvent désormais atteindre {seconds:.0f} s au total ici."


def chain_limit_out_of_range(high: float) -> str:
    return f"Donnez la durée maximale d'une vidéo prolongée en secondes, de 1 à {high:.0f}."


# --- daily quotas and quiet hours ---------------------------------------------------------------


def _in(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"


def quiet_hours(seconds_left: float) -> str:
    return f"Heures calmes : je ne prends pas de prompts en ce moment. Retour dans {_in(seconds_left)}."


def member_quota_spent(quota: int, reset_s: float) -> str:
    return f"Vous avez fait vos {quota} vidéos du jour. Votre quota se renouvelle dans {_in(reset_s)}."


def server_quota_spent(quota: int, reset_s: float) -> str:
    return f"Ce serveur a fait ses {quota} vidéos du jour. Le quota se renouvelle dans {_in(reset_s)}."


def quota_left(left: int, quota: int, reset_s: float) -> str:
    return (
        f"Aujourd'hui : {left} vidéo{_s(left)} restante{_s(left)} sur {quota} "
        f"(renouvellement dans {_in(reset_s)})."
    )


def quota_now(member: int | None, server: int | None, quiet: str) -> str:
    def daily(n: int | None) -> str:
        return "sans limite" if not n else f"{n} par jour"

    quiet = quiet or "aucune"
    return (
        f"Quotas ici : chaque membre {daily(member)}, ce serveur {daily(server)} ; heures calmes : {quiet}."
    )


QUOTA_USAGE = (
    "Utilisez `quota member=N server=N quiet=23:00-07:00` (0 ou `off` : sans limite), ou `quota` "
    "pour les voir."
)


# --- privacy -------------------------------------------------------------------------------------


def forget_confirm(jobs: int) -> str:
    return (
        f"Cela supprime tout ce que je garde de vous, sur tous les serveurs et en message privé : "
        f"{jobs} prompt{_s(jobs)}, avec les vidéos et l'historique qui vont avec. C'est irréversible. "
        "Pour continuer, envoyez `/forget me confirm` (sur Discord : `/forget confirm:True`)."
    )


def forgotten(jobs: int, clips: int) -> str:
    return f"C'est fait : {jobs} prompt{_s(jobs)} et {clips} vidéo{_s(clips)} à vous supprimés, partout."


def purged(what: str, jobs: int, clips: int) -> str:
    return f"Purge de {what} : {jobs} prompt{_s(jobs)} et {clips} vidéo{_s(clips)} supprimés."


FORGET_USAGE = "Utilisez `/forget me` pour supprimer tout ce que je garde de vous."
PURGE_USAGE = "Utilisez `purge member MEMBRE` ou `purge server SERVEUR` (réservé aux propriétaires du bot)."


# --- reports -------------------------------------------------------------------------------------

REPORTED = "Merci : les modérateurs vont regarder cette vidéo."
ALREADY_REPORTED = "Vous avez déjà signalé cette vidéo ; les modérateurs l'ont dans leur liste."


def reports_list(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "Aucune vidéo signalée ici."
    lines = []
    for e in entries:
        prompt = quoted(e["prompt"], 200) if e["prompt"] is not None else "(supprimé depuis)"
        lines.append(
            f"Tâche {e['job_id']} de {quoted(str(e['user_id']), 64)}, signalée {e['reports']} fois : {prompt}"
        )
    return "\n".join(lines)


# --- languages -------------------------------------------------------------------------------------

LANGUAGE_NAMES = {"en": "anglais", "fr": "français"}


def unknown_language(code: str, choices: Iterable[str]) -> str:
    return f"Je ne parle pas encore `{quoted(code, 20)}`. Langues : {', '.join(choices)}, ou `default`."


def language_now(code: str | None, default: str) -> str:
    name = LANGUAGE_NAMES.get(code or default, code or default)
    own = "" if code else " (celle du bot par défaut)"
    return (
        f"Langue de ce serveur : {name}{own}. Les membres reçoivent toujours la langue de leur "
        "application quand le bot la parle ; les mentions et les messages privés reçoivent celle-ci."
    )


NOT_ENGLISH = (
    "Astuce : les modèles vidéo lisent mieux l'anglais, donc un prompt en anglais donne "
    "généralement une vidéo plus fidèle."
)
TRANSLATED = "Votre prompt a été traduit en anglais pour le modèle vidéo."


# --- la ferme de rendu, le marquage visible, les images signalées ---------------------------------

NO_FARM = "Ce bot calcule sur sa propre machine (aucune ferme de rendu configurée)."
NO_WORKERS = "Aucun worker de la ferme ne s'est encore signalé."


def worker_line(info: dict[str, Any], seen_ago_s: float) -> str:
    doing = (
        f"calcule la tâche {info['job']} (étape {info['step'] or 0}/{info['total'] or '?'})"
        if info.get("job")
        else "inactif"
    )
    state = doing if info.get("alive") else f"parti, vu pour la dernière fois il y a {seen_ago_s:.0f} s"
    return f"{info['preset']} : {info['name']}, {info['jobs_done']} terminées, {state}"


def workers_summary(pool: list[dict[str, Any]]) -> str:
    by: dict[str, list[int]] = {}
    for info in pool:
        if info.get("alive"):
            counts = by.setdefault(str(info["preset"]), [0, 0])
            counts[0] += 1
            counts[1] += bool(info.get("job"))
    if not by:
        return "Workers : aucun en ligne."
    return (
        "Workers : "
        + ", ".join(f"{preset} {n} ({busy} en calcul)" for preset, (n, busy) in sorted(by.items()))
        + "."
    )


PICTURE_FLAGGED = (
    "Désolé, cette image ne peut pas servir de point de départ ici : le contrôle de sécurité l'a "
    "signalée. Si vous pensez que c'est une erreur, demandez à un modérateur."
)


def mark_now(on: bool) -> str:
    if on:
        return (
            "Les nouvelles vidéos d'ici portent une petite mention visible « Générée par IA » dans un coin."
        )
    return (
        "Les nouvelles vidéos d'ici ne portent plus de mention visible (leurs identifiants de contenu "
        "disent toujours comment elles ont été faites)."
    )
