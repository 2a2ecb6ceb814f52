"""A tiny text classifier of a real class, saved to a folder the way a downloaded one is.

BertForSequenceClassification with a 10-word vocabulary and 8 hidden units: it loads in well
under a second. Its head's weights are zero, so its logits are exactly its bias, whatever the
prompt: a test sets the probability each label must have (``probs``) and checks that the verdict
follows, which tests the wiring (tokenizer, model, id2label, sigmoid or softmax, threshold)
without pretending that random weights classify anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

WORDS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "lighthouse", "storm", "at", "dawn")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def build_text_classifier(
    folder: Path, probs: Mapping[str, float], *, multi_label: bool = True, max_length: int = 16
) -> Path:
    """Save a classifier whose labels are `probs`' keys, in that order.

    Multi-label: label i's sigmoid is probs[i]. Single-label: the softmax over the labels is
    `probs` (which then must sum to 1).
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    labels = list(probs)
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(WORDS)}, model_max_length=max_length)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=max_length,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    model = BertForSequenceClassification(config)
    bias = [logit(p) if multi_label else math.log(p) for p in probs.values()]
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
