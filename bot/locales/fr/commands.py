"""French for the slash commands' names and descriptions, as Discord's picker shows them.

The English stays next to each command (`bot.discord.cogs`), where discord.py reads it; this
maps that English text to its French. `bot.discord.language.CommandTranslator` hands them to
Discord at sync, and `tests/discord/test_languages.py` fails for a description left out.
Option names stay English: they are typed, and a localized name must be unique per command.
"""

from __future__ import annotations

# Top-level command names a French member types instead (subcommands keep their English names).
NAMES = {
    "video": "vidéo",
    "queue": "file",
    "history": "historique",
    "show": "voir",
    "help": "aide",
    "forget": "oublier",
    "verify": "vérifier",
}

DESCRIPTIONS = {
    # /video
    "Turn a prompt into a short video clip": "Transformer un prompt en courte vidéo",
    "What should happen in the video?": "Que doit-il se passer dans la vidéo ?",
    "What to avoid (e.g. blurry, text)": "Ce qu'il faut éviter (par ex. flou, texte)",
    "Length in seconds": "Durée en secondes",
    "Length in frames (instead of seconds)": "Durée en images (au lieu des secondes)",
    "Frames per second": "Images par seconde",
    "Shape of the video": "Format de la vidéo",
    "Denoising steps: more is slower and usually cleaner": (
        "Étapes de débruitage : plus c'est lent, plus c'est généralement net"
    ),
    "How closely to follow the prompt": "À quel point suivre le prompt",
    "Same seed + same prompt = same video": "Même graine + même prompt = même vidéo",
    "Which model renders it": "Le modèle qui fait le rendu",
    "A picture to start from (if this server allows it)": "Une image de départ (si ce serveur l'autorise)",
    "End on the picture it starts from": "Finir sur l'image de départ",
    # looking things up
    "What is waiting and rendering right now": "Ce qui attend et ce qui est en cours de rendu",
    "Your recent videos": "Vos vidéos récentes",
    "Details of a job: prompt, model, seed, steps, render time": (
        "Détails d'une tâche : prompt, modèle, graine, étapes, temps de rendu"
    ),
    "How to make videos, with every option and limit": (
        "Comment faire des vidéos, avec chaque option et limite"
    ),
    "Delete everything this bot keeps of yours, everywhere": (
        "Supprimer tout ce que ce bot garde de vous, partout"
    ),
    "Yes: delete my prompts, videos and history now (it cannot be undone)": (
        "Oui : supprimer mes prompts, vidéos et historique maintenant (irréversible)"
    ),
    "Renders so far, median render time, queue length": (
        "Rendus faits, temps de rendu médian, longueur de la file"
    ),
    "Check a video's content credentials, and whether this bot made it": (
        "Vérifier les identifiants de contenu d'une vidéo, et si ce bot l'a faite"
    ),
    "The video file to check": "Le fichier vidéo à vérifier",
    # /mod
    "Moderator tools": "Outils de modération",
    "Stop taking new prompts in this server": "Ne plus prendre de nouveaux prompts sur ce serveur",
    "Take prompts again": "Reprendre les prompts",
    "Cancel every waiting job in this server": "Annuler toutes les tâches en attente sur ce serveur",
    "Cancel any job": "Annuler n'importe quelle tâche",
    "Ban a member from making videos": "Interdire à un membre de faire des vidéos",
    "Lift a ban": "Lever un bannissement",
    "Show or set this server's limits": "Voir ou régler les limites de ce serveur",
    "Prompts per minute a member regains": "Prompts par minute qu'un membre regagne",
    "Prompts a member may send at once": "Prompts qu'un membre peut envoyer d'un coup",
    "Jobs a member may have waiting": "Tâches qu'un membre peut avoir en attente",
    "Jobs this server may have waiting": "Tâches que ce serveur peut avoir en attente",
    "Show or set this server's daily quotas and quiet hours": (
        "Voir ou régler les quotas quotidiens et les heures calmes de ce serveur"
    ),
    "Videos a member may make per day, in every server and DMs (0: no limit)": (
        "Vidéos qu'un membre peut faire par jour, sur tous les serveurs et en privé (0 : sans limite)"
    ),
    "Videos this server may make per day (0: no limit)": (
        "Vidéos que ce serveur peut faire par jour (0 : sans limite)"
    ),
    "Hours when no prompts are taken, e.g. 23:00-07:00, or off": (
        "Heures sans prompts, par ex. 23:00-07:00, ou off"
    ),
    "The review list: reported videos here, with their prompts": (
        "La liste d'examen : les vidéos signalées ici, avec leurs prompts"
    ),
    "Blocked words for this server": "Mots bloqués sur ce serveur",
    "Turn a content category filter on or off": "Activer ou désactiver le filtre d'une catégorie de contenu",
    "Allow a phrase the content filter refused by mistake, on this server": (
        "Autoriser sur ce serveur une expression refusée par erreur par le filtre"
    ),
    "The harmless words that were refused, e.g. a bird's or a town's name": (
        "Les mots inoffensifs qui ont été refusés, par ex. le nom d'un oiseau ou d'une ville"
    ),
    "List or remove this server's allowed phrases": (
        "Lister ou retirer les expressions autorisées de ce serveur"
    ),
    "Check prompts with a classifier after the word lists, or the lists alone": (
        "Vérifier les prompts avec un classifieur après les listes de mots, ou les listes seules"
    ),
    "Recent moderator actions and refusals": "Actions de modération et refus récents",
    "Every server's entries (the bot's owners only)": (
        "Les entrées de tous les serveurs (propriétaires du bot seulement)"
    ),
    "Allow or refuse prompts sent by DM (bot-wide; the bot's owners only)": (
        "Accepter ou refuser les prompts par message privé (tout le bot ; propriétaires seulement)"
    ),
    "The language of mentions, DMs and members the bot can't answer in their own": (
        "La langue des mentions, des messages privés et des membres dont le bot ne parle pas la langue"
    ),
    "A role whose members count as moderators here": "Un rôle dont les membres sont modérateurs ici",
    "Videos the output check held for review": "Vidéos retenues pour examen par le contrôle des vidéos",
    "Every server's held videos (the bot's owners only)": (
        "Les vidéos retenues de tous les serveurs (propriétaires du bot seulement)"
    ),
    "Post a held video to its requester": "Publier une vidéo retenue pour son demandeur",
    "Reject a held video: it is deleted and its requester told": (
        "Rejeter une vidéo retenue : elle est supprimée et son demandeur prévenu"
    ),
    "Show or set the output check's threshold here (lower holds more)": (
        "Voir ou régler le seuil du contrôle des vidéos ici (plus bas, plus de vidéos retenues)"
    ),
    "0 to 1; clips scoring at or above it are held": "De 0 à 1 ; les vidéos qui l'atteignent sont retenues",
    "Use the bot's default": "Utiliser la valeur par défaut du bot",
    "The render farm's workers by preset (the bot's owners only)": (
        "Les workers de la ferme de rendu, par modèle (propriétaires du bot seulement)"
    ),
    "Videos from pictures: allow them, allow faces, label clips, extend length": (
        "Vidéos à partir d'images : les permettre, permettre les visages, marquer les vidéos, durée"
    ),
    "Let members start videos from a picture here": "Permettre aux membres de partir d'une image ici",
    "Also allow pictures that show a face": "Permettre aussi les images qui montrent un visage",
    "Burn a small AI-generated label into every clip made here": (
        "Incruster une petite mention « Générée par IA » dans chaque vidéo faite ici"
    ),
    "Longest extended video, in seconds (the bot's owners only)": (
        "Durée maximale d'une vidéo prolongée, en secondes (propriétaires du bot seulement)"
    ),
}
