"""User-facing errors: each one points at a file, line and column where it can.

An `ArchspecError` is bad input (exit code 2). It carries one or more `Problem`s so
that independent mistakes in a spec are all reported in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Iterable, Sequence

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        return printable(f"{self.location}: {self.message}" if self.location else self.message)


class ArchspecError(Exception):
    """Bad input: an invalid spec, a missing file, a wrong argument. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: str | Problem | Sequence[Problem], location: Location | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems, location)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        shown = [str(p) for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more problem{'s' if hidden > 1 else ''}")
        return "\n".join(shown)


class CheckFailed(Exception):
    """A job ran but its result is a failure (exit code 1)."""

    exit_code = 1


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return f" (did you mean '{lowered[word.lower()]}'?)"
    match = get_close_matches(word, choices, n=1, cutoff=0.6)
    if not match:
        match = [lowered[m] for m in get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return f" (did you mean '{match[0]}'?)" if match else ""


def shorten(value: object, limit: int = 60) -> str:
    """repr() of a value, cut short so hostile input cannot flood the terminal."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind_of(value: object) -> str:
    """'a list', 'a mapping', 'a number', ... for messages about a value of the wrong type."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def printable(text: str) -> str:
    """`text` with control characters, line breaks and the like escaped (\\r, \\x1e, \\u2028).

    Messages quote what the spec says; a name holding a line break must not split one
    problem over two lines of the terminal (or hide what it is).
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
