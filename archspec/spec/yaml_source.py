"""Safe YAML reading that remembers where every value came from.

PyYAML's safe loader builds plain Python values but forgets positions. We compose the
node tree ourselves so that each value's path (e.g. ``("layers", 3, "filters")``) maps
to its line and column, which is what makes ``file:line:col`` error messages possible.
Aliases are expanded with a budget, so an alias bomb is an error rather than a hang.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import ArchspecError, Location, Problem, shorten

MAX_FILE_BYTES = 5_000_000
MAX_VALUES = 200_000  # scalars + containers after alias expansion
MAX_DEPTH = 64  # nesting of sequences and mappings; a spec needs about 6

_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
PathKey = tuple  # tuple[str | int, ...]


@dataclass
class Source:
    """A parsed YAML document plus the position of every value in it."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location:
        """The location of the value at `path`, or of its nearest located parent."""
        path = tuple(path)
        while path and path not in self.positions:
            path = path[:-1]
        line, col = self.positions.get(path, (None, None))
        return Location(self.file, line, col)


def read_source(path: str | Path) -> Source:
    path = Path(path)
    if not path.exists():
        raise ArchspecError(f"file not found: {path}")
    if path.is_dir():
        raise ArchspecError(f"{path} is a directory, not a spec file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArchspecError(f"{path}: file is larger than {MAX_FILE_BYTES // 1_000_000} MB; not a spec")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1  # column in bytes
        raise ArchspecError(f"not UTF-8 text ({exc.reason}: byte {shorten(raw[exc.start:exc.end])})",
                            Location(str(path), line, column)) from None
    except OSError as exc:
        raise ArchspecError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as read_text() reads
    return parse_source(text, str(path))


def parse_source(text: str, file: str = "<string>") -> Source:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise ArchspecError(f"invalid YAML: {exc.problem or exc.context}", loc) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows the offset only
        raise ArchspecError(f"invalid YAML: {exc.reason} (character {_character(exc.character)})",
                            _offset_location(text, exc.position, file)) from None
    except yaml.YAMLError as exc:
        raise ArchspecError(f"invalid YAML: {exc}", Location(file)) from None
    except RecursionError:  # PyYAML composes recursively: thousands of nested brackets
        raise ArchspecError("invalid YAML: nested too deeply", Location(file, 1, 1)) from None
    source = Source(file, None)
    if node is None:
        return source
    builder = _Builder(source)
    source.data = builder.build(node, ())
    return source


def _character(char: object) -> str:
    if isinstance(char, str):
        return f"#x{ord(char):04x}"
    if isinstance(char, int):  # a byte
        return f"#x{char:02x}"
    return ""


def _offset_location(text: str, offset: object, file: str) -> Location:
    """Line and column of a character offset into `text`."""
    if not isinstance(offset, int) or offset < 0:
        return Location(file, 1, 1)
    before = text[:offset]
    line = before.count("\n") + 1
    return Location(file, line, offset - (before.rfind("\n") + 1) + 1)


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.count = 0
        self.active: set[int] = set()
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise ArchspecError(
                f"document expands to more than {MAX_VALUES:,} values (an alias bomb?); refusing to read it",
                self._loc(node),
            )
        if len(path) > MAX_DEPTH:
            raise ArchspecError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", self._loc(node))
        self.source.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if node.tag not in (_SEQ_TAG, _MAP_TAG):
            raise ArchspecError(f"invalid YAML: unsupported tag {node.tag}", self._loc(node))
        if id(node) in self.active:
            raise ArchspecError("recursive YAML alias", self._loc(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        """The scalar's value; a tagged or implicit value that cannot be built is an error, not a crash."""
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise ArchspecError(f"invalid YAML: {exc.problem}", self._loc(node)) from None
        except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise ValueError, AttributeError, ...
            # e.g. `2001-13-45` (read as a date), `!!int x`, an integer of more than 4300 digits
            tag = node.tag.rsplit(":", 1)[-1]
            detail = (str(exc).splitlines() or [type(exc).__name__])[0]
            detail = detail if len(detail) <= 80 else detail[:77] + "..."
            raise ArchspecError(
                f"invalid YAML: {shorten(node.value)} is not a valid {tag} ({detail})", self._loc(node)
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict:
        try:
            self.constructor.flatten_mapping(node)  # merge keys (<<)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark or node.start_mark
            raise ArchspecError(f"invalid YAML: {exc.problem}", Location(self.source.file, mark.line + 1,
                                                                         mark.column + 1)) from None
        except RecursionError:
            raise ArchspecError("invalid YAML: merge keys (<<) nested too deeply", self._loc(node)) from None
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ArchspecError("mapping keys must be plain scalars", self._loc(key_node))
            key = self._scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ArchspecError(f"unsupported mapping key {shorten(key)}", self._loc(key_node))
            if key in result:
                raise ArchspecError(f"duplicate key {shorten(key) if not isinstance(key, str) or len(key) > 60 else repr(key)}",
                                    self._loc(key_node))
            result[key] = self.build(value_node, path + (key,))
            # a key's own position is more useful than its value's for "unknown key" errors
            self.source.positions[path + (key, "__key__")] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
        return result

    def _loc(self, node: yaml.Node) -> Location:
        return Location(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)


def problem_at(source: Source, path: PathKey, message: str, *, key: bool = False) -> Problem:
    """A Problem located at `path` (at the key itself when `key` is true)."""
    if key and tuple(path) + ("__key__",) not in source.positions:
        key = False
    loc_path = tuple(path) + ("__key__",) if key else tuple(path)
    if key:
        line, col = source.positions[loc_path]
        return Problem(message, Location(source.file, line, col))
    return Problem(message, source.locate(path))
