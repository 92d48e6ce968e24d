"""The documentation as data, for the tests that keep it honest: README.md and docs/**/*.md, their
fenced code blocks, relative links and GitHub-style heading anchors, and the routes docs/api.md names."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"

_FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)")
_PARAM = re.compile(r"\{[^}]*\}")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(path: Path) -> str:
    """The page without its fenced code blocks."""
    return _FENCE.sub("", path.read_text())


def code_blocks(path: Path, language: str) -> list[str]:
    fence = re.compile(rf"^```{language}[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return fence.findall(path.read_text())


def relative_links(path: Path) -> list[str]:
    return [target for target in _LINK.findall(prose(path)) if not re.match(r"[a-z]+:", target)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def documented_routes(path: Path) -> set[tuple[str, str]]:
    """``METHOD /path`` pairs named in the page, path parameters written ``{}``."""
    return {(method, normalise(route)) for method, route in _ROUTE.findall(prose(path))}


def normalise(route: str) -> str:
    return _PARAM.sub("{}", route)
