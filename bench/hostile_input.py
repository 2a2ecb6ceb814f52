"""Time per KB of every parser that reads user text, on adversarial inputs of 1, 16, 64 and 256 KB.

No input may cost more than linear time: a parser that backtracks quadratically takes 16 times
as long per KB at 16 KB as at 1 KB, and 256 times as long at 256 KB. So each parser is fed
inputs built to make a regex or a loop work hard (long whitespace runs, runs of one character,
unclosed quotes and mentions, long numbers), and the figure printed is the time per KB at each
size divided by the time per KB at 1 KB: about 1 (or less, as fixed costs spread) is linear;
a figure that grows with the size is not. The parsers are measured without the length caps that
stand in front of them (`_parse` rather than `parse_prompt`), since the caps would hide exactly
this; the capped entry points are listed too, for what a user really reaches. For contrast, the
console's old line regex is timed at 1 and 4 KB only (16 KB took 13 s).

Run: ``python bench/hostile_input.py``
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.console import Console, ConsoleAdapter, split_line
from bot.discord.cogs.video import _MENTION
from bot.flags import _parse, parse_number, parse_prompt
from bot.policy import PromptPolicy
from engine.request import InvalidRequest, build_request, parse_aspect

SIZES_KB = (1, 16, 64, 256)
REPEATS = 3
# What bot/console.py used before: `^\s*` and `\s*` around a lazy group backtrack quadratically.
_OLD_LINE = re.compile(r"^\s*([^:\n]{1,64}?)\s*:\s?(.*)$", re.DOTALL)


def fill(unit: str, size: int, head: str = "", tail: str = "") -> str:
    """`unit` repeated to make `head + ... + tail` exactly `size` characters."""
    body = size - len(head) - len(tail)
    return head + (unit * (body // len(unit) + 1))[:body] + tail


# parser -> (name of input, input of n characters)
INPUTS: dict[str, list[tuple[str, Callable[[int], str]]]] = {
    "console split_line": [
        ("spaces only", lambda n: fill(" ", n)),
        ("spaces, then a colon", lambda n: fill(" ", n, tail=":")),
        ("spaces around a name", lambda n: fill(" ", n, head="a", tail=": x")),
        ("no colon", lambda n: fill("ab ", n)),
    ],
    "flags _parse": [
        ("em dashes", lambda n: fill("—", n)),
        ("spaced dashes", lambda n: fill(" ——", n)),
        ("in-word apostrophes", lambda n: fill("a'", n)),
        ("unclosed quotes", lambda n: fill("\"a '", n)),
        ("many flags", lambda n: fill("--seed 1 ", n)),
    ],
    "policy check": [
        ("spaced letters", lambda n: fill("n u d e ", n)),
        ("leetspeak junk", lambda n: fill("1|1|1|1|1|1|1|1 ", n)),
        ("one long token", lambda n: fill("1", n, tail="!")),
        ("stretched letters", lambda n: fill("u", n, head="n", tail="de")),
        ("bidi overrides", lambda n: fill("\u202e", n, tail="edun")),
        ("combining marks", lambda n: fill("a\u0301\u0302", n)),
        ("emoji joiners", lambda n: fill("👍\u200d", n)),
        ("exceptions everywhere", lambda n: fill("naked eye ", n)),
        ("CJK run", lambda n: fill("裸足自殺", n)),
        ("censor stars", lambda n: fill("s*x p**n ", n)),
        ("capitalised names", lambda n: fill("Emma Stone ", n)),
        ("misspelled names", lambda n: fill("Jenifer Lopes ", n)),
        ("one capitalised word", lambda n: fill("b", n, head="a A")),
        ("people and characters", lambda n: fill("a photo of Emma Potterx with Luke Skywalker ", n)),
        ("phrase rule words", lambda n: fill("cut open his belly ", n)),
    ],
    "mention regex": [
        ("unclosed mention", lambda n: fill("9", n, head="<@")),
        ("mention starts", lambda n: fill("<@!", n)),
        ("mentions", lambda n: fill("<@123> ", n)),
    ],
    "numbers": [
        ("long whole number", lambda n: fill("9", n)),
        ("long exponent", lambda n: fill("9", n, head="1e")),
        ("long aspect", lambda n: fill("1", n, tail=":1")),
    ],
}


def run_parser(parser: str, text: str, policy: PromptPolicy) -> None:
    if parser == "console split_line":
        split_line(text)
    elif parser == "flags _parse":
        _try(lambda: _parse(text))
    elif parser == "policy check":
        policy.check(text, custom_words=("frog",))
    elif parser == "mention regex":
        _MENTION.sub(lambda m: "" if m.group(1) == "123" else m.group(0), text)
    elif text.endswith(":1"):
        _try(lambda: parse_aspect(text))
    else:
        _try(lambda: build_request("a cat", seed=parse_number(text, whole=True)))


def _try(func: Callable[[], object]) -> None:
    with contextlib.suppress(InvalidRequest):  # a refusal is an answer too; what counts is its time
        func()


def seconds(func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def per_kb_row(func_of_size: Callable[[int], Callable[[], object]]) -> tuple[list[float], list[float]]:
    """Seconds per KB at each size, and each divided by the figure at 1 KB."""
    per_kb = [seconds(func_of_size(kb * 1024)) / kb for kb in SIZES_KB]
    return per_kb, [t / per_kb[0] for t in per_kb]


def print_row(label: str, per_kb: list[float], ratios: list[float]) -> None:
    figures = "  ".join(f"{r:7.2f}" for r in ratios)
    print(f"  {label:<26} {figures}   ({per_kb[0] * 1e6:8.1f} us/KB at 1 KB)")


def console_handle_row() -> tuple[list[float], list[float]]:
    """`Console.handle` on a real Core and journal, the way a console line really arrives."""
    from bot.config import Settings
    from bot.core import Core

    async def run(home: Path) -> tuple[list[float], list[float]]:
        settings = Settings(_env_file=None, data_dir=home, in_process_worker=False)  # type: ignore[call-arg]
        adapter = ConsoleAdapter(io.StringIO(), as_json=True)
        core = Core(settings, adapter)
        await core.start()
        try:
            console = Console(core, adapter, mods=set())
            per_kb = []
            for kb in SIZES_KB:
                line = fill(" ", kb * 1024, head="alice:")
                best = float("inf")
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    await console.handle(line)
                    best = min(best, time.perf_counter() - start)
                per_kb.append(best / kb)
        finally:
            await core.close()
        return per_kb, [t / per_kb[0] for t in per_kb]

    with tempfile.TemporaryDirectory() as home:
        return asyncio.run(run(Path(home)))


def main() -> None:
    policy = PromptPolicy()
    print("time per KB at each size / time per KB at 1 KB; linear is about 1 (or less), quadratic")
    print("grows with the size (16, 64, 256)")
    print(f"  {'':<26} " + "  ".join(f"{kb:>4} KB" for kb in SIZES_KB))
    worst = 0.0
    for parser, inputs in INPUTS.items():
        print(f"[{parser}]")
        for label, make in inputs:
            per_kb, ratios = per_kb_row(lambda n, make=make, p=parser: lambda: run_parser(p, make(n), policy))
            print_row(label, per_kb, ratios)
            worst = max(worst, *ratios)

    print("[capped entry points, as a member reaches them]")
    print_row("Console.handle, spaces", *console_handle_row())
    capped = per_kb_row(lambda n: lambda: _try(lambda: parse_prompt(fill(" ——", n))))
    print_row("parse_prompt, dashes", *capped)

    print("[before: the console's old line regex on spaces, 1 and 4 KB only]")
    old = [seconds(lambda kb=kb: _OLD_LINE.match(" " * kb * 1024)) / kb for kb in (1, 4)]
    figures = f"{1.0:7.2f}  {old[1] / old[0]:7.2f} at 4 KB"
    print(f"  {'_LINE.match':<26} {figures}   ({old[0] * 1e6:8.1f} us/KB at 1 KB)")
    print(f"worst ratio of the current parsers, 1 to 256 KB: {worst:.2f}")


if __name__ == "__main__":
    main()
