"""The `archspec` command line: thin commands over the library.

Commands that need no framework (validate, summary, plot, schema) import neither
TensorFlow nor torch; backends are imported inside the commands that use them.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console

from archspec import __version__
from archspec.errors import ArchspecError, CheckFailed

app = typer.Typer(
    name="archspec",
    help="Declare a neural network once, in YAML; get summaries, diagrams, Keras, PyTorch and ONNX that agree.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def command(*args, **kwargs) -> Callable:
    """app.command() that turns ArchspecError into exit 2 and CheckFailed into exit 1, without tracebacks."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except ArchspecError as exc:
                for problem in exc.render().splitlines():
                    err.print(f"[bold red]error:[/] {problem}", highlight=False, markup=True)
                raise typer.Exit(exc.exit_code) from None
            except CheckFailed as exc:
                if str(exc):
                    err.print(f"[bold red]failed:[/] {exc}", highlight=False)
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                err.print("[yellow]interrupted[/]")
                raise typer.Exit(130) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorate


def _version(value: bool) -> None:
    if value:
        out.print(f"archspec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """archspec: one spec, every framework, the same function."""


# ---------------------------------------------------------------- framework-free commands


@command()
def validate(specs: List[Path] = typer.Argument(..., help="Spec files to check.")) -> None:
    """Check spec files: YAML, keys, values, wiring and shapes. Exit 2 if any is invalid."""
    from archspec.spec import load

    failures: list[ArchspecError] = []
    for path in specs:
        try:
            spec = load(path)
        except ArchspecError as exc:
            failures.append(exc)
            continue
        out.print(
            f"[green]ok[/] {path}: {spec.name}, {len(spec.nodes)} layers, {spec.total_params:,} params",
            highlight=False,
        )
    if failures:
        raise ArchspecError([p for exc in failures for p in exc.problems])


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@command()
def summary(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", "-f", help="table, json or markdown."),
) -> None:
    """Layer-by-layer output shapes, parameters (Keras's counts), MACs and sizes."""
    from archspec.spec import load
    from archspec.summary import render_markdown, render_table, summarize, to_json

    spec = load(spec_path)
    data = summarize(spec)
    if format is SummaryFormat.json:
        sys.stdout.write(to_json(data) + "\n")
    elif format is SummaryFormat.markdown:
        sys.stdout.write(render_markdown(data, spec) + "\n")
    else:
        out.print(render_table(data, spec))


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"


@command()
def plot(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Spec file."),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.svg, .png, .pdf or .dot"),
    rankdir: RankDir = typer.Option(RankDir.TB, help="TB: top to bottom; LR: left to right."),
) -> None:
    """Draw the layer graph with names and shapes (Graphviz)."""
    from archspec.plot import plot as draw
    from archspec.spec import load

    path = draw(load(spec_path), output, rankdir.value)
    out.print(f"wrote {path}", highlight=False)


@command()
def schema(output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE instead of stdout.")) -> None:
    """JSON Schema of the spec format (for editors: see the README)."""
    from archspec.fileio import atomic_write_text
    from archspec.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2)
    if output:
        atomic_write_text(output, text + "\n")
        out.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    app()
