"""Property test: no input makes archspec print a traceback.

Every seed spec (specs/*.yaml and specs/keras_applications/*.yaml) is mutated, either as
data (a key dropped, a value of another JSON type put in its place, a number negated or made
huge, names swapped between layers, a reference to a missing name, ...) or as text
(truncated, characters inserted, indentation broken, tabs, unbalanced brackets, anchors
and aliases, tags like !!python/object, ...). Then `archspec.load`, `archspec validate`
and `archspec summary` must each either succeed or fail cleanly: exit code 2, every
message `FILE:LINE:COL: message`, no traceback, and only `ArchspecError` from the library.

ARCHSPEC_MUTATIONS sets the number of examples over the whole file (default 300), e.g.
`ARCHSPEC_MUTATIONS=10000 pytest -n 8 tests/test_mutations.py`. Generation is derandomized,
so a run is reproducible.
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.errors import ArchspecError

ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = ROOT / "specs"
SEEDS = sorted(p.relative_to(SPECS_DIR) for p in [*SPECS_DIR.glob("*.yaml"), *SPECS_DIR.glob("keras_applications/*.yaml")])
FAMILIES = ("data", "text")

TOTAL_EXAMPLES = int(os.environ.get("ARCHSPEC_MUTATIONS", "300"))
PER_TEST = max(1, math.ceil(TOTAL_EXAMPLES / (len(SEEDS) * len(FAMILIES))))

MUTATION_SETTINGS = settings(
    max_examples=PER_TEST,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
)

runner = CliRunner()

# ---------------------------------------------------------------- values of every JSON type

SPECIAL_INTS = [0, 1, -1, 2, 3, -3, 7, 2**31, -(2**31), 2**63, 10**20, -(10**20), 10**400]
SPECIAL_FLOATS = [0.0, -0.0, 0.5, -1.5, 1e-9, 1e20, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan]
WORDS = [
    "", " ", "x", "relu", "RELU", "swish", "softmax", "Dense", "Conv2D", "dense", "same", "valid", "SAME", "$input",
    "$filters", "$nope", "input", "inputs", "a/b", "/a", "a//b", "0", "1", "-1", "1e400", "0x1F", ".nan", ".inf",
    "null", "~", "yes", "no", "on", "2001-12-14", "2001-13-45", "12:30:00", "channels_first", "adam", "mse",
    "glorot_uniform", "zeros", "mnist", "x" * 300, "naïve", "名前", "\x00", "\t", "a\nb", "[", "{", "*a", "&a",
    "!!python/object:os.system", ":", "- x", "#", "'", '"',
]
KEYS = [
    "name", "type", "block", "activation", "inputs", "outputs", "repeat", "trainable", "units", "filters",
    "kernel_size", "strides", "padding", "pool_size", "rate", "axis", "epsilon", "momentum", "use_bias",
    "kernel_initializer", "dilation_rate", "groups", "target_shape", "seed", "params", "layers", "blocks",
    "description", "shape", "input_shape", "data_format", "classes", "training", "base", "spec", "up_to",
    "weights", "archspec", "optimizer", "loss", "loss_weights", "metrics", "targets", "epochs", "batch_size",
    "callbacks", "early_stopping", "augmentation", "zoom_range", "<<", "__key__", "$input",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SPECIAL_INTS),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),
    st.sampled_from(SPECIAL_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none())
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


# ---------------------------------------------------------------- data mutations


def all_paths(data: Any, path: tuple = ()) -> list[tuple]:
    """The path of every value in the document (the root excluded)."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += all_paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += all_paths(value, path + (i,))
    return found


def get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def layer_entries(data: dict) -> list[tuple]:
    """Paths of the layer entries: top-level layers and the layers of every block."""
    entries = []
    if isinstance(data.get("layers"), list):
        entries += [("layers", i) for i, e in enumerate(data["layers"]) if isinstance(e, dict)]
    for name, block in (data.get("blocks") or {}).items() if isinstance(data.get("blocks"), dict) else ():
        if isinstance(block, dict) and isinstance(block.get("layers"), list):
            entries += [("blocks", name, "layers", i) for i, e in enumerate(block["layers"]) if isinstance(e, dict)]
    return entries


REGIONS = {
    "anywhere": lambda p: True,
    "top level": lambda p: len(p) == 1,
    "layer entry": lambda p: p[:1] == ("layers",) and len(p) >= 3,
    "block definition": lambda p: p[:1] == ("blocks",),
    "block params": lambda p: p[:1] == ("blocks",) and len(p) >= 3 and p[2] == "params",
    "training": lambda p: p[:1] == ("training",),
    "inputs": lambda p: p[:1] in (("inputs",), ("input_shape",)),
    "base": lambda p: p[:1] == ("base",),
}


def choose_path(draw, data: dict, *, containers: type | tuple | None = None) -> tuple | None:
    region = draw(st.sampled_from(sorted(REGIONS)))
    paths = [p for p in all_paths(data) if REGIONS[region](p)]
    if containers is not None:
        paths = [p for p in paths if isinstance(get(data, p), containers)]
        if isinstance(data, containers) and region in ("anywhere", "top level"):
            paths.append(())
    if not paths:
        paths = [p for p in all_paths(data) if containers is None or isinstance(get(data, p), containers)]
    return draw(st.sampled_from(paths)) if paths else None


def set_at(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    get(data, path[:-1])[path[-1]] = value
    return data


def op_replace(draw, data):
    path = choose_path(draw, data)
    return data if path is None else set_at(data, path, draw(json_values))


def op_retype(draw, data):
    """A string, number or bool where it belongs becomes a list or a mapping (the unhashable-key crashes)."""
    entries = layer_entries(data)
    if entries and not draw(st.booleans()):  # the simplest example of every seed: a layer's name as a list
        entry = draw(st.sampled_from(entries))
        key = draw(st.sampled_from(["name", "type", "block", "activation", "inputs", "repeat", "trainable",
                                    "kernel_initializer", "padding", "units", "filters", "kernel_size", "rate"]))
        old = get(data, entry).get(key, "relu")
        path = entry + (key,)
    else:
        candidates = [p for p in all_paths(data) if not isinstance(get(data, p), (list, dict))]
        if not candidates:
            return data
        path = draw(st.sampled_from(candidates))
        old = get(data, path)
    new = draw(st.sampled_from(["list", "mapping", "nested", "empty list", "empty mapping"]))
    wrapped = {"list": [old], "mapping": {str(old): old}, "nested": [{"a": [old]}], "empty list": [],
               "empty mapping": {}}[new]
    return set_at(data, path, wrapped)


def op_drop(draw, data):
    path = choose_path(draw, data, containers=(dict, list))
    if path is None:
        return data
    container = get(data, path)
    if not container:
        return data
    victim = draw(st.sampled_from(list(container.keys()) if isinstance(container, dict) else range(len(container))))
    del container[victim]
    return data


def op_add(draw, data):
    path = choose_path(draw, data, containers=dict)
    if path is None:
        return data
    get(data, path)[draw(keys)] = draw(json_values)
    return data


def op_number(draw, data):
    numbers = [p for p in all_paths(data) if isinstance(get(data, p), (int, float)) and not isinstance(get(data, p), bool)]
    if not numbers:
        return data
    path = draw(st.sampled_from(numbers))
    x = get(data, path)
    how = draw(st.sampled_from(["negate", "huge", "zero", "float", "nan", "plus one"]))
    new = {"negate": lambda: -x, "huge": lambda: x * 10**30 if isinstance(x, int) else x * 1e300,
           "zero": lambda: 0, "float": lambda: float(x) + 0.5, "nan": lambda: math.nan, "plus one": lambda: x + 1}[how]()
    return set_at(data, path, new)


def op_swap_names(draw, data):
    entries = layer_entries(data)
    if len(entries) < 2:
        return data
    a, b = draw(st.lists(st.sampled_from(entries), min_size=2, max_size=2, unique=True))
    ea, eb = get(data, a), get(data, b)
    if draw(st.booleans()):
        ea["name"], eb["name"] = eb.get("name", "swapped"), ea.get("name", "swapped")
    else:  # a duplicate
        ea["name"] = eb.get("name", "dup")
        eb["name"] = ea["name"]
    return data


def op_dangling(draw, data):
    """A reference to a name that does not exist (or to one that does, from the wrong place)."""
    refs = [p for p in all_paths(data) if p and p[-1] in ("inputs", "outputs", "up_to", "block", "spec")
            or (len(p) >= 2 and p[-2] in ("inputs", "outputs") and isinstance(get(data, p), str))]
    entries = layer_entries(data)
    target = draw(st.sampled_from(["missing_layer", "$input", "input", "inputs", "layers", "..", "spec.yaml",
                                   "mutant.yaml", "../specs/vgg7.yaml", "/", "block/out", "a/b/c"])
                  | st.text(min_size=1, max_size=6))
    if refs and draw(st.booleans()):
        return set_at(data, draw(st.sampled_from(refs)), target)
    if entries:
        entry = get(data, draw(st.sampled_from(entries)))
        entry[draw(st.sampled_from(["inputs", "block", "name"]))] = target
    return data


DATA_OPS = [op_retype, op_replace, op_drop, op_add, op_number, op_swap_names, op_dangling]


@st.composite
def data_mutants(draw, seed: Path) -> str:
    data = copy.deepcopy(SEED_DATA[seed])
    for op in draw(st.lists(st.sampled_from(DATA_OPS), min_size=1, max_size=3)):
        data = op(draw, data)
    style = draw(st.sampled_from([False, None, True]))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()), default_flow_style=style)


# ---------------------------------------------------------------- text mutations

SNIPPETS = [
    "\t", "  ", "    ", "- ", ": ", ":", "-", "[", "]", "{", "}", ",", "&a ", "*a", "*nope", "<<: *a\n", "&a [1]",
    "!!python/object/apply:os.system ['echo hi'] ", "!!python/name:os.system ", "!!python/object:object {}",
    "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!int ", "!!float ", "!!str ", "!!bool ", "!!null ",
    "!foo ", "!<tag:x> ", "%YAML 1.1\n", "%TAG ! tag:x\n", "---\n", "...\n", "? ", "|", ">", "#", '"', "'", "`", "@",
    "%", "\x00", "\x07", "\x1b", "\ufeff", "\u2028", "\x85", "\r", "\r\n", "\\", "2001-13-45", "1" * 5000,
    "0o777", "1e400", ".nan", "~", "\n- {type: Dense, units: 1}\n", "\nlayers: []\n", "\n  - [[[[[[\n",
    "[" * 200, "{a: " * 50,
]



def t_truncate(draw, text):
    return text[: draw(st.integers(0, len(text)))]


def t_insert(draw, text):
    junk = draw(st.sampled_from(SNIPPETS) | st.text(alphabet=":-[]{},&*!|>#%@`'\"?\t\n \\\x00\x07é名", min_size=1,
                                                     max_size=6))
    pos = draw(st.integers(0, len(text)))
    return text[:pos] + junk + text[pos:]


def t_delete(draw, text):
    a = draw(st.integers(0, len(text)))
    return text[:a] + text[a + draw(st.integers(1, 40)):]


def t_indent(draw, text):
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["more", "less", "tab", "none"]))
    stripped = lines[i].lstrip(" ")
    indent = len(lines[i]) - len(stripped)
    lines[i] = {"more": " " * (indent + draw(st.integers(1, 3))) + stripped,
                "less": " " * max(0, indent - draw(st.integers(1, 3))) + stripped,
                "tab": "\t" + stripped, "none": stripped}[how]
    return "\n".join(lines)


def t_lines(draw, text):
    lines = text.split("\n")
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    if draw(st.booleans()):
        lines.insert(j, lines[i])  # a duplicated line: duplicate keys, names, ...
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def t_alias(draw, text):
    """Anchor one value and refer to it elsewhere (or to an anchor that does not exist)."""
    values = [m.end() for m in re.finditer(r": ", text)]
    if len(values) < 2:
        return text
    a, b = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2, unique=True)))
    ref = draw(st.sampled_from(["*a", "*b", "*a\n", "[*a, *a]"]))
    end = text.find("\n", b)
    end = len(text) if end < 0 else end
    return text[:a] + "&a " + text[a:b] + ref + text[end:]


def t_scalar(draw, text):
    """One scalar token replaced by a tricky one."""
    tokens = [m for m in re.finditer(r"(?<=[:\[,{] )[^\s,\]\}\[\{:#]+", text)]
    if not tokens:
        return text
    m = draw(st.sampled_from(tokens))
    new = draw(st.sampled_from(["2001-13-45", "2001-12-14", "12:30", "0x1F", "0b101", "0o17", "1_000", "1e400",
                                "-.inf", ".NaN", "~", "null", "yes", "Off", "!!int x", "!!float y", "!!binary x",
                                "!!timestamp x", "!!python/tuple [1]", "'unclosed", '"\\q"', "1" * 5000, "[1", "{a",
                                "*nope", "&x", "|", ">", "%x", "@x", "`x"]))
    return text[: m.start()] + new + text[m.end():]


TEXT_OPS = [t_truncate, t_insert, t_delete, t_indent, t_lines, t_alias, t_scalar]


@st.composite
def text_mutants(draw, seed: Path) -> str | bytes:
    text = SEED_TEXT[seed]
    for op in draw(st.lists(st.sampled_from(TEXT_OPS), min_size=1, max_size=3)):
        text = op(draw, text)
    ending = draw(st.sampled_from(["text", "text", "text", "text", "bad utf-8", "bom", "empty"]))
    if ending == "bad utf-8":
        raw = text.encode()
        pos = draw(st.integers(0, len(raw)))
        return raw[:pos] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + raw[pos:]
    if ending == "bom":
        return "\ufeff" + text
    if ending == "empty":
        return draw(st.sampled_from(["", " ", "\n", "---", "~", "[]", "{}", "0", "'x'", "!!python/none ''"]))
    return text


SEED_TEXT = {seed: (SPECS_DIR / seed).read_text(encoding="utf-8") for seed in SEEDS}
SEED_DATA = {seed: yaml.safe_load(text) for seed, text in SEED_TEXT.items()}


# ---------------------------------------------------------------- the properties


@pytest.fixture(scope="module")
def specs_copy(tmp_path_factory) -> Path:
    """A copy of specs/, so a mutant sits next to the specs it may name (a transfer-learning base)."""
    target = tmp_path_factory.mktemp("mutations") / "specs"
    shutil.copytree(SPECS_DIR, target)
    return target


def located(message: str, path: Path) -> bool:
    return re.match(re.escape(str(path)) + r":\d+:\d+: \S", message) is not None


def check_load(path: Path) -> tuple[archspec.Spec | None, list[str]]:
    """archspec.load: a Spec, or an ArchspecError whose every problem is located in the file."""
    try:
        return archspec.load(path), []
    except ArchspecError as exc:
        assert exc.problems, "an ArchspecError without problems"
        for problem in exc.problems:
            assert located(str(problem), path), f"not located: {problem}"
        return None, [str(p) for p in exc.problems]


def check_command(args: list[str], path: Path, expect_ok: bool) -> None:
    result = runner.invoke(app, args)
    output = result.output
    assert "Traceback" not in output, output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"archspec {' '.join(args)} raised {result.exception!r}") from result.exception
    if expect_ok:
        assert result.exit_code == 0, output
        return
    assert result.exit_code == 2, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors, "exit code 2 without a message"
    for line in errors:
        assert line.startswith("error: "), f"not an error line: {line!r}\n{output}"
        assert located(line.removeprefix("error: "), path) or re.match(r"error: \.\.\. and \d+ more problems?$", line), \
            f"not FILE:LINE:COL: {line!r}"


def check_mutant(content: str | bytes, directory: Path) -> None:
    path = directory / "mutant.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    note(f"mutant:\n{content[:3000]!r}")
    spec, problems = check_load(path)
    ok = spec is not None
    note(f"load: {'ok' if ok else problems[:5]}")
    check_command(["validate", str(path)], path, ok)
    # rich's table takes seconds for the 800 layers of an EfficientNet: only small models get one
    formats = ["table", "json", "markdown"] if ok and len(spec.nodes) <= 60 else ["json", "markdown"]
    check_command(["summary", str(path), "--format", formats[len(content) % len(formats)]], path, ok)


@pytest.mark.parametrize("seed", SEEDS, ids=str)
@MUTATION_SETTINGS
@given(data=st.data())
def test_mutated_data_fails_cleanly(specs_copy, seed, data):
    check_mutant(data.draw(data_mutants(seed), label="mutant"), specs_copy / seed.parent)


@pytest.mark.parametrize("seed", SEEDS, ids=str)
@MUTATION_SETTINGS
@given(data=st.data())
def test_mutated_text_fails_cleanly(specs_copy, seed, data):
    check_mutant(data.draw(text_mutants(seed), label="mutant"), specs_copy / seed.parent)


def test_every_seed_spec_is_covered():
    assert len(SEEDS) >= 14 and any(s.parent.name == "keras_applications" for s in SEEDS)
    assert all(isinstance(SEED_DATA[seed], dict) for seed in SEEDS)  # (that each one is valid: test_cli)


def test_failing_cleanly_imports_no_framework(tmp_path):
    """The error paths of validate and summary stay framework-free, like their happy paths."""
    import subprocess
    import sys

    bad = {
        "yaml.yaml": "input_shape: [8\nlayers: []\n",
        "name.yaml": "input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, name: [a]}\n",
        "activation.yaml": "input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, activation: {relu: 1}}\n",
        "shape.yaml": "input_shape: [4, 4, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: 5}\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    code = (
        "import sys; from typer.testing import CliRunner; from archspec.cli import app; r = CliRunner();"
        f"files = {sorted(str(tmp_path / n) for n in bad)!r};"
        "codes = [r.invoke(app, [c, f]).exit_code for f in files for c in ('validate', 'summary')];"
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'onnxruntime', 'matplotlib') if m in sys.modules];"
        "print(codes, bad); sys.exit(1 if bad or set(codes) != {2} else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
