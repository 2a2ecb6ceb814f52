"""A local text classifier for the prompt policy: any transformers sequence-classification model.

Loaded like the video presets, by hub id or by local folder, and failing like them: missing
weights end in one `ModelUnavailable` line that says what to fetch, never a traceback. The
model's own labels (``config.id2label``) are mapped onto the policy's categories by name, so
a moderation model trained with labels such as "sexual/minors", "S3" or "toxic" needs at most
a small ``labels`` table, not code.

Imported only by the chat side's local layer (`bot.policy.classifiers.LocalClassifier`), on its
own thread: the bot process stays torch-free until a server switches this layer on.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.presets import ModelUnavailable

log = logging.getLogger(__name__)

# Label names (lowercased, "-", " " and "/" read as "_") that mean one of our categories. Others
# ("safe", "neutral", "LABEL_0") count for nothing.
DEFAULT_LABELS: dict[str, str] = {
    "sexual": "sexual",
    "sexual_explicit": "sexual",
    "nsfw": "sexual",
    "porn": "sexual",
    "sexual_minors": "minors",
    "minors": "minors",
    "csam": "minors",
    "child_sexual_abuse": "minors",
    "violence": "violence",
    "violence_graphic": "violence",
    "violent": "violence",
    "gore": "violence",
    "hate": "hate",
    "hate_threatening": "hate",
    "identity_hate": "hate",
    "hate_speech": "hate",
    "self_harm": "self_harm",
    "self_harm_intent": "self_harm",
    "self_harm_instructions": "self_harm",
    "harassment": "harassment",
    "harassment_threatening": "harassment",
    "bullying": "harassment",
    "threat": "harassment",
}


def _key(label: str) -> str:
    return label.strip().lower().replace("-", "_").replace("/", "_").replace(" ", "_")


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or Path(source).exists() or source.count("/") > 1


def _unavailable(source: str, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"Text classifier {source!r}: {why}. Fetch it with `hf download {source} --local-dir DIR` on a "
        "machine with internet access and set PROMPTREEL_LOCAL_CLASSIFIER to DIR, or choose another layer."
    )


class TextModel:
    """A loaded classifier: tokenizer, model, and which output index means which category."""

    def __init__(self, tokenizer: Any, model: Any, categories: dict[int, str], multi_label: bool) -> None:
        self._tokenizer = tokenizer
        self._model = model
        self._categories = categories
        self._multi_label = multi_label
        self._max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)

    @classmethod
    def load(
        cls, source: str, *, labels: Mapping[str, str] | None = None, offline: bool = False
    ) -> TextModel:
        """Load from a hub id or a folder; `labels` adds to or overrides `DEFAULT_LABELS`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        kwargs: dict[str, Any] = {"local_files_only": offline}
        if _looks_like_path(source):
            folder = Path(source).expanduser()
            if not (folder / "config.json").is_file():
                raise _unavailable(source, "no config.json there")
            kwargs["local_files_only"] = True
            source = str(folder)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
                model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            log.debug("loading text classifier %s failed", source, exc_info=True)
            raise _unavailable(
                source, "the weights are not on this machine and the hub could not be reached"
            ) from exc
        model.eval()
        table = {**DEFAULT_LABELS, **{_key(k): v for k, v in (labels or {}).items()}}
        categories = {
            int(i): table[_key(name)] for i, name in model.config.id2label.items() if _key(name) in table
        }
        if not categories:
            names = ", ".join(str(n) for n in model.config.id2label.values())
            raise ModelUnavailable(
                f"Text classifier {source!r}: none of its labels ({names}) is a policy category; "
                "map them with PROMPTREEL_LOCAL_CLASSIFIER_LABELS."
            )
        multi = model.config.problem_type == "multi_label_classification"
        log.info("loaded text classifier %s (%s)", source, ", ".join(sorted(set(categories.values()))))
        return cls(tokenizer, model, categories, multi)

    @torch.inference_mode()
    def scores(self, text: str) -> dict[str, float]:
        """Each category's probability (the highest of its labels): sigmoid for multi-label
        models, whose labels are independent, softmax for single-label ones."""
        batch = self._tokenizer(text, truncation=True, max_length=self._max_length, return_tensors="pt")
        logits = self._model(**batch).logits[0].float()
        probs = torch.sigmoid(logits) if self._multi_label else torch.softmax(logits, dim=-1)
        out: dict[str, float] = {}
        for index, category in self._categories.items():
            out[category] = max(out.get(category, 0.0), float(probs[index]))
        return out
