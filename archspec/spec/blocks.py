"""Block expansion: turn `block:` entries into plain layer entries with scoped names.

The result is a flat list of `Entry`s whose `inputs` are full layer names (or block-use
names, recorded in `aliases` as the name of the block's last layer). Default wiring is
resolved here, since "the previous entry" only means something inside one scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import ArchspecError, Problem, kind_of, shorten, suggest
from archspec.layers import canonical_type, snake_case
from archspec.layers.base import NAME_PATTERN
from archspec.spec.model import BlockDef
from archspec.spec.yaml_source import PathKey, Source, problem_at

MAX_LAYERS = 20_000  # bound on the expanded graph: a `repeat: 100000000` is an error, not a hang
MAX_BLOCK_DEPTH = 32
PARAM_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
USE_KEYS = {"block", "name", "repeat", "inputs", "trainable"}
MAX_NAME_LENGTH = 200


def _quoted(key: Any) -> str:
    return f"'{key}'" if isinstance(key, str) else shorten(key)


@dataclass
class Entry:
    """One layer entry after expansion."""

    name: str  # full, scoped name
    data: dict[str, Any]  # the entry's keys with $params substituted, minus name/inputs
    inputs: list[str]  # full names or block-use aliases
    path: PathKey  # where the entry is written in the source
    context: str = ""  # "in block 'x' used as 'y': " for messages
    trainable: bool = True


@dataclass
class _Scope:
    prefix: str
    parent: "_Scope | None" = None
    locals: set[str] = field(default_factory=set)

    def lookup(self, ref: str) -> str:
        scope: _Scope | None = self
        while scope is not None:
            if ref in scope.locals:
                return scope.prefix + ref
            scope = scope.parent
        return ref  # a model input, a top-level name, or a qualified name: checked by the graph


class BlockExpander:
    def __init__(self, source: Source, blocks: dict[str, BlockDef], first_input: str):
        self.source = source
        self.blocks = blocks
        self.first_input = first_input
        self.entries: list[Entry] = []
        self.aliases: dict[str, str] = {}
        self.problems: list[Problem] = []
        self._reported: set[tuple] = set()
        self._mistakes = 0  # every mistake met, reported or not: a failing block is not expanded again

    def expand(self, layers: list[dict[str, Any]]) -> None:
        self._scope(layers, ("layers",), _Scope(""), {}, None, (), True, "")

    # ------------------------------------------------------------------ helpers

    def _problem(self, path: PathKey, message: str, context: str, key: bool = False) -> None:
        self._mistakes += 1
        if (path, message) in self._reported:  # a mistake in a block reads once, not once per use
            return
        self._reported.add((path, message))
        self.problems.append(problem_at(self.source, path, context + message, key=key))

    def _substitute(self, value: Any, params: dict[str, Any], path: PathKey, context: str, in_block: bool) -> Any:
        if isinstance(value, str):
            match = PARAM_RE.match(value)
            if not match or match.group(1) == "input":
                return value
            name = match.group(1)
            if name in params:
                return params[name]
            if not in_block:
                self._problem(path, f"'{value}': parameters can only be used inside a block", context)
            else:
                self._problem(path, f"unknown parameter '{value}'{suggest(name, params)}", context)
            return value
        if isinstance(value, dict):
            return {k: self._substitute(v, params, path + (k,), context, in_block) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, params, path + (i,), context, in_block) for i, v in enumerate(value)]
        return value

    # ------------------------------------------------------------------ expansion

    def _scope(
        self,
        items: list[Any],
        items_path: PathKey,
        scope: _Scope,
        params: dict[str, Any],
        block_input: str | None,
        stack: tuple[str, ...],
        trainable: bool,
        context: str,
    ) -> str | None:
        """Expand one list of entries; returns the full name of its last output."""
        in_block = bool(stack)
        entries: list[tuple[PathKey, dict[str, Any], str]] = []
        # names written out (only strings: a list or a mapping there is reported below, and is unhashable)
        explicit = {item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)}
        counters: dict[str, int] = {}

        # pass 1: substitute parameters and name every entry, so references may point forward
        for index, item in enumerate(items):
            path = items_path + (index,)
            if not isinstance(item, dict):
                self._problem(path, f"a layer entry must be a mapping, got {shorten(item)}", context)
                continue
            item = self._substitute(item, params, path, context, in_block)
            if "block" not in item and "type" not in item:
                self._problem(path, "a layer entry needs 'type' (a layer) or 'block' (a block use)", context)
                continue
            name = item.get("name")
            if name is None:
                kind = item.get("block") if "block" in item else item.get("type")
                prefix = snake_case(canonical_type(kind) or kind) if isinstance(kind, str) else "layer"
                name = self._auto_name(prefix, counters, explicit)
            elif not isinstance(name, str):
                self._problem(path + ("name",), f"name: expected a layer name (a string), got {kind_of(name)} "
                              f"{shorten(name)}", context)
                continue
            elif not re.match(NAME_PATTERN, name) or len(name) > MAX_NAME_LENGTH:
                self._problem(
                    path + ("name",),
                    f"name: {shorten(name)} is not a valid layer name (letters, digits, _ and -; / only between parts)",
                    context,
                )
                continue
            if "trainable" in item and not isinstance(item["trainable"], bool):
                self._problem(path + ("trainable",), f"trainable: expected true or false, got {shorten(item['trainable'])}",
                              context)
            scope.locals.add(name)
            repeat = item.get("repeat", 1)
            if "block" in item and isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 1:
                scope.locals.update(f"{name}_{r}" for r in range(1, min(repeat, MAX_LAYERS) + 1))
            entries.append((path, item, name))

        # pass 2: wire and expand
        previous = block_input if in_block else self.first_input
        for path, item, name in entries:
            inputs = self._inputs(item, path, scope, previous, block_input, context)
            if "block" in item:
                previous = self._use(item, path, name, scope, inputs, stack, trainable, context)
            else:
                self._count(path, context)
                data = {k: v for k, v in item.items() if k not in ("name", "inputs")}
                layer_trainable = trainable and data.get("trainable", True) is not False
                self.entries.append(
                    Entry(scope.prefix + name, data, inputs, path, context, layer_trainable)
                )
                previous = scope.prefix + name
        return previous

    def _auto_name(self, prefix: str, counters: dict[str, int], taken: set) -> str:
        while True:
            n = counters.get(prefix, 0)
            counters[prefix] = n + 1
            name = prefix if n == 0 else f"{prefix}_{n}"
            if name not in taken:
                return name

    def _inputs(self, item, path, scope, previous, block_input, context) -> list[str]:
        if "inputs" not in item or item["inputs"] is None:
            return [previous] if previous else []
        refs = item["inputs"]
        refs = [refs] if isinstance(refs, str) else refs
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            self._problem(path + ("inputs",), "inputs: expected a layer name or a list of names", context)
            return [previous] if previous else []
        resolved = []
        for ref in refs:
            if ref == "$input":
                if block_input is None:
                    self._problem(path + ("inputs",), "'$input' can only be used inside a block", context)
                    continue
                resolved.append(block_input)
            else:
                resolved.append(scope.lookup(ref))
        return resolved

    def _count(self, path: PathKey, context: str) -> None:
        if len(self.entries) >= MAX_LAYERS:
            raise ArchspecError(
                [problem_at(self.source, path, f"{context}the expanded model has more than {MAX_LAYERS:,} layers; "
                 "check the 'repeat' counts")]
            )

    def _use(self, item, path, name, scope, inputs, stack, trainable, context) -> str | None:
        block_name = item["block"]
        if not isinstance(block_name, str):
            self._problem(path + ("block",), f"block: expected a block name (a string), got {kind_of(block_name)} "
                          f"{shorten(block_name)}", context)
            return None
        if block_name not in self.blocks:
            self._problem(
                path + ("block",),
                f"unknown block {shorten(block_name)}{suggest(str(block_name), self.blocks)}"
                + ("" if self.blocks else " (the spec defines no 'blocks')"),
                context,
            )
            return None
        if block_name in stack:
            cycle = " -> ".join((*stack[stack.index(block_name):], block_name))
            self._problem(path + ("block",), f"blocks use each other in a cycle: {cycle}", context)
            return None
        if len(stack) >= MAX_BLOCK_DEPTH:
            self._problem(path, f"blocks are nested more than {MAX_BLOCK_DEPTH} deep", context)
            return None
        block = self.blocks[block_name]
        params = dict(block.params)
        for key, value in item.items():
            if key in USE_KEYS:
                continue
            if key not in block.params:
                hint = suggest(str(key), [*block.params, *USE_KEYS])
                self._problem(path + (key,), f"block '{block_name}' has no parameter {_quoted(key)}{hint}", context,
                              key=True)
                continue
            params[key] = value
        missing = [k for k, v in params.items() if v is None]
        if missing:
            self._problem(path, f"block '{block_name}' needs a value for {', '.join(map(repr, missing))}", context)
            return None
        repeat = item.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            self._problem(path + ("repeat",), f"repeat: expected a positive integer, got {shorten(repeat)}", context)
            return None
        if not inputs:
            return None  # what feeds it already failed, and was reported
        if len(inputs) != 1:
            self._problem(path + ("inputs",), "a block takes exactly one input ($input)", context)
            return None
        use_trainable = trainable and item.get("trainable", True) is not False
        line, col = self.source.positions.get(path, (None, None))
        current = inputs[0]
        mistakes = self._mistakes
        for r in range(1, repeat + 1):
            if self._mistakes > mistakes:
                break  # reported once; repeating a broken block would only take time (repeat: 10**9)
            use_name = name if repeat == 1 else f"{name}_{r}"
            inner_context = f"in block '{block_name}' used as '{scope.prefix}{use_name}' (line {line}): "
            out = self._scope(
                block.layers,
                ("blocks", block_name, "layers"),
                _Scope(f"{scope.prefix}{use_name}/", scope),
                params,
                current,
                (*stack, block_name),
                use_trainable,
                inner_context,
            )
            if out is None:
                return None
            self.aliases[scope.prefix + use_name] = out
            current = out
        self.aliases[scope.prefix + name] = current
        return current
