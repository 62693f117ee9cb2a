"""The project's Markdown pages as the docs tests read them: which pages, their code blocks, their links.

One parser for every test that runs or checks what the documentation says (the examples, the README's
facts, the links, the Celery recipe, the webhook receivers), so they all see the same blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DOCS", "EXAMPLE_PAGES", "PAGES", "README", "ROOT", "Block", "anchors", "block_with", "blocks"]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# Pages whose every code block runs in tests/docs/test_examples.py.
EXAMPLE_PAGES = (README, *sorted(DOCS.glob("*.md")))
# Pages whose links and paths must resolve: those, plus the evidence and figures beside their tests.
PAGES = (*EXAMPLE_PAGES, ROOT / "tests" / "reliability" / "README.md", ROOT / "benchmarks" / "README.md")

# A fenced block, optionally preceded by the one marker that exempts it from running:
# <!-- not run: REASON -->
_BLOCK = re.compile(
    r"(?:^<!-- not run: (?P<why>[^\n]*?) -->\n)?^```(?P<language>[\w-]*)\n(?P<code>.*?)^```[ \t]*$",
    flags=re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text, and why it is not run (if it is not)."""

    page: Path
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(pages: tuple[Path, ...] = EXAMPLE_PAGES, language: str | None = None) -> list[Block]:
    """The fenced blocks of ``pages`` in order (of one ``language`` if given)."""
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("language")) + 1
            found.append(Block(page, line, match["language"], match["code"], match["why"]))
    return [b for b in found if language is None or b.language == language]


def block_with(page: Path, marker: str, language: str = "python") -> str:
    """The one ``language`` block of ``page`` containing ``marker``, as a reader copies it."""
    (code,) = [b.code for b in blocks((page,), language) if marker in b.code]
    return code


def anchors(page: Path) -> set[str]:
    """The fragment ids GitHub gives the page's headings: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    ids = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, flags=re.M):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
        ids.add(re.sub(r"[^\w\- ]", "", plain).replace(" ", "-"))
    return ids
