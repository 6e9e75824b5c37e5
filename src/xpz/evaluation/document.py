"""A minimal document model rendered to both Markdown and standalone HTML.

An evaluation report is a title and a list of sections holding paragraphs,
tables and figures.  :func:`to_markdown` references figures by relative path;
:func:`to_html` embeds them as base64 PNG, so the HTML file stands alone (no
external CSS, scripts or images).

>>> doc = [Section("Metrics", (Table(("name", "value"), (("MAE", "0.02"),)),))]
>>> print(to_markdown("Report", doc))
# Report
<BLANKLINE>
## Metrics
<BLANKLINE>
| name | value |
|---|---|
| MAE | 0.02 |
<BLANKLINE>
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "Paragraph", "Section", "Table", "to_html", "to_markdown"]


@dataclass(frozen=True)
class Paragraph:
    """Plain text (no markup)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        widths = {len(row) for row in self.rows}
        if widths - {len(self.header)}:
            raise ValueError(
                f"rows must have {len(self.header)} cells, got widths {sorted(widths)}"
            )


@dataclass(frozen=True)
class Figure:
    """A PNG image, ``path`` relative to the report's directory."""

    path: str
    caption: str


Block = Paragraph | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


def _markdown_row(cells: Sequence[str]) -> str:
    """One table row, with ``|`` inside cells escaped."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _markdown_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Table):
        lines = [_markdown_row(block.header), "|" + "---|" * len(block.header)]
        lines += [_markdown_row(row) for row in block.rows]
        return "\n".join(lines)
    return f"![{block.caption}]({block.path})\n\n*{block.caption}*"


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    """The document as GitHub-flavoured Markdown."""
    parts = [f"# {title}"]
    for section in sections:
        parts.append(f"## {section.title}")
        parts.extend(_markdown_block(block) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; }
figure { margin: 1.5em 0; }
img { max-width: 100%; }
figcaption { font-style: italic; }
"""


def _html_block(block: Block, root: Path) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    data = base64.b64encode((root / block.path).read_bytes()).decode("ascii")
    caption = html.escape(block.caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def to_html(title: str, sections: Sequence[Section], root: Path) -> str:
    """The document as one standalone HTML page; figure paths are read relative to ``root``."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.extend(_html_block(block, root) for block in section.blocks)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
