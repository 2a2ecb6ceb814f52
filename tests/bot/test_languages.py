"""Languages: every sentence exists in every language, and members are answered in theirs.

The catalogues are compared name by name (`bot.i18n.Catalogue`): the same names, the same kinds,
the same signatures, and every value a sentence shows (a job number, a prompt, a name) shown in
each language too. Then the console end to end: `--lang`, the server's `/mod language`, and the
bot's setting, in that order.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import i18n
from bot.admission import Limits
from bot.core import Answer
from bot.discord.language import texts as discord_texts
from bot.i18n import Catalogue, console_texts, social_texts
from bot.i18n import texts as core_texts
from engine.credentials import Verdict
from engine.presets import get_preset
from engine.request import InvalidRequest, build_request
from tests.bot.console_session import console_session

CATALOGUES = {"core": core_texts, "console": console_texts, "discord": discord_texts, "social": social_texts}


def english_names(module: types.ModuleType) -> dict[str, Any]:
    """What a text module offers: its own functions, and its constants (sentences, tables)."""
    out = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name == "TYPE_CHECKING":
            continue
        own_function = inspect.isfunction(value) and value.__module__ == module.__name__
        if own_function or (name.isupper() and isinstance(value, str | dict | int | tuple)):
            out[name] = value
    return out


def catalogue_gaps(english: types.ModuleType, other: types.ModuleType) -> list[str]:
    """Every way `other` fails to stand in for `english`: missing names, other kinds, other signatures."""
    gaps = []
    for name, value in english_names(english).items():
        if not hasattr(other, name):
            gaps.append(f"{name}: missing")
            continue
        theirs = getattr(other, name)
        if callable(value) != callable(theirs) or (not callable(value) and type(value) is not type(theirs)):
            gaps.append(f"{name}: a {type(theirs).__name__}, not a {type(value).__name__}")
        elif callable(value) and list(inspect.signature(value).parameters) != list(
            inspect.signature(theirs).parameters
        ):
            gaps.append(
                f"{name}: parameters {inspect.signature(theirs)} instead of {inspect.signature(value)}"
            )
        elif isinstance(value, dict) and set(value) != set(theirs):
            gaps.append(f"{name}: keys {sorted(theirs)} instead of {sorted(value)}")
    return gaps


@pytest.mark.parametrize("surface", sorted(CATALOGUES))
def test_every_english_name_has_its_french(surface: str) -> None:
    modules = CATALOGUES[surface].languages()
    assert set(modules) == {"en", "fr"}
    assert catalogue_gaps(modules["en"], modules["fr"]) == []


def test_the_gap_check_sees_a_missing_or_different_name() -> None:
    english = types.ModuleType("english")
    exec(  # a module of its own, so the check runs on exactly what it reads
        "HELLO = 'Hello.'\nTABLE = {'a': 1}\ndef greet(name):\n    return f'Hi {name}'\n", english.__dict__
    )
    other = types.ModuleType("other")
    exec("TABLE = {'b': 1}\ndef greet(who, extra):\n    return who\n", other.__dict__)
    gaps = catalogue_gaps(english, other)
    assert [g.split(":")[0] for g in gaps] == ["HELLO", "TABLE", "greet"]


# --- what each sentence shows ----------------------------------------------------------------------


@pytest.fixture
def sample_job(journal: Any) -> Any:
    """A real job from a real journal, with a prompt no sentence could contain by chance."""
    request = build_request("zqprompt", model=get_preset("tiny"), negative_prompt="zqnegative", seed=4242)
    job = journal.enqueue(
        request, user_id="zquser", user_name="zqname", guild_id="g1", channel_id="c1", adapter="console"
    )
    return journal.get(job.id)


def _arguments(fn: Callable[..., Any], job: Any) -> Iterator[dict[str, Any]]:
    """Sets of arguments for `fn`, each value recognisable in the sentence it shows up in.

    Strings are tokens like `zq3`; whole numbers are three-digit and distinct (no thousands
    separator to differ between languages). Flags and optional values are tried both ways.
    """
    special: dict[str, Any] = {
        "job": job,
        "preset": get_preset("tiny"),
        "limits": Limits(
            rate_burst=311,
            rate_per_minute=2.0,
            max_waiting_per_user=312,
            max_waiting_per_guild=313,
            max_queue=314,
        ),
        "row": {
            "at": 1_700_000_000,
            "action": "zqaction",
            "actor_id": "zqactor",
            "user_id": "zqmember",
            "category": "zqcategory",
            "detail": "zqdetail",
        },
        "entries": [{"job_id": 321, "user_id": "zqreporter", "reports": 322, "prompt": "zqreported"}],
        "answer": Answer("refused", "zqanswer", retry_after_s=9.0),
        "verdict": Verdict("valid", signer="zqsigner", facts={"seed": 323}, generator="zqgen"),
        "state": "queued",
        "rendering": (324, 325),
        "info": {
            "job": 326,
            "step": 327,
            "total": 328,
            "alive": True,
            "preset": "zqpreset",
            "name": "zqworker",
            "jobs_done": 329,
        },
        "pool": [{"alive": True, "preset": "zqpool", "job": 330}],
        "exc": InvalidRequest(
            "Frames must be between 401 and 402.", "range", option="Frames", low="401", high="402", unit=""
        ),
    }
    flips: dict[str, list[Any]] = {"category": [None, "minors"], "code": [None, "fr"]}
    params = inspect.signature(fn).parameters
    for variant in (0, 1):
        args: dict[str, Any] = {}
        for index, (name, param) in enumerate(params.items()):
            kind = str(param.annotation)
            if name in flips and "None" in kind:
                args[name] = flips[name][variant]
            elif name in special:
                args[name] = special[name]
            elif "bool" in kind:
                args[name] = variant == 0
            elif "Iterable" in kind or "list" in kind:
                args[name] = [f"zq{index}a", f"zq{index}b"]
            elif "float" in kind:
                args[name] = 2.5 + variant * 6000
            elif "int" in kind:
                args[name] = (
                    401 + index if variant == 0 and "None" not in kind else 0 if "None" in kind else 401
                )
            else:
                args[name] = f"zq{index}"
        yield args


def _shown(value: Any) -> list[str]:
    """The recognisable pieces of an argument: its tokens and three-digit numbers."""
    found = re.findall(r"zq\w+|(?<!\d)[1-9]\d\d(?!\d)", repr(value))
    return [f for f in found if not f.startswith("zq") or len(f) > 2]


@pytest.mark.parametrize("surface", sorted(CATALOGUES))
def test_every_sentence_shows_in_french_what_it_shows_in_english(surface: str, sample_job: Any) -> None:
    modules = CATALOGUES[surface].languages()
    english, french = modules["en"], modules["fr"]
    checked = 0
    for name, value in english_names(english).items():
        theirs = getattr(french, name)
        if theirs is value:
            continue  # shared, not a sentence (quoting, a status line's frame)
        if not callable(value):
            if isinstance(value, str):
                assert theirs != value, f"{name} is still in English"
            continue
        for args in _arguments(value, sample_job):
            said, dit = value(**args), theirs(**args)
            if said is None:  # silence is the answer (a ban on a network): in every language
                assert dit is None, (name, args, dit)
                continue
            assert isinstance(dit, str) and (dit.strip() or not said.strip()), (name, args)
            # A parameter named `english` is the English wording a translation replaces.
            shown = _shown(said) if "english" not in args else _shown(value(**{**args, "english": ""}))
            missing = [p for p in shown if p not in dit]
            assert missing == [], f"{name}{args}: French drops {missing}: {dit!r}"
            assert dit != said or not said, f"{name}({args}) is still in English: {dit!r}"
            checked += 1
    assert checked >= {"core": 60, "console": 6, "discord": 8, "social": 6}[surface]


# --- picking a language --------------------------------------------------------------------------


def test_locales_name_their_language_and_unknown_ones_fall_back() -> None:
    import discord

    assert i18n.supported("fr") == i18n.supported("fr-CA") == i18n.supported(discord.Locale.french) == "fr"
    assert i18n.supported("en-GB") == i18n.supported(discord.Locale.american_english) == "en"
    assert i18n.supported("de") is None and i18n.supported(None) is None and i18n.supported("") is None
    # The member's own first, then the server's; nothing known: the process default.
    assert i18n.pick(discord.Locale.german, "fr", "en") == "fr"
    assert i18n.pick("de", None) == i18n.default()


def test_the_catalogue_answers_in_the_language_of_the_block_and_restores_the_one_before() -> None:
    catalogue = Catalogue("bot.texts", fr="bot.locales.fr.texts")
    with i18n.speaking("en"):
        assert catalogue.QUEUE_EMPTY == "The queue is empty."
        with i18n.speaking("fr-FR"):
            assert catalogue.QUEUE_EMPTY == "La file est vide."
            assert catalogue.no_such_job(7) == "Il n'y a pas de tâche 7."
        assert catalogue.no_such_job(7) == "There is no job 7."
    with i18n.speaking("de"):  # no catalogue: English, the source every other language follows
        assert catalogue.QUEUE_EMPTY == "The queue is empty."


# --- the console, end to end -------------------------------------------------------------------------


async def test_console_lang_server_language_and_setting_in_that_order(make_settings: Any) -> None:
    async with console_session(make_settings()) as session:
        answer = await session.answer_to("alice: /queue")
        assert answer["text"] == "The queue is empty."
        # A moderator picks French for the server (told in the language they asked in), and
        # everyone there is answered in French from then on.
        answer = await session.answer_to("mod: /mod language fr")
        assert answer["text"].startswith("This server's language: French."), answer
        answer = await session.answer_to("alice: a paper boat --frames 2 --steps 1")
        assert answer["event"] == "queued"
        assert answer["text"].startswith(f"Tâche {answer['job']} enregistrée : "), answer
        # The job keeps the language it was asked in, for the messages that follow it.
        job = await session.core.db.get(answer["job"])
        assert job.reply.get("lang") == "fr"
        assert (await session.answer_to("alice: /cancel 999"))["text"] == "Vous n'avez pas de tâche 999."
        # `--lang` comes before the server's choice.
        session.console.language = "en"
        assert (await session.answer_to("alice: /cancel 999"))["text"] == "You have no job 999."
        session.console.language = None
        # The console's own sentences too.
        assert (await session.answer_to("alice: /nope"))["text"].startswith("Commande `/nope` inconnue.")
        assert (await session.answer_to("mod: /mod language xx"))["event"] == "refused"
        await session.answer_to("mod: /mod language default")
        assert (await session.answer_to("alice: /cancel 999"))["text"] == "You have no job 999."


async def test_the_bots_setting_is_the_language_of_a_server_without_one(make_settings: Any) -> None:
    async with console_session(make_settings(language="fr")) as session:
        answer = await session.answer_to("alice: a cat --frames 2 --nope 3")
        assert answer["event"] == "refused"
        assert answer["text"].startswith("Je ne connais pas l'option `--nope`"), answer
        assert (await session.answer_to("bob: /history"))["text"] == "Vous n'avez encore créé aucune vidéo."
        # The content policy's refusal and its appeal hint, both in French: nothing half English.
        refusal = await session.answer_to("bob: a bloody decapitation")
        assert refusal["reason"] == "policy" and refusal["category"] == "violence"
        assert refusal["text"] == (
            "Désolé, ce prompt semble relever de la catégorie « violence explicite », ce que ce "
            "serveur n'autorise pas. Si c'est une erreur, demandez à un modérateur d'autoriser "
            "l'expression inoffensive avec `/mod allow`."
        )
    # Closed, the bot gives the process its language back (a host may start another bot).
    assert i18n.default() == "en"


def test_console_help_offers_lang(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import child_env

    out = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--help"], env=child_env(), cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "--lang {en,fr}" in out


# --- render options refused by the engine ---------------------------------------------------------


def _engine_refusals() -> list[tuple[str, list[str]]]:
    """Every `InvalidRequest(message, key, **values)` raised in `engine/request.py`, and every
    `BadImage` in `engine/image.py`: their keys and value names."""
    import ast

    from engine import image, request

    found = []
    for module in (request, image):
        found += _raised(ast.parse(Path(module.__file__ or "").read_text()), ("InvalidRequest", "BadImage"))
    return found


def _raised(tree: Any, names: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    import ast

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names:
            assert len(node.args) == 2, f"line {node.lineno}: an InvalidRequest without a key"
            # A constant, or a choice between constants (`"a" if x else "b"`).
            keys = [c.value for c in ast.walk(node.args[1]) if isinstance(c, ast.Constant)]
            found += [(k, [kw.arg for kw in node.keywords if kw.arg]) for k in keys]
    return found


def test_every_refusal_the_engine_keys_has_its_french() -> None:
    refusals = _engine_refusals()
    assert len({key for key, _ in refusals}) >= 20
    with i18n.speaking("fr"):
        for key, names in refusals:
            values = {name: f"zq{name}" for name in names} | ({"fps": 305} if "fps" in names else {})
            said = core_texts.invalid_request(InvalidRequest("The English.", key, **values))
            assert said != "The English.", key
            shown = [v for n, v in values.items() if n not in ("unit", "option")]
            assert [v for v in shown if str(v) not in said] == [], (key, said)


@pytest.mark.parametrize(
    "line",
    [
        "x --frames 0",
        "x --steps 999",
        "x --fps 0",
        "x --seconds 999",
        "x --width 9999",
        "--seed 3",
        "x --seconds 1 --frames 2",
        "x --ar 5:1",
        "x --ar sideways",
        "x --ar 16:9 --width 64",
        "x --loop",
    ],
)
async def test_a_refused_render_option_is_said_in_french(make_settings: Any, line: str) -> None:
    async with console_session(make_settings()) as session:
        english = await session.answer_to(f"alice: {line}")
        session.console.language = "fr"
        french = await session.answer_to(f"alice: {line}")
    assert english["event"] == french["event"] == "refused" and english["reason"] == "invalid"
    assert french["text"] != english["text"], french
    numbers = re.findall(r"\d+(?:\.\d+)?", english["text"])
    assert [n for n in numbers if n.replace(".", ",") not in french["text"]] == [], (english, french)
