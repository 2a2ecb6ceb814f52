"""The prompt in a post: the post's text without the bot's mention, markup or reply-chain handles.

Networks mark mentions differently: Bluesky gives the mention's byte range in a facet (the text
may hold the handle in any spelling), Mastodon sends HTML with the mentions as links and
prepends every thread participant's handle to a reply. Both end up as plain text here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

_HANDLE = re.compile(r"^@[\w.\-]+(@[\w.\-]+)?$")


def without_byte_ranges(text: str, ranges: Iterable[tuple[int, int]]) -> str:
    """`text` with the UTF-8 byte ranges [start, end) cut out (Bluesky facets index bytes)."""
    data = text.encode("utf-8")
    keep, at = [], 0
    for start, end in sorted(ranges):
        if start < at or end > len(data) or start > end:
            continue  # overlapping or outside the text: not a range this text has
        keep.append(data[at:start])
        at = end
    keep.append(data[at:])
    return b"".join(keep).decode("utf-8", errors="replace")


def strip_leading_handles(text: str) -> str:
    """Drop the @handles a post starts with (the bot's, and a reply's participants')."""
    words = text.split()
    while words and _HANDLE.match(words[0]):
        words.pop(0)
    return " ".join(words)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    """Mastodon's status HTML as the words it shows, on one line."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def prompt_of(text: str) -> str:
    """The prompt: the text after the leading handles, with the bot's handles left anywhere removed."""
    return strip_leading_handles(text).strip()
