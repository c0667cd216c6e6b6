"""Bad specs get short, located messages, exit code 2, and never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archspec.cli import app

runner = CliRunner()


def validate(path):
    result = runner.invoke(app, ["validate", str(path)])
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(
    "text, expected",
    [
        # misspelt top-level key, with its position and a suggestion
        ("input_shape: [8]\nlyers: []\nlayers:\n  - {type: Dense, units: 1}\n",
         ["spec.yaml:2:1: unknown key 'lyers' (did you mean 'layers'?)"]),
        # misspelt layer type
        ("input_shape: [8]\nlayers:\n  - {type: Dens, units: 1}\n",
         ["spec.yaml:3:12: unknown layer type 'Dens' (did you mean 'Dense'?)"]),
        # misspelt parameter
        ("input_shape: [8]\nlayers:\n  - {type: Dense, unit: 1}\n",
         ["unknown key 'unit' (did you mean 'units'?)", "missing required key 'units'"]),
        # bad value, naming the key and the value it got, with a suggestion
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2, activation: rellu}\n",
         ["spec.yaml:3:41: Dense 'dense': activation:", "(got 'rellu') (did you mean 'relu'?)"]),
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 0}\n",
         ["units: Input should be greater than or equal to 1 (got 0)"]),
        ("input_shape: [28, 28, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: [3, 3, 3]}\n",
         ["Conv2D 'conv2d': kernel_size"]),
        # unknown reference
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2, name: hidden}\n  - {type: Dense, units: 1, inputs: hiden}\n",
         ["spec.yaml:4:37: layer 'dense' takes unknown input 'hiden' (did you mean 'hidden'?)"]),
        # duplicate names
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2, name: a}\n  - {type: Dense, units: 1, name: a}\n",
         ["spec.yaml:4:5: duplicate layer name 'a' (first used at line 3)"]),
        # cycle between layers
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2, name: a, inputs: b}\n  - {type: Dense, units: 2, name: b, inputs: a}\n",
         ["layers form a cycle: "]),
        # shape error names the layer and what it got
        ("input_shape: [4, 4, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: 5}\n",
         ["spec.yaml:3:5: Conv2D 'conv2d' kernel 5x5 with padding 'valid' does not fit its input", "(None, 4, 4, 1)"]),
        ("inputs:\n  - {name: a, shape: [8]}\n  - {name: b, shape: [9]}\nlayers:\n  - {type: Add, inputs: [a, b]}\n",
         ["Add 'add' inputs must have the same shape", "got (None, 8), (None, 9)"]),
        ("input_shape: [8]\nlayers:\n  - {type: Concatenate}\n",
         ["Concatenate 'concatenate' takes at least 2 inputs, got 1"]),
        # a layer that leads nowhere
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2, name: a}\n  - {type: Dense, units: 2, name: b, inputs: input}\n",
         ["layer 'a' does not lead to any output"]),
        # blocks: unknown block, unknown parameter, missing parameter, cycle
        ("input_shape: [8]\nblocks:\n  mlp: {params: {units: 4}, layers: [{type: Dense, units: $units}]}\nlayers:\n  - {block: mpl}\n",
         ["unknown block 'mpl' (did you mean 'mlp'?)"]),
        ("input_shape: [8]\nblocks:\n  mlp: {params: {units: 4}, layers: [{type: Dense, units: $units}]}\nlayers:\n  - {block: mlp, unit: 3}\n",
         ["block 'mlp' has no parameter 'unit' (did you mean 'units'?)"]),
        ("input_shape: [8]\nblocks:\n  mlp: {params: {units: null}, layers: [{type: Dense, units: $units}]}\nlayers:\n  - {block: mlp}\n",
         ["block 'mlp' needs a value for 'units'"]),
        ("input_shape: [8]\nblocks:\n  mlp: {layers: [{type: Dense, units: $unit}]}\nlayers:\n  - {block: mlp}\n",
         ["unknown parameter '$unit'"]),
        ("input_shape: [8]\nblocks:\n  a: {layers: [{block: b}]}\n  b: {layers: [{block: a}]}\nlayers:\n  - {block: a}\n",
         ["blocks use each other in a cycle: a -> b -> a"]),
        # YAML itself
        ("input_shape: [8\nlayers: []\n", ["spec.yaml:2:", "invalid YAML"]),
        ("input_shape: [8]\ninput_shape: [9]\nlayers: []\n", ["spec.yaml:2:1: duplicate key 'input_shape'"]),
        ("- just\n- a list\n", ["a spec must be a YAML mapping"]),
        ("layers:\n  - {type: Dense, units: 1}\n", ["needs 'inputs'"]),
    ],
)
def test_bad_spec_messages(write_spec, text, expected):
    result = validate(write_spec(text))
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.output, result.output


def test_independent_errors_are_all_reported(write_spec):
    text = (
        "input_shape: [8]\n"
        "layers:\n"
        "  - {type: Dens, units: 2}\n"
        "  - {type: Dense, units: -2}\n"
        "  - {type: Dropout, rate: 1.5}\n"
    )
    result = validate(write_spec(text))
    assert result.exit_code == 2
    assert [line.split(":")[2] for line in result.output.strip().splitlines()] == ["3", "4", "5"]


def test_a_mistake_inside_a_block_reads_once_with_the_block_and_its_use(write_spec):
    text = (
        "input_shape: [8]\n"
        "blocks:\n"
        "  mlp:\n"
        "    layers:\n"
        "      - {type: Dense, units: 4, activaton: relu}\n"
        "layers:\n"
        "  - {block: mlp, repeat: 3}\n"
    )
    result = validate(write_spec(text))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "spec.yaml:5:33:" in lines[0] and "in block 'mlp'" in lines[0] and "did you mean 'activation'" in lines[0]


def test_alias_bomb_is_refused_quickly(write_spec):
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    result = validate(write_spec("\n".join(levels) + "\n"))
    assert result.exit_code == 2
    assert "alias bomb" in result.output
    assert len(result.output) < 500


def test_huge_repeat_is_bounded(write_spec):
    text = (
        "input_shape: [8]\n"
        "blocks:\n  big: {layers: [{type: Dense, units: 3}, {type: Dense, units: 3}]}\n"
        "layers:\n  - {block: big, repeat: 100000000}\n"
    )
    result = validate(write_spec(text))
    assert result.exit_code == 2
    assert "more than 20,000 layers" in result.output


def test_many_errors_are_capped(write_spec):
    text = "input_shape: [8]\nlayers:\n" + "".join("  - {type: Dense, units: 0}\n" for _ in range(500))
    result = validate(write_spec(text))
    assert result.exit_code == 2
    assert "and 480 more problems" in result.output
    assert len(result.output.splitlines()) == 21


def test_missing_file_and_directory(tmp_path):
    assert "file not found" in validate(tmp_path / "nope.yaml").output
    assert validate(tmp_path / "nope.yaml").exit_code == 2
    assert validate(tmp_path).exit_code == 2


def test_no_python_objects_are_constructed(write_spec):
    result = validate(write_spec("input_shape: !!python/object/apply:os.system ['echo hi']\nlayers: []\n"))
    assert result.exit_code == 2
    assert "invalid YAML" in result.output


def test_bad_input_in_a_real_process_prints_no_traceback(write_spec):
    path = write_spec("input_shape: [8]\nlayers:\n  - {type: Dense, units: nope}\n")
    proc = subprocess.run([sys.executable, "-m", "archspec.cli", "summary", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "spec.yaml:3:" in proc.stderr and "units" in proc.stderr


# ---------------------------------------------------------------- a value of the wrong JSON type, never a crash


@pytest.mark.parametrize(
    "entry, expected",
    [
        # a list or a mapping where a name goes used to end in "TypeError: unhashable type"
        ("{type: Dense, units: 1, name: [a, b]}", "spec.yaml:3:35: name: expected a layer name (a string), got a list ['a', 'b']"),
        ("{type: Dense, units: 1, name: {a: 1}}", "spec.yaml:3:35: name: expected a layer name (a string), got a mapping {'a': 1}"),
        ("{type: Dense, units: 1, activation: [relu]}", "spec.yaml:3:41: Dense 'dense': activation: Input should be"),
        ("{type: Dense, units: 1, activation: {relu: 1}}", "spec.yaml:3:41: Dense 'dense': activation: Input should be"),
        ("{type: Dense, units: 1, kernel_initializer: [zeros]}", "spec.yaml:3:49: Dense 'dense': kernel_initializer:"),
        ("{type: [Dense], units: 1}", "spec.yaml:3:12: type: expected a layer type name, got a list ['Dense']"),
        ("{type: {Dense: 1}, units: 1}", "spec.yaml:3:12: type: expected a layer type name, got a mapping"),
        ("{type: Dense, units: 1, inputs: {a: 1}}", "spec.yaml:3:37: inputs: expected a layer name or a list of names"),
        ("{type: Dense, units: 1, trainable: [false]}", "spec.yaml:3:40: trainable: expected true or false, got [False]"),
        ("{block: [mlp]}", "spec.yaml:5:13: block: expected a block name (a string), got a list ['mlp']"),
        ("{block: mlp, repeat: {n: 2}}", "spec.yaml:5:26: repeat: expected a positive integer, got {'n': 2}"),
        ("{block: mlp, 7: 2}", "spec.yaml:5:18: layers.0.7: Input should be a valid string"),
    ],
)
def test_a_list_or_a_mapping_in_place_of_a_name_is_a_located_error(write_spec, entry, expected):
    blocks = "blocks:\n  mlp: {layers: [{type: Dense, units: 2}]}\n" if "block" in entry else ""
    result = validate(write_spec(f"input_shape: [8]\nlayers:\n  - {entry}\n{blocks}"
                                 if not blocks else f"input_shape: [8]\n{blocks}layers:\n  - {entry}\n"))
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_activation_list_in_a_block_param_reads_once(write_spec):
    text = (
        "input_shape: [8]\n"
        "blocks:\n"
        "  mlp: {params: {act: [relu]}, layers: [{type: Dense, units: 2, activation: $act}]}\n"
        "layers:\n"
        "  - {block: mlp, repeat: 3}\n"
    )
    result = validate(write_spec(text))
    assert result.exit_code == 2
    assert "activation: Input should be" in result.output and "['relu']" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_wrong_types_also_fail_cleanly_through_the_library(write_spec):
    import archspec

    for text in ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, name: [a]}\n",
                 "input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, activation: {a: 1}}\n",
                 "input_shape: [8]\nlayers:\n  - {type: [Dense], units: 1}\n"):
        with pytest.raises(archspec.ArchspecError) as info:
            archspec.load(write_spec(text))
        assert all(p.location is not None and p.location.line == 3 for p in info.value.problems)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: 2001-13-45}\n", "spec.yaml:3:26: invalid YAML: '2001-13-45'"),
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: !!int x}\n", "spec.yaml:3:26: invalid YAML: 'x' is not a valid int"),
        ("input_shape: [8]\nlayers:\n  - {type: Dense, units: " + "1" * 5000 + "}\n", "spec.yaml:3:26: invalid YAML:"),
        ("input_shape: [8]\n<<: 5\nlayers: []\n", "spec.yaml:2:5: invalid YAML: expected a mapping"),
        ("input_shape: [8]\nlayers: \x07\n", "spec.yaml:2:9: invalid YAML: special characters are not allowed"),
        ("input_shape: [8]\nlayers: " + "[" * 5000 + "\n", "spec.yaml:1:1: invalid YAML: nested too deeply"),
        ("a: &a {<<: *a}\n", "spec.yaml:"),
    ],
)
def test_yaml_that_pyyaml_cannot_build_is_a_located_error(write_spec, text, expected):
    result = validate(write_spec(text))
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output


def test_text_that_is_not_utf8_is_located(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"input_shape: [8]\nlayers: \xff\n")
    result = validate(path)
    assert result.exit_code == 2 and "spec.yaml:2:9: not UTF-8 text" in result.output, result.output


def test_a_base_spec_that_is_its_own_base_is_an_error(write_spec):
    path = write_spec("base: {spec: spec.yaml, up_to: x}\nlayers:\n  - {type: Dense, units: 2}\n")
    result = validate(path)
    assert result.exit_code == 2 and "spec.yaml:1:14: base spec spec.yaml leads back to itself" in result.output


def test_a_block_that_fails_is_not_repeated_a_billion_times(write_spec):
    text = (
        "input_shape: [8]\n"
        "blocks:\n"
        "  outer: {layers: [{block: inner, repeat: 1000000000}]}\n"
        "  inner: {layers: [{units: 3}]}\n"
        "layers:\n"
        "  - {block: outer, repeat: 1000000000}\n"
    )
    result = validate(write_spec(text))
    assert result.exit_code == 2 and "needs 'type'" in result.output


def test_huge_but_valid_numbers_summarize(write_spec):
    path = write_spec("input_shape: [" + "1" + "0" * 200 + ", " + "1" + "0" * 200 + "]\nlayers:\n  - {type: Flatten}\n")
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output


def test_schema_does_not_need_docstrings(monkeypatch):
    import json

    from archspec.layers import LAYERS

    for cls in LAYERS.values():
        monkeypatch.setattr(cls, "__doc__", None)
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    dense = schema["$defs"]["Dense"]
    assert dense["properties"]["type"]["description"] == "Dense" and dense["description"]


def test_an_error_on_line_100_is_not_an_emoji(write_spec):
    # rich reads ":100:" as an emoji code: "spec.yaml:100:5" used to print as "spec.yaml💯5"
    text = "input_shape: [8]\n" + "#\n" * 97 + "layers:\n  - {type: Dense, units: 0}\n"
    result = validate(write_spec(text))
    assert result.exit_code == 2 and "spec.yaml:100:26: Dense 'dense': units" in result.output, result.output


def test_control_characters_in_names_stay_on_one_line(write_spec):
    result = validate(write_spec('input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, inputs: "a\\rb\\u2028c"}\n'))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown input 'a\\rb\\u2028c'" in lines[0], result.stderr
