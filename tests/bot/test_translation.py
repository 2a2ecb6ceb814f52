"""Prompts not in English: the guess, the tip in the member's language, and the translation step
against a loopback fake of LibreTranslate's `POST /translate` (written from its documented schema:
`{"q", "source", "target", "format", "api_key"}` -> `{"translatedText"}`; errors as `{"error"}`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.translation import looks_english
from tests.bot.console_session import console_session

TINY = "--frames 2 --steps 1 --width 16 --height 16"
TIP_EN = "Tip: the video models read English best, so a prompt in English usually gives a closer clip."


@pytest.mark.parametrize(
    "prompt",
    [
        "a corgi surfing a wave at sunset",
        "the Eiffel tower at night, la belle époque style",  # names and loanwords stay English
        "café racer in the rain",
        "chat",  # too short to tell: left alone
        "",
    ],
)
def test_english_prompts_read_as_english(prompt: str) -> None:
    assert looks_english(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "un chat qui danse sous la pluie",
        "el perro corre por la playa con una pelota",
        "ein Hund läuft mit einem Ball auf der Straße",
        "una gatta nella neve con il cappello",
        "一只猫在雨中跳舞",
        "кошка танцует под дождём",
    ],
)
def test_other_languages_read_as_not_english(prompt: str) -> None:
    assert not looks_english(prompt)


def test_the_guess_reads_only_a_prompts_first_words() -> None:
    # Linear, and bounded: a megabyte of words costs what its first 200 do, well under a second.
    huge = "un chat qui danse " + "x" * 1_000_000 + " word" * 200_000
    start = time.perf_counter()
    assert not looks_english(huge)
    assert time.perf_counter() - start < 1.0


async def test_a_prompt_not_in_english_gets_a_tip_in_the_members_language(make_settings: Any) -> None:
    async with console_session(make_settings()) as session:
        answer = await session.answer_to(f"alice: un chat qui danse sous la pluie {TINY}")
        assert answer["event"] == "queued" and answer["text"].endswith(TIP_EN), answer
        job = await session.core.db.get(answer["job"])
        assert job.request.prompt == "un chat qui danse sous la pluie"  # no translator: as written
        english = await session.answer_to(f"alice: a cat dancing in the rain {TINY}")
        assert "Tip" not in english["text"]
        session.console.language = "fr"
        answer = await session.answer_to(f"alice: un chien qui court sur la plage {TINY}")
        assert answer["text"].endswith("donne généralement une vidéo plus fidèle."), answer


# --- the translation step ----------------------------------------------------------------------


@dataclass
class FakeTranslate:
    """`POST /translate`: answers what the test put in `answers` (by input), records each body."""

    answers: dict[str, str] = field(default_factory=dict)
    mode: str = "ok"  # "ok", "500", "hang" (never answers), "no_text"
    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _never: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        if self.mode == "500":
            return web.json_response({"error": "Internal error"}, status=500)
        if self.mode == "hang":
            await self._never.wait()
        if self.mode == "no_text":
            return web.json_response({"detectedLanguage": {"language": "fr"}})
        return web.json_response({"translatedText": self.answers.get(body["q"], body["q"])})


@pytest.fixture
async def translate() -> AsyncIterator[FakeTranslate]:
    fake = FakeTranslate()
    app = web.Application()
    app.router.add_post("/translate", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}/translate"
    try:
        yield fake
    finally:
        fake._never.set()
        await runner.cleanup()


async def test_the_model_gets_the_translation_and_the_member_keeps_their_words(
    make_settings: Any, translate: FakeTranslate
) -> None:
    translate.answers["un chat qui danse sous la pluie"] = "a cat dancing in the rain"
    settings = make_settings(translate_url=translate.url, translate_api_key="k3y")
    async with console_session(settings) as session:
        answer = await session.answer_to(f"alice: un chat qui danse sous la pluie {TINY}")
        assert answer["event"] == "queued", answer
        assert answer["text"].endswith("Your prompt was translated into English for the video model.")
        job = await session.core.db.get(answer["job"])
        assert job.request.prompt == "a cat dancing in the rain"
        assert job.reply["prompt"] == "un chat qui danse sous la pluie"
        # English prompts are never sent.
        await session.answer_to(f"alice: a dog on a beach {TINY}")
    assert translate.bodies == [
        {"q": "un chat qui danse sous la pluie", "source": "auto", "target": "en", "format": "text",
         "api_key": "k3y"}
    ]  # fmt: skip


async def test_the_translation_is_checked_by_the_word_lists_too(
    make_settings: Any, translate: FakeTranslate
) -> None:
    translate.answers["une scène de film calme"] = "a bloody decapitation"
    async with console_session(make_settings(translate_url=translate.url)) as session:
        answer = await session.answer_to(f"alice: une scène de film calme {TINY}")
    assert answer["event"] == "refused" and answer["reason"] == "policy" and answer["category"] == "violence"


@pytest.mark.parametrize("mode", ["500", "hang", "no_text"])
async def test_a_translator_that_does_not_answer_leaves_the_prompt_as_written(
    make_settings: Any, translate: FakeTranslate, mode: str
) -> None:
    translate.mode = mode
    settings = make_settings(translate_url=translate.url, translate_timeout_seconds=0.3)
    async with console_session(settings) as session:
        answer = await session.answer_to(f"alice: un chat qui danse sous la pluie {TINY}")
        assert answer["event"] == "queued" and answer["text"].endswith(TIP_EN), answer
        job = await session.core.db.get(answer["job"])
    assert job.request.prompt == "un chat qui danse sous la pluie" and "prompt" not in job.reply
    assert len(translate.bodies) == 1
