"""The plain-text part of an email derived from its HTML (stdlib html.parser only).

Tags are dropped, a link keeps its target as "text (url)", block elements and <br> break
lines, runs of spaces collapse and at most one blank line separates paragraphs. The content
of <head>, <style> and <script> is not text.
"""

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
        "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"head", "style", "script", "title", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden_depth = 0
        self.links: list[tuple[str | None, int]] = []  # (href, index of the first chunk)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden_depth += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag in _BLOCKS:
            self.chunks.append("\n\n" if tag in ("p", "h1", "h2", "h3", "table") else "\n")
            if tag == "li":
                self.chunks.append("- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.chunks)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.chunks.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        elif tag in _BLOCKS and tag != "li":
            self.chunks.append("\n\n" if tag in ("p", "h1", "h2", "h3", "table") else "\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.chunks[start:]).split())
            if href and not href.startswith(("#", "javascript:")) and href != label:
                self.chunks.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.chunks).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"
