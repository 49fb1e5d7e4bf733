"""Checks shared by the golden-file tests of the rendered pages and e-mails (di_ops.core.templating):
hostile values, the golden-file comparison, and the markup structure of a page (its tags and
attribute names), which must come from the template alone whatever the data.

``DI_OPS_UPDATE_GOLDEN=1`` rewrites the golden files (then review the diff).
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
QUOTE = 'x" onmouseover="alert(1)'  # breaks out of a double-quoted attribute unless escaped
APOS = "x' onfocus='alert(2)"  # breaks out of a single-quoted attribute unless escaped
CRLF = "Acme\r\nBcc: attacker@example.com"  # a new mail header unless the subject is one line

IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
QUOTE_ESCAPED = "x&#34; onmouseover=&#34;alert(1)"
APOS_ESCAPED = "x&#39; onfocus=&#39;alert(2)"


def assert_golden(path: Path, text: str) -> None:
    """``text`` is the golden file's content byte for byte (rewritten with DI_OPS_UPDATE_GOLDEN=1)."""
    if os.environ.get("DI_OPS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    assert text == path.read_bytes().decode("utf-8"), f"differs from {path} (DI_OPS_UPDATE_GOLDEN=1 rewrites)"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, ()))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def structure(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every tag of ``html`` in order, with its attribute names: what a browser builds, values aside."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def text_of(html: str) -> str:
    """The text a reader sees (character references decoded)."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return "".join(parser.text)


def assert_no_markup_from_data(html: str) -> None:
    """No script or image element, no event-handler attribute: none of the hostile values became markup."""
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    tags = structure(html)
    assert not [t for t in tags if t[0] in {"script", "img", "iframe", "object", "embed"}]
    assert not [t for t in tags if any(name.startswith("on") for name in t[1])]
