"""Tests for the prompt content policy.

Two corpora carry most of the weight: innocent prompts that a substring filter would block, and
disguised prompts that a plain word list would let through. On top of that every term in the
shipped data files is pushed through each disguise, so a term added by a moderator is covered too.
"""

from __future__ import annotations

import re
import shutil
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.policy import (
    ALWAYS_ON,
    CATEGORIES,
    CATEGORY_LABELS,
    DEFAULT_DATA_DIR,
    PromptPolicy,
    Verdict,
    clean,
    fold,
    lists,
    rules,
)


@pytest.fixture(scope="module")
def pp() -> PromptPolicy:
    return PromptPolicy()


# The refusals, written out: a change to any of them should be a deliberate edit here too.
MESSAGES = {
    "sexual": "Sorry, that prompt looks like it asks for sexual content, which this server doesn't allow.",
    "minors": (
        "Sorry, that prompt looks like it asks for sexual content involving minors, which is never allowed."
    ),
    "violence": (
        "Sorry, that prompt looks like it asks for graphic violence, which this server doesn't allow."
    ),
    "hate": "Sorry, that prompt looks like it asks for hateful content, which this server doesn't allow.",
    "self_harm": "Sorry, that prompt looks like it asks for self-harm, which this server doesn't allow.",
    "harassment": (
        "Sorry, that prompt looks like it asks for harassment or humiliation of a real person, which this"
        " server doesn't allow."
    ),
    "public_figures": (
        "Sorry, that prompt looks like it asks for real public figures, which this server doesn't allow."
    ),
    "trademarks": (
        "Sorry, that prompt looks like it asks for trademarked characters, which this server doesn't allow."
    ),
    "custom": "Sorry, that prompt contains a word or phrase this server has blocked.",
}


# ---------------------------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------------------------


def test_categories_and_labels() -> None:
    assert CATEGORIES == (
        "sexual",
        "minors",
        "violence",
        "hate",
        "self_harm",
        "harassment",
        "public_figures",
        "trademarks",
    )
    assert frozenset({"minors"}) == ALWAYS_ON
    assert set(CATEGORIES) | {"custom"} == set(CATEGORY_LABELS)
    assert CATEGORY_LABELS["minors"] == "sexual content involving minors"
    assert CATEGORY_LABELS["self_harm"] == "self-harm"
    assert CATEGORY_LABELS["harassment"] == "harassment or humiliation of a real person"


def test_an_innocent_prompt_passes_with_nothing_to_say(pp: PromptPolicy) -> None:
    verdict = pp.check("a corgi surfing a wave at sunset")
    assert verdict.allowed and verdict.category is None and verdict.message == ""


def test_messages_are_polite_and_name_the_category() -> None:
    assert set(MESSAGES) == set(CATEGORIES) | {"custom"}
    for category, message in MESSAGES.items():
        assert rules._blocked(category) == Verdict(False, category, message)
        assert CATEGORY_LABELS[category] in message
        assert message.startswith("Sorry")
    assert "never allowed" in MESSAGES["minors"]


# ---------------------------------------------------------------------------------------------
# clean() and fold()
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  hello\u200b   world\n\t ", "hello world"),
        ("\u202eevil\u202c text", "evil text"),
        ("\u2066isolated\u2069", "isolated"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("soft\u00adhyphen", "softhyphen"),
        ("a\x00b\x07c\x7f", "abc"),
        ("line\u2028break\u3000ideographic\xa0nbsp", "line break ideographic nbsp"),
        ("nu\u200dde", "nude"),
        ("n\ufe0fude", "nude"),
        ("hangul\u3164filler", "hangulfiller"),
        ("cafe\u0301", "café"),  # NFKC composes; accents are kept for display
        ("Москва ночью", "Москва ночью"),  # clean never folds scripts
        ("🏳️‍🌈 pride", "🏳️‍🌈 pride"),
        ("family 👨‍👩‍👧 picnic", "family 👨‍👩‍👧 picnic"),
        ("❤️ love", "❤️ love"),
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


def _invisible_code_points() -> list[str]:
    chars = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category == "Cf" or (category == "Cc" and not ch.isspace()):
            chars.append(ch)
    return chars


def test_clean_and_fold_remove_every_format_and_control_character() -> None:
    """The hidden-character class is written by hand; check it against this Unicode database."""
    missed_clean = [f"U+{ord(ch):04X}" for ch in _invisible_code_points() if clean(f"a{ch}b") != "ab"]
    missed_fold = [f"U+{ord(ch):04X}" for ch in _invisible_code_points() if fold(f"nu{ch}de") != "nude"]
    assert not missed_clean
    assert not missed_fold


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Ｎ\u200bＵ\u00adＤＥ", "nude"),
        ("nаkеd", "naked"),  # Cyrillic а and е
        ("ΗΕLLΟ", "hello"),  # Greek capitals
        ("ᴅɪsɴᴇʏ", "disney"),  # small capitals
        ("Pokémon", "pokemon"),
        ("p0rn $ex h@te k1ll!", "porn sex hate kill"),
        ("don't stop", "dont stop"),
        ("12yo 4k 35mm 1990", "12yo 4k 35mm 1990"),
        ("Straße", "strasse"),
        ("n_u_d_e", "n u d e"),
        ("z\u0336a\u0336l\u0336g\u0336o\u0336", "zalgo"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


# ---------------------------------------------------------------------------------------------
# False positives
# ---------------------------------------------------------------------------------------------

INNOCENT = [
    "a town called Scunthorpe",
    "a cocktail at sunset",
    "a classic car driving along the coast",
    "a therapist in her office",
    "essex countryside in spring",
    "a glass of grape juice",
    "cumulus clouds over a wheat field",
    "analysis of a sunset",
    "a bass guitar on a stage",
    "a homosexual couple holding hands in the park",
    "a same-sex couple's wedding",
    "Middlesex university campus in the rain",
    "the annals of ancient Rome",
    "a naked mole rat in its burrow",
    "stars visible to the naked eye",
    "a student graduating summa cum laude",
    "a peacock spreading its feathers",
    "a rooster next to a weathercock on a barn",
    "blue tits at a bird feeder",
    "paint stripper removing old varnish",
    "a Gore-Tex rain jacket",
    "firefighters in flame retardant suits",
    "a train on the Penistone line",
    "a shooting star over the desert",
    "a killer whale breaching at dawn",
    "a skilled chef dicing onions",
    "a Sussex spaniel asleep by the fire",
    "an old sextant on a ship's deck",
    "a murder of crows on a fence",
    "a kid flying a kite on the beach",
    "kids playing football in the rain",
    "a baby sleeping in a crib",
    "a 12 year old boy winning a chess tournament",
    "teenagers skateboarding in a park",
    "nude-colored lipstick on a vanity table",
    "a spider crawling on a man's hand",
    "a super man lifting weights at the gym",
    "a mouse named Mickey eating cheese",
    "a trump card on a poker table",
    "a swift flying over a lake",
    "a U.S.A. flag waving in the wind",
    "1girl, solo, 4k, masterpiece, 35mm film",
    "a cat wearing a $5 hat!!!",
    "ＡＩ robot in a ｃａｆｅ",
    "a café in Zürich at night",
    "Москва at night, snow falling",
    "a sushi chef at 7:30 pm",
    "the C minor prelude played on a grand piano",
    "a family party 🎉👨‍👩‍👧 with balloons",
    "the erection of a cathedral in the middle ages",
    "a horny toad in the desert sand",
    "a child's drawing of a rainbow",
    "a baby oil bottle on a shelf, sexy product lighting",
    "a hedgehog eating an apple",
    "a glass of cocktail sauce",
    "grapes in a bowl next to a drape",
]


def test_innocent_corpus_would_fool_a_substring_filter() -> None:
    """The corpus proves something only if a naive filter built from the same lists blocks it."""
    terms = {text.lower() for _, _, text in _shipped_terms()}
    tripped = [prompt for prompt in INNOCENT if any(term in prompt.lower() for term in terms)]
    assert len(tripped) >= 30, tripped


@pytest.mark.parametrize("prompt", INNOCENT)
def test_innocent_prompts_pass(pp: PromptPolicy, prompt: str) -> None:
    assert pp.check(prompt) == Verdict(True, None, "")


def test_spaced_letters_only_join_single_letter_runs(pp: PromptPolicy) -> None:
    # "a classic" must never be read as "aclassic"; "c l a s s i c" is a spaced-out word.
    assert pp.check("a classic car", custom_words=["aclassic"]).allowed
    assert pp.check("a c l a s s i c car", custom_words=["classic"]).category == "custom"


def test_doubled_letters_are_not_stretched_letters(pp: PromptPolicy) -> None:
    assert pp.check("the annals of history").allowed
    assert pp.check("anal").category == "sexual"
    assert pp.check("annnal").category == "sexual"


# ---------------------------------------------------------------------------------------------
# Evasions
# ---------------------------------------------------------------------------------------------

HOSTILE = [
    ("n u d e woman on a beach", "sexual"),
    ("a n u d e woman", "sexual"),
    ("n.u.d.e beach", "sexual"),
    ("n-u-d-e beach", "sexual"),
    ("n_u_d_e", "sexual"),
    ("n|u|d|e", "sexual"),
    ("nuuuuude photoshoot", "sexual"),
    ("NuDe PhOtOsHoOt", "sexual"),
    ("ｎｕｄｅ model", "sexual"),
    ("nu\u200bde model", "sexual"),
    ("nu\u00adde model", "sexual"),
    ("nu\u2060de model", "sexual"),
    ("nu\ufeffde model", "sexual"),
    ("nu\u202ede model", "sexual"),  # RTL override inside the word
    ("a \u202eedun\u202c model", "sexual"),  # RTL override displaying reversed text
    ("nаkеd woman", "sexual"),  # Cyrillic а, е
    ("рorn video", "sexual"),  # Cyrillic р
    ("ΝΑΚΕD", "sexual"),  # Greek capitals
    ("nakéd woman", "sexual"),
    ("n\u0336u\u0336d\u0336e\u0336", "sexual"),  # combining strikethrough
    ("p0rn", "sexual"),
    ("$ex tape", "sexual"),
    ("5ex tape", "sexual"),
    ("s3x scene", "sexual"),
    ("h3nt@i", "sexual"),
    ("a d1ld0", "sexual"),
    ("sIut", "sexual"),  # capital I for l
    ("𝐧𝐮𝐝𝐞", "sexual"),
    ("ⓝⓤⓓⓔ", "sexual"),
    ("🅝🅤🅓🅔", "sexual"),
    ("b e h e a d i n g", "violence"),
    ("g.o.r.e fest", "violence"),
    ("d3capitated soldier", "violence"),
    ("ᴅɪsᴍᴇᴍʙᴇʀᴇᴅ body", "violence"),
    ("a massacreeee", "violence"),
    ("s1eg h3il", "hate"),
    ("H E I L  H I T L E R", "hate"),
    ("d4rth v4d3r", "trademarks"),
    ("Ｄａｒｔｈ Ｖａｄｅｒ", "trademarks"),
    ("darthvader", "trademarks"),
    ("p i k a c h u", "trademarks"),
    ("Pikachü", "trademarks"),
    ("spider-man swinging", "trademarks"),
    ("d0nald trump", "public_figures"),
    ("Taylor  Swift's concert", "public_figures"),
    ("ｔａｙｌｏｒ ｓｗｉｆｔ", "public_figures"),
    ("12yo nude", "minors"),
    ("a 12-year-old, naked", "minors"),
    ("l0li h3ntai", "minors"),
    ("sch00lgirl in lingerie", "minors"),
    ("little\u200b girl, sexy pose", "minors"),
    ("t e e n nude", "minors"),
    ("a k1d, n.u.d.e", "minors"),
    ("jai1bait", "minors"),
    ("c.s.a.m", "minors"),
    ("a cute kid in l1ngerie", "minors"),
]


@pytest.mark.parametrize(("prompt", "category"), HOSTILE)
def test_evasions_are_caught(pp: PromptPolicy, prompt: str, category: str) -> None:
    verdict = pp.check(prompt)
    assert verdict == Verdict(False, category, MESSAGES[category])


# Every shipped term, pushed through every disguise.

_HOMOGLYPHS = str.maketrans(
    {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "s": "ѕ", "j": "ј"}
)
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}


def _leet(term: str) -> str:
    """Leetspeak every vowel, s and t, but keep a word's first letter when the word would start
    with two digits: "600k" or "53x" read as quantities, by design."""
    words = []
    for word in term.split(" "):
        leet = "".join(_LEET.get(ch, ch) for ch in word)
        if leet[:2].isdigit() and not word[:2].isdigit():
            leet = word[0] + leet[1:]
        words.append(leet)
    return " ".join(words)


def _letters(term: str) -> str:
    return re.sub(r"[\s\-']", "", term)


DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "upper": str.upper,
    "mixed case": lambda t: "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(t)),
    "zero-width": "\u200b".join,
    "soft hyphens": "\u00ad".join,
    "fullwidth": lambda t: "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in t),
    "homoglyphs": lambda t: t.translate(_HOMOGLYPHS),
    "leetspeak": _leet,
    "spaced": lambda t: " ".join(_letters(t)),
    "dotted": lambda t: ".".join(_letters(t)),
    "stretched": lambda t: "".join(ch * 4 if ch in "aeiou" else ch for ch in t),
    "accents": lambda t: "".join(ch + "\u0301" if ch.isalpha() else ch for ch in t),
    "rtl override inside": lambda t: t[:1] + "\u202e\u202c" + t[1:],
    "rtl reversed": lambda t: "\u202e" + t[::-1],
}


def _shipped_terms() -> list[tuple[str, str, str]]:
    terms = []
    for category in CATEGORIES:
        for entry in lists.parse_data_file(DEFAULT_DATA_DIR / f"{category}.txt", category):
            if not entry.exception:
                terms.append((category, entry.group, entry.text.rstrip("*")))
    return terms


def _as_prompt(group: str, text: str) -> str:
    if group == "minors:minor":
        return f"{text} nude"  # minor words only count next to a sexual word
    if group == "minors:sexual":
        return f"a little girl, {text}"
    return text


@pytest.mark.parametrize("disguise", DISGUISES)
def test_every_shipped_term_is_caught_in_disguise(pp: PromptPolicy, disguise: str) -> None:
    missed = []
    for category, group, text in _shipped_terms():
        prompt = _as_prompt(group, DISGUISES[disguise](text))
        verdict = pp.check(prompt)
        if verdict.category != category:
            missed.append((text, prompt, verdict.category))
        # The message is a fixed sentence: it never repeats what was matched (unless the term is
        # the category's own name, as "self harm" is).
        if f" {fold(text)} " not in f" {fold(CATEGORY_LABELS[category])} ":
            assert f" {fold(text)} " not in f" {fold(verdict.message)} "
    assert not missed


def test_quantities_are_not_leetspeak(pp: PromptPolicy) -> None:
    # Read as leetspeak, "600k" would be a slur and "8008s" a sexual word.
    assert pp.check("celebrating 600k subscribers, 8008s of confetti, 1080p, 60fps").allowed


def test_plurals_and_prefixes(pp: PromptPolicy) -> None:
    assert pp.check("two nudes").category == "sexual"
    assert pp.check("pornographic").category == "sexual"
    assert pp.check("decapitations").category == "violence"
    assert pp.check("rapeseed field in bloom").allowed


def test_minor_words_alone_are_fine_but_not_with_sexual_words(pp: PromptPolicy) -> None:
    assert pp.check("a toddler at the zoo").allowed
    assert pp.check("a toddler at the zoo, nude").category == "minors"
    assert pp.check("a teenager in a bikini").category == "minors"
    assert pp.check("a woman in a bikini").allowed
    assert pp.check("a sexy sports car with minor scratches").allowed
    # Exceptions in sexual.txt also defuse the combination.
    assert pp.check("a kid looking at stars with the naked eye").allowed


def test_minors_outranks_other_categories(pp: PromptPolicy) -> None:
    assert pp.check("nude teen, darth vader, gore").category == "minors"
    assert pp.check("nude woman, gore").category == "sexual"
    assert pp.check("gore, darth vader").category == "violence"


# ---------------------------------------------------------------------------------------------
# Guild settings
# ---------------------------------------------------------------------------------------------

SAMPLES = {
    "sexual": "a nude woman",
    "violence": "a severed head",
    "hate": "sieg heil",
    "self_harm": "a teenager with suicidal thoughts on a rooftop",
    "harassment": "make my stepbrother look stupid in front of the whole class",
    "public_figures": "donald trump dancing",
    "trademarks": "pikachu in the rain",
}


@pytest.mark.parametrize("category", sorted(SAMPLES))
def test_categories_can_be_disabled(pp: PromptPolicy, category: str) -> None:
    prompt = SAMPLES[category]
    assert pp.check(prompt).category == category
    assert pp.check(prompt, disabled=[category]).allowed
    others = [c for c in CATEGORIES if c != category]
    assert pp.check(prompt, disabled=others).category == category


def test_minors_cannot_be_disabled(pp: PromptPolicy) -> None:
    for prompt in ("12yo nude", "a kid, sexy pose", "jailbait"):
        assert pp.check(prompt, disabled=CATEGORIES).category == "minors"
        assert pp.check(prompt, disabled="minors").category == "minors"


def test_disabled_accepts_any_iterable_and_ignores_unknown_names(pp: PromptPolicy) -> None:
    assert pp.check("a severed head", disabled="violence").allowed
    assert pp.check("a severed head", disabled=iter(["violence"])).allowed
    assert pp.check("a severed head", disabled=["no_such_category"]).category == "violence"


def test_custom_words(pp: PromptPolicy) -> None:
    words = ["frog", "green slime", "wiggl*"]
    verdict = pp.check("a frog on a lily pad", custom_words=words)
    assert verdict == Verdict(False, "custom", MESSAGES["custom"])
    assert "frog" not in verdict.message
    assert pp.check("three frogs", custom_words=words).category == "custom"
    assert pp.check("a fr0g", custom_words=words).category == "custom"
    assert pp.check("a ｆｒоｇ", custom_words=words).category == "custom"
    assert pp.check("f r o g", custom_words=words).category == "custom"
    assert pp.check("a frogman diving", custom_words=words).allowed
    assert pp.check("green slime everywhere", custom_words=words).category == "custom"
    assert pp.check("green grass and slime", custom_words=words).allowed
    assert pp.check("a wiggly worm", custom_words=words).category == "custom"
    assert pp.check("a frog", custom_words="frog").category == "custom"
    assert pp.check("a frog", custom_words=["", "  "]).allowed
    assert pp.check("a frog").allowed  # nothing leaks from earlier calls


def test_custom_words_rank_below_categories(pp: PromptPolicy) -> None:
    assert pp.check("a nude frog", custom_words=["frog"]).category == "sexual"
    assert pp.check("a nude frog", custom_words=["frog"], disabled=["sexual"]).category == "custom"


def test_custom_emoji(pp: PromptPolicy) -> None:
    assert pp.check("a 🍆 on a plate", custom_words=["🍆"]).category == "custom"
    assert pp.check("a 🍅 on a plate", custom_words=["🍆"]).allowed


# ---------------------------------------------------------------------------------------------
# Data files
# ---------------------------------------------------------------------------------------------


def test_data_files_are_packaged_and_documented() -> None:
    files = sorted(p.name for p in DEFAULT_DATA_DIR.glob("*.txt"))  # pyproject: policy/data/*.txt
    assert files == sorted([*(f"{c}.txt" for c in CATEGORIES), "phrases.txt", "names.txt"])
    for name in files:
        text = (DEFAULT_DATA_DIR / name).read_text(encoding="utf-8")
        header = text.split("\n\n", 1)[0]
        assert header.startswith("#")
        assert "moderators may edit" in header.lower()
        assert re.search(r"one (term|rule|entry) per line", header.lower())


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    for path in DEFAULT_DATA_DIR.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_edited_data_files_take_effect(data_copy: Path) -> None:
    with (data_copy / "violence.txt").open("a", encoding="utf-8") as f:
        f.write("\nfrobnicate # a moderator's addition\n{red,blue} smurf\n")
    pp = PromptPolicy(data_copy)
    assert pp.check("please frobnicate the town").category == "violence"
    assert pp.check("a blue smurf").category == "violence"
    assert pp.check("a smurf").allowed


def test_missing_data_file_fails_loudly(data_copy: Path) -> None:
    (data_copy / "hate.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"hate\.txt"):
        PromptPolicy(data_copy)


@pytest.mark.parametrize(
    ("name", "line", "error"),
    [
        ("violence.txt", "[explicit]", "unknown section"),
        ("minors.txt", "[minr]", "unknown section"),
        ("hate.txt", "{9..1} things", "bad range"),
        ("trademarks.txt", "---", "no letters"),
    ],
)
def test_mistakes_in_data_files_name_the_line(data_copy: Path, name: str, line: str, error: str) -> None:
    path = data_copy / name
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, line]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{name}:{len(lines) + 1}: .*{error}"):
        PromptPolicy(data_copy)


# ---------------------------------------------------------------------------------------------
# Long prompts (speed is measured in bench/policy.py)
# ---------------------------------------------------------------------------------------------

_WORDS_TEXT = (
    "a the cat dog runs over hill sunset cinematic lighting 4k detailed forest river mountain city "
    "neon night rain slow motion camera pans close up portrait of an old man woman playing with "
    "ball in park golden hour dramatic clouds, volumetric fog; reflections on wet asphalt"
)


def _typical_prompt(length: int = 1000) -> str:
    vocabulary = _WORDS_TEXT.split()
    words = [vocabulary[(i * 7) % len(vocabulary)] for i in range(length)]
    return " ".join(words)[:length]


def test_typical_long_prompt_is_allowed(pp: PromptPolicy) -> None:
    prompt = _typical_prompt()
    custom = ["frog", "green slime"]
    assert pp.check(prompt, custom_words=custom) == Verdict(True, None, "")
    assert pp.check(prompt, custom_words=custom) == Verdict(True, None, "")  # and again, from the caches


def test_huge_prompt_is_checked(pp: PromptPolicy) -> None:
    prompt = ("n u d e beach " * 1000) + ("1|1|1|1|1|1|1|1|1|1 " * 500) + _typical_prompt(20_000)
    assert pp.check(prompt).category == "sexual"
