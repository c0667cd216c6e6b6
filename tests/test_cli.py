"""The framework-free commands: validate, summary, plot, schema, --version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from conftest import SEED_SPECS, SPECS

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert "Traceback" not in result.output
    return result


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"archspec {archspec.__version__}"


def test_validate_all_specs():
    result = run("validate", *SEED_SPECS)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == len(SEED_SPECS)


def test_validate_reports_bad_and_good_files_together(write_spec):
    bad = write_spec("input_shape: [8]\nlayers:\n  - {type: Dense}\n", "bad.yaml")
    result = run("validate", SPECS / "pima_mlp.yaml", bad)
    assert result.exit_code == 2
    assert "ok " in result.output and "bad.yaml:3:5" in result.output


def test_summary_table_reads_like_keras():
    result = run("summary", SPECS / "fashion_cnn.yaml")
    assert result.exit_code == 0
    out = result.output
    assert 'Model: "fashion_cnn"' in out
    assert "conv2d (Conv2D)" in out and "(None, 28, 28, 32)" in out and "320" in out
    assert "Total params: 333,526 (1.27 MB)" in out
    assert "Trainable params: 333,526" in out and "Non-trainable params: 0" in out
    assert "Connected to" not in out  # a Sequential model


def test_summary_table_of_a_functional_model_shows_connections():
    out = run("summary", SPECS / "mnist_concat.yaml").output
    assert "Connected to" in out and "flat, flat_inputs" in out and "inputs (InputLayer)" in out


def test_summary_marks_frozen_layers(write_spec):
    path = write_spec(
        "input_shape: [8]\nlayers:\n  - {type: Dense, units: 4, trainable: false}\n  - {type: Dense, units: 1}\n"
    )
    data = json.loads(run("summary", path, "--format", "json").stdout)
    assert data["non_trainable_params"] == 36 and data["trainable_params"] == 5
    assert data["layers"][0]["trainable"] is False
    assert "frozen" in run("summary", path).output


def test_batch_norm_statistics_are_non_trainable():
    data = json.loads(run("summary", SPECS / "resnet_cifar.yaml", "-f", "json").stdout)
    bn = next(l for l in data["layers"] if l["type"] == "BatchNormalization")
    assert bn["params"] == 4 * 16 and bn["non_trainable_params"] == 2 * 16


def test_summary_markdown():
    out = run("summary", SPECS / "mnist_digit_odd.yaml", "--format", "markdown").output
    assert "| `digit_dense` (Dense) | (None, 10) | 61,930 |" in out
    assert "- Total params: 63,035" in out


def test_summary_json_sizes():
    data = json.loads(run("summary", SPECS / "pima_mlp.yaml", "-f", "json").stdout)
    assert data["weight_bytes"] == 221 * 4
    assert data["activation_bytes"] == (8 + 12 + 8 + 1) * 4
    assert data["macs"] == 8 * 12 + 12 * 8 + 8
    assert data["inputs"] == ["features"] and data["outputs"] == ["dense_2"]


def test_summary_bad_format():
    assert run("summary", SPECS / "pima_mlp.yaml", "--format", "xml").exit_code == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_plot_renders(tmp_path, ext):
    target = tmp_path / f"model.{ext}"
    result = run("plot", SPECS / "mnist_digit_odd.yaml", "-o", target)
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert len(data) > 1000
    if ext == "svg":
        text = data.decode()
        assert "digit_dense" in text and "(None, 6192)" in text and "odd_dense" in text
    if ext == "png":
        assert data.startswith(b"\x89PNG")


def test_plot_dot_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    target = tmp_path / "model.dot"
    assert run("plot", SPECS / "mnist_concat.yaml", "-o", target).exit_code == 0
    text = target.read_text()
    assert "flat_inputs -> concatenate" in text and "(None, 5408)" in text
    missing = run("plot", SPECS / "mnist_concat.yaml", "-o", tmp_path / "model.svg")
    assert missing.exit_code == 2 and "Graphviz" in missing.output and ".dot" in missing.output


def test_plot_rejects_unknown_format(tmp_path):
    result = run("plot", SPECS / "pima_mlp.yaml", "-o", tmp_path / "model.gif")
    assert result.exit_code == 2 and "unsupported format 'gif'" in result.output


def test_schema_accepts_every_spec_and_rejects_a_bad_one():
    import jsonschema

    schema = json.loads(run("schema").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    for path in [*SEED_SPECS, *SPECS.glob("keras_applications/*.yaml")]:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message)
    bad = {"input_shape": [8], "layers": [{"type": "Dense", "unit": 3}]}
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({"input_shape": [8], "layers": [{"type": "Dense", "units": 3}], "lyers": 1}))


def test_framework_free_commands_import_no_framework():
    code = (
        "import sys; from typer.testing import CliRunner; from archspec.cli import app; r = CliRunner();"
        "[r.invoke(app, a) for a in (['validate', 'specs/vgg7.yaml'], ['summary', 'specs/vgg7.yaml'],"
        " ['summary', 'specs/vgg7.yaml', '-f', 'json'], ['schema'], ['plot', 'specs/vgg7.yaml', '-o', '/tmp/_a.dot'])];"
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'onnxruntime', 'matplotlib') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SPECS.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_data_shapes_writes_an_image_folder(tmp_path):
    result = run("data", "shapes", "-o", tmp_path / "shapes", "--per-class", "3")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "shapes").iterdir()) == ["circle", "rectangle", "triangle"]
    assert len(list((tmp_path / "shapes").rglob("*.png"))) == 9
    again = run("data", "shapes", "-o", tmp_path / "shapes")
    assert again.exit_code == 2 and "already holds files" in again.output
