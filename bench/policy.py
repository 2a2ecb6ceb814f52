"""How long the prompt policy takes on a typical prompt, relative to splitting it into words.

The bot checks every prompt before queueing it, so ``PromptPolicy.check`` has to stay cheap next to
the simplest possible pass over the text. Both are timed side by side in one run (rounds
alternate), so the ratio holds on a slow CI runner as well as on a laptop; the absolute
microseconds are printed for reference only.

Run: ``python bench/policy.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.policy import PromptPolicy

_WORDS_TEXT = (
    "a the cat dog runs over hill sunset cinematic lighting 4k detailed forest river mountain city "
    "neon night rain slow motion camera pans close up portrait of an old man woman playing with "
    "ball in park golden hour dramatic clouds, volumetric fog; reflections on wet asphalt"
)
# Latin letters swapped for the Cyrillic letters drawn the same, as an evader would.
_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"})
_CUSTOM_WORDS = ("frog", "green slime")

CALLS_PER_ROUND = 50
ROUNDS = 31


def typical_prompt(length: int = 1000) -> str:
    vocabulary = _WORDS_TEXT.split()
    words = [vocabulary[(i * 7) % len(vocabulary)] for i in range(length)]
    return " ".join(words)[:length]


def _per_call(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(CALLS_PER_ROUND):
        func()
    return (time.perf_counter() - start) / CALLS_PER_ROUND


def side_by_side(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b``, alternating rounds so both see the same machine."""
    a(), b()  # warm up: caches, regex compilation
    times_a, times_b = [], []
    for _ in range(ROUNDS):
        times_a.append(_per_call(a))
        times_b.append(_per_call(b))
    return statistics.median(times_a), statistics.median(times_b)


def main() -> None:
    policy = PromptPolicy()
    plain = typical_prompt()
    prompts = {"plain": plain, "cyrillic look-alikes": plain.translate(_CYRILLIC)}
    print(f"PromptPolicy.check, {len(plain)}-char prompt, 2 custom words, warm caches;")
    print(f"median of {ROUNDS} rounds x {CALLS_PER_ROUND} calls, side by side with str.split")
    for name, prompt in prompts.items():
        assert policy.check(prompt, custom_words=_CUSTOM_WORDS).allowed, name
        check, split = side_by_side(
            lambda p=prompt: policy.check(p, custom_words=_CUSTOM_WORDS),
            prompt.split,
        )
        print(f"[{name}]")
        print(f"  policy check / str.split ratio: {check / split:.1f}x")
        print(f"  policy check: {check * 1e6:.1f} us, str.split: {split * 1e6:.2f} us")


if __name__ == "__main__":
    main()
