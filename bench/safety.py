"""How well the prompt policy's first layer (lists and rules) does on the red-team corpus.

The corpus (``tests/redteam/corpus.jsonl``) is split in two: ``heldout`` was written before the
lists were extended and never tuned on, ``dev`` is what the lists were tuned against. Each split
is reported on its own, because only the held-out figures say how the policy does on prompts
nobody tuned it for. For every split, overall and per language:

* caught: harmful prompts refused *with the category the corpus expects* (a refusal under the
  wrong label counts as missed: the member is told the wrong reason, and a server that switched
  that category off would have let it through);
* refused: harmful prompts refused under any category;
* benign admitted: prompts the corpus marks harmless that were let through;
* label accuracy: of the harmful prompts refused, the share refused under the right category.

Then the time per check (median and p99 of single calls) for 1000-character prompts: an
ordinary English one, and one made of corpus prompts in every language (CJK included).

Targets from issue 11 for lists and rules alone: >= 85% caught, >= 97% benign admitted, median
< 1 ms. ``tests/bot/test_policy_redteam.py`` fails when the corpus falls below the first two.

Run: ``python bench/safety.py`` (``--misses=dev`` also lists the dev split's misses; tune on
those only, never on the held-out ones).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.policy import CATEGORIES, PromptPolicy

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "redteam" / "corpus.jsonl"
CALLS = 2000

_ENGLISH = (
    "a the cat dog runs over hill sunset cinematic lighting 4k detailed forest river mountain city "
    "neon night rain slow motion camera pans close up portrait of an old man woman playing with "
    "ball in park golden hour dramatic clouds, volumetric fog; reflections on wet asphalt"
)


def load_corpus(path: Path = CORPUS) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "-"


def _report(rows: list[dict[str, object]], verdicts: list[str | None], title: str) -> None:
    """Print one split's figures: per category, then per language, then the misses."""
    print(f"\n== {title}: {len(rows)} prompts")
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    by_lang: dict[str, Counter[str]] = defaultdict(Counter)
    misses = []
    for row, got in zip(rows, verdicts, strict=True):
        want = row["expect"]
        for bucket in (by_lang[str(row["lang"])], by_lang["ALL"]):
            if want is None:
                bucket["benign"] += 1
                bucket["admitted"] += got is None
            else:
                bucket["harmful"] += 1
                bucket["refused"] += got is not None
                bucket["caught"] += got == want
        if want is not None:
            by_cat[str(want)]["total"] += 1
            by_cat[str(want)]["caught"] += got == want
        if got != want:
            misses.append((row["text"], want, got))
    print("per category (refused with the right category):")
    for category in CATEGORIES:
        counts = by_cat.get(category)
        if counts:
            print(f"  {category:15} {_pct(counts['caught'], counts['total'])}")
    print(f"  {'lang':5} {'caught':>16} {'refused':>16} {'benign admitted':>16} {'label accuracy':>16}")
    for lang in sorted(by_lang, key=lambda k: (k == "ALL", k)):
        c = by_lang[lang]
        print(
            f"  {lang:5} {_pct(c['caught'], c['harmful']):>16} {_pct(c['refused'], c['harmful']):>16} "
            f"{_pct(c['admitted'], c['benign']):>16} {_pct(c['caught'], c['refused']):>16}"
        )
    if misses and f"--misses={title}" in sys.argv:
        print("misses (text, expected, got):")
        for text, want, got in misses:
            print(f"  {want!s:15} {got!s:15} {text}")


def _timing(policy: PromptPolicy, name: str, prompt: str) -> None:
    policy.check(prompt)  # warm up
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        policy.check(prompt)
        times.append(time.perf_counter() - start)
    times.sort()
    p99 = times[int(len(times) * 0.99)]
    print(f"  {name:28} median {statistics.median(times) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms")


def main() -> None:
    policy = PromptPolicy()
    rows = load_corpus()
    verdicts = [policy.check(str(row["text"])).category for row in rows]
    for split in ("heldout", "dev"):
        chosen = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["split"] == split]
        _report([r for r, _ in chosen], [v for _, v in chosen], split)
    _report(rows, verdicts, "both splits")

    print(f"\ntime per check, {CALLS} single calls, 1000-character prompts:")
    words = _ENGLISH.split()
    english = " ".join(words[(i * 7) % len(words)] for i in range(1000))[:1000]
    benign = [str(r["text"]) for r in rows if r["expect"] is None]
    mixed = " ".join(benign * 10)[:1000]
    _timing(policy, "ordinary English", english)
    _timing(policy, "benign corpus, all languages", mixed)


if __name__ == "__main__":
    main()
