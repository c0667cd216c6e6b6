"""`load(path)`: read, validate and resolve a spec file."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from archspec.errors import ArchspecError, Location
from archspec.spec.graph import Spec, resolve
from archspec.spec.model import SpecFile
from archspec.spec.validation import validation_problems
from archspec.spec.yaml_source import Source, parse_source, read_source


def load(path: str | Path) -> Spec:
    """Read a spec file and return the resolved model; ArchspecError lists every problem found."""
    return load_source(read_source(path), default_name=_identifier(Path(path).stem))


def loads(text: str, file: str = "<string>") -> Spec:
    """Like `load`, from a string."""
    return load_source(parse_source(text, file), default_name="model")


def load_source(source: Source, default_name: str) -> Spec:
    if not isinstance(source.data, dict):
        raise ArchspecError("a spec must be a YAML mapping with at least 'inputs' and 'layers'", Location(source.file, 1, 1))
    try:
        spec_file = SpecFile.model_validate(source.data)
    except ValidationError as exc:
        problems = validation_problems(exc, source.data, source, (), SpecFile)
        # report the layers' own problems too, when the top level is usable without the bad keys
        bad_keys = {err["loc"][0] for err in exc.errors() if err["loc"] and err["type"] == "extra_forbidden"}
        if bad_keys and all(err["type"] == "extra_forbidden" for err in exc.errors()):
            cleaned = {k: v for k, v in source.data.items() if k not in bad_keys}
            try:
                resolve(SpecFile.model_validate(cleaned), source, default_name)
            except ArchspecError as more:
                problems += more.problems
            except ValidationError:
                pass  # the bad keys held something the rest needs (e.g. the only 'inputs'): report them alone
        raise ArchspecError(problems) from None
    return resolve(spec_file, source, default_name)


def _identifier(stem: str) -> str:
    name = re.sub(r"\W", "_", stem)
    return name if re.match(r"^[A-Za-z_]", name) else f"model_{name}"
