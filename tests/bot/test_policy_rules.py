"""Tests for the policy's rules beyond plain word lists: CJK substrings, phrase windows, people
(the named-person rule, misspelled and possessive names), franchise context, censor stars.

The examples are this file's own, apart from the red-team corpus (tests/redteam), so that the
corpus keeps measuring what nobody tuned on.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.policy import DEFAULT_DATA_DIR, PromptPolicy
from bot.policy.names import within_one_edit


@pytest.fixture(scope="module")
def pp() -> PromptPolicy:
    return PromptPolicy()


def _category(pp: PromptPolicy, prompt: str) -> str | None:
    return pp.check(prompt).category


# --- CJK: terms inside unspaced runs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("夜の公園で自殺を考える男", "self_harm"),  # a term in the middle of a Japanese sentence
        ("她 在 看 色 情 片", "sexual"),  # spaced out character by character
        ("ヌ\u200bー\u200bド写真", "sexual"),  # zero-width characters between kana
        ("포르노를 보는 남자", "sexual"),  # Hangul syllables stay whole
        ("학살 현장", "violence"),
        ("中学生の女の子、ヌード", "minors"),  # a minor word and a sexual word in one run
        ("夏の海で裸足で歩く", None),  # "barefoot" holds the character for "naked": an exception
        ("東京の夜景、雨、映画のような光", None),
    ],
)
def test_cjk_terms_match_inside_a_run(pp: PromptPolicy, prompt: str, category: str | None) -> None:
    assert _category(pp, prompt) == category


def test_custom_words_in_cjk_match_inside_a_run(pp: PromptPolicy) -> None:
    assert _category(pp, "公園で猫が寝ている") is None
    assert pp.check("公園で猫が寝ている", custom_words=["猫"]).category == "custom"
    assert pp.check("公園で犬が寝ている", custom_words=["猫"]).allowed


def test_latin_letters_break_a_cjk_run(pp: PromptPolicy) -> None:
    # "色" and "情" apart, with a Latin word between them, are not the word for pornography.
    assert _category(pp, "赤い色 and 情熱") is None


# --- Phrase windows ----------------------------------------------------------------------------


def test_two_harmless_words_close_together_mean_gore(pp: PromptPolicy) -> None:
    assert _category(pp, "the guard sliced open the stomach of the prisoner") == "violence"
    assert _category(pp, "the spine was ripped out of the robot's victim") == "violence"


def test_the_same_words_far_apart_are_harmless(pp: PromptPolicy) -> None:
    assert _category(pp, "she cut open the parcel, smiled, then patted her round belly") is None


def test_exceptions_defuse_a_phrase_rule(pp: PromptPolicy) -> None:
    assert _category(pp, "a cook slicing open a salmon belly on a board") is None


def test_hate_built_from_violent_words_is_labelled_hate(pp: PromptPolicy) -> None:
    assert _category(pp, "a crowd chanting to exterminate the refugees") == "hate"
    assert _category(pp, "a cartoon calling gypsies vermin") == "hate"


def test_self_harm_is_its_own_category(pp: PromptPolicy) -> None:
    assert _category(pp, "an old man slitting his wrists in a bathtub") == "self_harm"
    assert _category(pp, "a man who attempted suicide, in hospital") == "self_harm"
    assert _category(pp, "a 1960s Lincoln Continental with suicide doors") is None


def test_every_layer_counts_towards_minors(pp: PromptPolicy) -> None:
    # A minor word from one layer and a sexual meaning from another are still minors.
    assert _category(pp, "a schoolboy 🍆💦") == "minors"  # word list + emoji phrase rule
    assert _category(pp, "小学生, nude") == "minors"  # CJK substring + word list
    assert _category(pp, "a toddler, s*x") == "minors"  # word list + censor stars
    assert pp.check("a schoolboy 🍆💦", disabled=["sexual", "minors"]).category == "minors"


def test_emoji_combinations(pp: PromptPolicy) -> None:
    assert _category(pp, "her 👅 and 💦") == "sexual"
    assert _category(pp, "a 🍑 smoothie with 🍓") is None
    assert _category(pp, "🍆 parmigiana") is None


# --- People ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "Olivia Hartley dancing at a wedding",  # a given name and a capitalised surname
        "a drawing of Marcus Oyelaran as a king",
        "Barack Obamma on a beach",  # a listed name with one letter too many
        "Greta Thunbreg at a protest",  # two letters swapped
        "a concert by Rihana in the rain",  # one word, one letter short
        "Netanyahu's speech at the UN",  # a listed surname, possessive
        "Zelensky's jacket",
    ],
)
def test_real_people_the_lists_do_not_spell_out(pp: PromptPolicy, prompt: str) -> None:
    assert _category(pp, prompt) == "public_figures"


@pytest.mark.parametrize(
    "prompt",
    [
        "olivia hartley dancing at a wedding",  # no capitals: nothing says these are names
        "tom hands the keys to the driver",  # "hanks" is one letter away, but lowercase
        "Victoria Station at rush hour",  # a given name before a place word
        "Peter Pan flying over London",  # a character
        "A Portrait Of Grace Kelly Green Under Neon Light",  # Title Case says nothing about names
        "a concert by Rhiana in the rain",  # two edits from a seven-letter name is too many
        "Holland's tulip fields in April",  # a surname of a listed person that is also a place
        "a Round Robin PTRR scheduler diagram",  # an acronym after a given name is no surname
        "a Johnson's baby oil bottle",
    ],
)
def test_names_that_are_not_real_people(pp: PromptPolicy, prompt: str) -> None:
    assert _category(pp, prompt) is None


def test_edit_distance_of_one() -> None:
    assert within_one_edit("lopez", "lopes")  # substitution
    assert within_one_edit("jennifer", "jenifer")  # deletion
    assert within_one_edit("thunberg", "thunbreg")  # transposition
    assert within_one_edit("obama", "obamma")  # insertion
    assert not within_one_edit("rihanna", "rhiana")
    assert not within_one_edit("swift", "swfit" + "x")


def test_humiliating_a_named_or_known_person_is_harassment(pp: PromptPolicy) -> None:
    assert _category(pp, "my colleague Priya Raman getting pantsed at the party") == "harassment"
    assert _category(pp, "Owen Castell spat on by the whole team") == "harassment"
    assert _category(pp, "my stepdad in a diaper") == "harassment"
    assert _category(pp, "my colleague presenting at a conference") is None


# --- Franchise context -------------------------------------------------------------------------


def test_generic_character_names_count_only_with_their_franchise(pp: PromptPolicy) -> None:
    assert _category(pp, "Yoshi and a goomba on a beach") == "trademarks"
    assert _category(pp, "Link exploring Hyrule at dawn") == "trademarks"
    assert _category(pp, "Woody riding with Buzz in a pickup") == "trademarks"
    assert _category(pp, "peach jam on toast") is None
    assert _category(pp, "link the two ropes with a knot") is None
    assert _category(pp, "Mario playing the accordion in Naples") is None
    assert _category(pp, "a woody hillside covered in snow") is None
    # Two mentions of one generic name are not context for each other.
    assert _category(pp, "symbolic links in a tree pointing to other links") is None


@pytest.mark.parametrize(
    "prompt",
    [
        "a lawyer explaining all the gory details of a contract",  # an idiom
        "a chonky, thicc orange cat on a sofa",  # meme slang for a fat cat
        "a kid in thongs and a sun hat at the beach",  # flip-flops, in Australia
        "Zog the little dragon learning to fly",  # a picture-book dragon
        "my cat Simba asleep in the sun",  # a pet's name, no franchise around it
    ],
)
def test_ordinary_uses_of_words_near_the_lists(pp: PromptPolicy, prompt: str) -> None:
    assert _category(pp, prompt) is None


# --- Censor stars and other languages ----------------------------------------------------------


def test_starred_words(pp: PromptPolicy) -> None:
    assert _category(pp, "n*des for sale") == "sexual"
    assert _category(pp, "a h*ntai poster") == "sexual"
    assert _category(pp, "a c*t on a mat") is None  # no listed word fits
    assert _category(pp, "a 5* hotel by the sea") is None


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("photo de femmes nues au lit", "sexual"),
        ("chicas desnudas en la piscina", "sexual"),
        ("ein nackter Körper im Regen", "sexual"),
        ("foto porno di una coppia", "sexual"),
        ("mulheres nuas na cachoeira", "sexual"),
        ("ein Selbstmord im Hotel", "self_harm"),
        ("una pelada de fútbol en la calle", None),  # a pick-up football game, not "naked"
        ("un enfant qui joue au ballon", None),
    ],
)
def test_other_languages(pp: PromptPolicy, prompt: str, category: str | None) -> None:
    assert _category(pp, prompt) == category


def test_russian_terms_match_in_capitals_too(pp: PromptPolicy) -> None:
    assert _category(pp, "ГОЛАЯ ЖЕНЩИНА") == _category(pp, "голая женщина") == "sexual"


# --- Linear time, answered right (timing: bench/hostile_input.py) ------------------------------


def test_long_inputs_for_each_rule_get_the_right_answer(pp: PromptPolicy) -> None:
    assert _category(pp, "naked eye " * 5000) is None
    assert _category(pp, "裸足" * 5000) is None
    assert _category(pp, "裸足" * 5000 + "自殺") == "self_harm"
    assert _category(pp, "a song by Jenifer Lopes on the radio " * 1000) == "public_figures"
    assert _category(pp, "a photo of Emma Potterx with Luke Skywalker " * 2000) == "public_figures"
    assert _category(pp, "a " + "Z" + "z" * 100_000) is None  # one capitalised word as long as a book
    assert _category(pp, "s*x " * 5000) == "sexual"
    assert _category(pp, "cut open " * 3000 + "a melon") is None


# --- The rule files ----------------------------------------------------------------------------


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    for path in DEFAULT_DATA_DIR.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_edited_phrase_rules_take_effect(data_copy: Path) -> None:
    with (data_copy / "phrases.txt").open("a", encoding="utf-8") as f:
        f.write("\n[violence]\nsquash, squashed ~2~ smurf\n")
    pp = PromptPolicy(data_copy)
    assert pp.check("they squashed the smurf").category == "violence"
    assert pp.check("a smurf, happily playing squash").category == "violence"  # 2 words between
    assert pp.check("a smurf went off to play squash").allowed  # 4 words between


def test_edited_names_take_effect(data_copy: Path) -> None:
    with (data_copy / "names.txt").open("a", encoding="utf-8") as f:
        f.write("\n[given]\nzebulon\n")
    assert PromptPolicy(data_copy).check("Zebulon Marsh on a boat").category == "public_figures"
    assert PromptPolicy().check("Zebulon Marsh on a boat").allowed


@pytest.mark.parametrize("name", ["phrases.txt", "names.txt"])
def test_a_missing_rule_file_fails_loudly(data_copy: Path, name: str) -> None:
    (data_copy / name).unlink()
    with pytest.raises(FileNotFoundError, match=name.replace(".", r"\.")):
        PromptPolicy(data_copy)


@pytest.mark.parametrize(
    ("name", "line", "error"),
    [
        ("phrases.txt", "[violins]", "unknown section"),
        ("phrases.txt", "smurf ~x~ squash", "window"),
        ("phrases.txt", "smurf ~2~", "no terms"),
        ("phrases.txt", "smurf squash", "terms ~N~ terms"),
        ("names.txt", "[surnames]", "unknown section"),
    ],
)
def test_mistakes_in_rule_files_name_the_line(data_copy: Path, name: str, line: str, error: str) -> None:
    path = data_copy / name
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, line]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{name}:{len(lines) + 1}: .*{error}"):
        PromptPolicy(data_copy)
