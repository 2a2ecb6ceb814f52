"""The local text classifier's wiring: a tiny real BertForSequenceClassification from a folder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.presets import ModelUnavailable
from engine.textcheck import TextModel
from tests.tiny_textcheck import build_text_classifier


def test_labels_map_onto_categories_and_the_rest_count_for_nothing(tmp_path: Path) -> None:
    folder = build_text_classifier(
        tmp_path / "clf", {"safe": 0.9, "violence/graphic": 0.7, "Sexual-Minors": 0.2, "S9": 0.6}
    )
    scores = TextModel.load(str(folder)).scores("a lighthouse at dawn")
    assert scores.keys() == {"violence", "minors"}  # "safe" and the unknown "S9" are nobody's
    assert scores["violence"] == pytest.approx(0.7, abs=1e-5)
    assert scores["minors"] == pytest.approx(0.2, abs=1e-5)

    mapped = TextModel.load(str(folder), labels={"S9": "hate"}).scores("a storm")
    assert mapped["hate"] == pytest.approx(0.6, abs=1e-5)


def test_a_single_label_model_reads_as_softmax(tmp_path: Path) -> None:
    folder = build_text_classifier(
        tmp_path / "clf", {"neutral": 0.5, "hate": 0.3, "sexual": 0.2}, multi_label=False
    )
    scores = TextModel.load(str(folder)).scores("a storm at dawn")
    assert scores == {"hate": pytest.approx(0.3, abs=1e-5), "sexual": pytest.approx(0.2, abs=1e-5)}


def test_a_long_prompt_is_cut_to_what_the_model_can_read(tmp_path: Path) -> None:
    folder = build_text_classifier(tmp_path / "clf", {"violence": 0.7}, max_length=16)
    model = TextModel.load(str(folder))
    started = time.perf_counter()
    scores = model.scores("a storm " * 500)  # 1000 tokens against 16 positions
    assert scores["violence"] == pytest.approx(0.7, abs=1e-5)
    assert time.perf_counter() - started < 5


def test_missing_weights_are_one_line_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as missing:
        TextModel.load(str(tmp_path / "nowhere"))
    message = str(missing.value)
    assert "\n" not in message and "PROMPTREEL_LOCAL_CLASSIFIER" in message and "nowhere" in message

    with pytest.raises(ModelUnavailable) as offline:
        TextModel.load("someone/no-such-moderation-model", offline=True)
    assert "\n" not in str(offline.value) and "hf download someone/no-such-moderation-model" in str(
        offline.value
    )


def test_a_model_with_no_policy_label_is_refused_at_load(tmp_path: Path) -> None:
    folder = build_text_classifier(tmp_path / "clf", {"LABEL_0": 0.5, "LABEL_1": 0.5})
    with pytest.raises(ModelUnavailable, match="PROMPTREEL_LOCAL_CLASSIFIER_LABELS"):
        TextModel.load(str(folder))
