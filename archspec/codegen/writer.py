"""Small source-writing helpers shared by both code generators: literals, identifiers, calls
wrapped the way `ruff format` wraps them, and `Code`, one line of source with literal slots."""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass
from typing import Any

LINE_LENGTH = 88  # ruff's (and black's) default: the generated file passes `ruff format --check` as is
INDENT = "    "
TRIPLE = '"' * 3
_SLOT = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True)
class Param:
    """A block parameter standing where a literal value stood."""

    name: str


@dataclass(frozen=True)
class Code:
    """One statement; `{0}`, `{1}`... are literal slots, so that the uses of one block can be compared
    and the values that differ between them become the block's parameters. `hints` name each slot
    (`conv1_stride`) for when no block parameter explains it."""

    template: str
    values: tuple = ()
    hints: tuple = ()
    section: str = "body"
    chain: str = ""  # how a forward statement nests with its neighbours (see torch_source.chained)

    def render(self, values: tuple | None = None) -> str:
        values = self.values if values is None else values
        return _SLOT.sub(lambda m: literal(values[int(m.group(1))]), self.template)


def literal(value: Any) -> str:
    """Python source for a value, as ruff format writes it (double quotes, tuples with a trailing
    comma when they hold one item)."""
    if isinstance(value, Param):
        return value.name
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "math.inf" if value > 0 else "-math.inf"
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({literal(value[0])},)"
        return "(" + ", ".join(literal(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {type(value).__name__}")


@dataclass(frozen=True)
class Raw:
    """Source text standing as a value (a name, an expression), compared like a literal."""

    text: str


def string(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


_RESERVED = {
    "self", "x", "inputs", "outputs", "name", "F", "nn", "torch", "math", "keras", "layers", "np",
    # nn.Module's own attributes: a submodule may not shadow them
    "forward", "training", "eval", "train", "apply", "cuda", "cpu", "to", "type", "float", "half", "double",
    "parameters", "buffers", "modules", "children", "state_dict", "zero_grad", "register_buffer",
    "add_module", "extra_repr", "get_submodule", "requires_grad_", "share_memory", "bfloat16", "compile",
}


def identifier(name: str) -> str:
    """A spec name part as a Python identifier: `1_conv` -> `conv_1`, `stage-2` -> `stage_2`.

    The generated `load_weights` applies the same rule to the neutral file's keys."""
    name = name.replace("-", "_")
    match = re.match(r"^(\d+)_(.+)$", name)
    if match:
        name = f"{match.group(2)}_{match.group(1)}"
    if name[0].isdigit():
        name = "n" + name
    if keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    return name


def class_name(name: str) -> str:
    """`bottleneck_projection` -> `BottleneckProjection`."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    text = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return text if text and not text[0].isdigit() else "Block" + text


def call(prefix: str, args: list[str], suffix: str = "", indent: str = "") -> list[str]:
    """`prefix(arg, ...)suffix` wrapped as ruff format wraps a call that is too long."""
    return split_call(f"{prefix}({', '.join(args)}){suffix}", indent)


def split_call(line: str, indent: str) -> list[str]:
    """One statement ending in a bracketed group (`x = f(a, b)`, `def f(a):`, `y = [..]`), wrapped
    when too long as ruff format wraps it: the content hugged on one line of its own if it fits,
    else one item per line with a trailing comma, each item wrapped the same way."""
    if len(indent + line) <= LINE_LENGTH or line.startswith("#"):  # ruff format leaves comments long
        return [indent + line]
    if line.startswith("return ") and len(_split_args(line[7:])) > 1:  # a long tuple: one item a line
        return [f"{indent}return (", *(f"{indent}{INDENT}{a}," for a in _split_args(line[7:])), f"{indent})"]
    trailing = ""
    body = line
    for end in (":", ","):
        if body.endswith(end):
            body, trailing = body[:-1], end
    start = _outer_call_start(body)
    if start is None and " = " in body and not trailing:  # `x = a + b * c`: ruff parenthesises the value
        target, value = body.split(" = ", 1)
        return [f"{indent}{target} = (", f"{indent}{INDENT}{value}", f"{indent})"]
    if start is None:
        return [indent + line]
    prefix, inner, closer = body[:start + 1], body[start + 1:-1], body[-1] + trailing
    chain = re.search(r"\)(\.\w+)?\($", prefix)
    if chain and len(indent + prefix) > LINE_LENGTH:
        # `layers.Dense(...)(x)`, `f(...).movedim(1, 2)` too long to split the last call: ruff splits the first
        first = prefix[:chain.start() + 1]
        head = _outer_call_start(first)
        if head is not None:
            return _wrap(first[:head + 1], first[head + 1:-1], body[chain.start():] + trailing, indent)
    return _wrap(prefix, inner, closer, indent)


def _wrap(prefix: str, inner: str, closer: str, indent: str) -> list[str]:
    inner_indent = indent + INDENT
    args = _split_args(inner)
    if len(args) <= 1:
        content = inner.strip()
        if len(inner_indent + content) <= LINE_LENGTH or " for " not in content:
            return [indent + prefix, *split_call(content, inner_indent), *split_call(closer, indent)]
        element, clause = content.split(" for ", 1)
        return [indent + prefix, inner_indent + element, inner_indent + "for " + clause, indent + closer]
    joined = ", ".join(args)
    if len(inner_indent + joined) <= LINE_LENGTH:
        return [indent + prefix, inner_indent + joined, *split_call(closer, indent)]
    lines = [indent + prefix]
    for arg in args:
        lines += split_call(arg + ",", inner_indent)
    return [*lines, *split_call(closer, indent)]


def _outer_call_start(line: str) -> int | None:
    """Index of the '(' that opens the call ending the line."""
    if not line.endswith((")", "]")):
        return None
    depth, i = 0, len(line)
    while i > 0:
        i -= 1
        ch = line[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            depth -= 1
            if depth == 0:
                return i
        elif ch in "\"'":
            i = line.rfind(ch, 0, i)  # skip the string (brackets inside it do not count)
            if i < 0:
                return None
    return None


def _split_args(text: str) -> list[str]:
    args, depth, current, quote = [], 0, "", None
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        args.append(current.strip())
    return args


def docstring(text: str, indent: str = "") -> list[str]:
    """A docstring wrapped at the line length."""
    import textwrap

    text = " ".join(text.split()).replace(TRIPLE, "'" * 3)
    one = f"{indent}{TRIPLE}{text}{TRIPLE}"
    if len(one) <= LINE_LENGTH:
        return [one]
    lines = textwrap.wrap(text, LINE_LENGTH - len(indent) - 3)
    return [f"{indent}{TRIPLE}{lines[0]}", *(indent + line for line in lines[1:]), f"{indent}{TRIPLE}"]


def module_docstring(paragraphs: list[str]) -> list[str]:
    """A module docstring of wrapped paragraphs."""
    import textwrap

    lines: list[str] = []
    for paragraph in paragraphs:
        if lines:
            lines.append("")
        lines += textwrap.wrap(" ".join(paragraph.split()), LINE_LENGTH - 4) or [""]
    lines[0] = TRIPLE + lines[0]
    if len(lines) == 1 and len(lines[0]) + 3 <= LINE_LENGTH:
        return [lines[0] + TRIPLE]
    return [*lines, TRIPLE]
