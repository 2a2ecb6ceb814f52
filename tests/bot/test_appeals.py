"""Allowed phrases are taken out of a prompt as whole words, disguised or not, and nothing more."""

from __future__ import annotations

import pytest

from bot.policy import PromptPolicy
from bot.policy.appeals import phrase_key, without_phrases


@pytest.mark.parametrize(
    ("prompt", "kept"),
    [
        ("Dick Van Dyke dancing", "dancing"),
        ("dancing with DICK VAN DYKE!", "dancing with"),
        ("d1ck v4n dyke on a roof", "on a roof"),  # leetspeak reads as the phrase
        ("Dick Van Dyke's hat", "hat"),  # possessive
        ("Dіck Vаn Dyke", ""),  # Cyrillic look-alikes
    ],
)
def test_occurrences_are_removed_however_they_are_written(prompt: str, kept: str) -> None:
    assert without_phrases(prompt, ["Dick Van Dyke"]).replace(".", " ").split() == kept.split()


@pytest.mark.parametrize(
    "prompt",
    [
        "Dick Van dancing",  # only part of the phrase
        "Dick-Van-Dyke-Smith",  # the phrase inside a longer word
        "Dick Van Dykes-and-more",
    ],
)
def test_a_partial_or_embedded_occurrence_stays(prompt: str) -> None:
    assert without_phrases(prompt, ["Dick Van Dyke"]) == prompt


def test_the_gap_joins_nothing_the_lists_would_not_see_anyway() -> None:
    policy = PromptPolicy()
    assert not policy.check("a nude statue").allowed
    # What is left around a removed phrase is still read: the phrase is no password.
    assert not policy.check(without_phrases("a nude Dick Van Dyke statue", ["Dick Van Dyke"])).allowed


def test_phrases_are_stored_folded() -> None:
    assert phrase_key("  Cöckatiel!! ") == "cockatiel"
    assert phrase_key("Dick  VAN dyke") == "dick van dyke"
    assert phrase_key("... --") == ""
