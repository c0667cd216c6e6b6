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
         ["spec.yaml:3:5: Conv2D 'conv2d' kernel 5x5 with padding 'valid' does not fit its input (input: (None, 4, 4, 1))"]),
        ("inputs:\n  - {name: a, shape: [8]}\n  - {name: b, shape: [9]}\nlayers:\n  - {type: Add, inputs: [a, b]}\n",
         ["Add 'add' inputs must have the same shape, got (None, 8), (None, 9)"]),
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
