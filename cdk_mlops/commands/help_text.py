"""Plain-text help for ``cdk-mlops``: module docstrings, which are written in reStructuredText for the
API documentation, become the ``--help`` descriptions without their markup, and the CLI's version.

Kept apart from :mod:`cdk_mlops.cli` so that it imports nothing heavy: ``cdk-mlops --help`` and
``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
from collections.abc import Iterable

#: ``:role:`text <target>``` or ``:role:`target``` (Sphinx roles such as ``:mod:`` or ``:class:``).
_ROLE = re.compile(r":[a-z:]+:`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")
#: ````literal```` and ```interpreted```.
_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")

DISTRIBUTION = "cdk-mlops"


def plain_text(docstring: str | None) -> str:
    """``docstring`` without reStructuredText markup: roles keep their text (``:mod:`a.b``` -> ``a.b``),
    literals lose their backticks. Paragraphs stay apart; lines within one are joined, since argparse
    wraps them again. An empty string for None."""
    if not docstring:
        return ""
    text = _ROLE.sub(lambda match: (match.group(1) or match.group(2) or "").strip("~"), docstring)
    text = _LITERAL.sub(lambda match: match.group(1) or match.group(2), text)
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in paragraph.splitlines()) for paragraph in paragraphs)


def version() -> str:
    """The installed version of the ``cdk-mlops`` distribution, or ``unknown`` when it is not installed
    (the package imported from a source folder)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class PlainHelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but a description keeps its paragraphs (each one wrapped on its own)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n\n".join(fill(part, width, indent) for part in text.split("\n\n"))


def describe_commands(parsers: Iterable[argparse.ArgumentParser], docstring: str | None) -> None:
    """Gives each subcommand parser in ``parsers`` the paragraph-keeping formatter and, when it has no
    description of its own, the plain text of ``docstring`` (its module's)."""
    for parser in parsers:
        parser.formatter_class = PlainHelpFormatter
        if parser.description is None and docstring:
            parser.description = plain_text(docstring)
