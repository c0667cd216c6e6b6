"""Sequences: free axes (null), integer inputs, Embedding and Masking, masks as Keras carries them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archspec.errors import ArchspecError
from archspec.spec import loads
from conftest import needs_both

LENGTHS = (1, 7, 64)

SEQ = """
name: seq
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 20, output_dim: 8, mask_zero: true}
  - {type: Dense, name: d, units: 6, activation: relu}
  - {type: GlobalAveragePooling1D, name: pool}
  - {type: Dense, name: out, units: 3}
"""

MASKING = """
name: masked
inputs: [{name: x, shape: [null, 3]}]
layers:
  - {type: Masking, name: m}
  - {type: Dense, name: d, units: 4}
  - {type: GlobalAveragePooling1D, name: avg}
"""


def test_free_axes_and_dtypes_in_the_summary():
    from archspec.summary import render_markdown, summarize

    spec = loads(SEQ)
    assert spec.inputs[0].shape == (None,) and spec.inputs[0].dtype == "int32"
    assert spec.node("emb").output_shape == (None, 8)
    assert spec.node("pool").output_shape == (6,)
    data = json.loads(json.dumps(summarize(spec)))
    assert data["input_shapes"] == {"tokens": [None, None]}
    assert data["layers"][0]["output_shape"] == [None, None, 8]
    assert data["length"] == 32
    # params never depend on the length; MACs and activation memory do
    assert data["total_params"] == 20 * 8 + 8 * 6 + 6 + 6 * 3 + 3
    at_32, at_64 = summarize(spec, 32), summarize(spec, 64)
    assert at_32["macs"] == 32 * 8 * 6 + 6 * 3 and at_64["macs"] == 64 * 8 * 6 + 6 * 3
    assert at_64["activation_bytes"] > at_32["activation_bytes"]
    assert "(None, None, 8)" in render_markdown(data, spec) and "length 32" in render_markdown(data, spec)


def test_a_spec_without_free_axes_states_no_length():
    from archspec.summary import summarize

    spec = loads("name: f\ninput_shape: [4]\nlayers: [{type: Dense, units: 2}]\n")
    assert summarize(spec)["length"] is None


def test_cli_summary_length(tmp_path):
    from typer.testing import CliRunner

    from archspec.cli import app

    path = tmp_path / "seq.yaml"
    path.write_text(SEQ)
    result = CliRunner().invoke(app, ["summary", str(path), "--length", "100", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["length"] == 100 and data["macs"] == 100 * 8 * 6 + 6 * 3
    table = CliRunner().invoke(app, ["summary", str(path)])
    assert "(None, None, 8)" in table.output and "length 32" in table.output


@pytest.mark.parametrize("layer, message", [
    ("{type: Flatten}", "fixed size"),
    ("{type: Dense, units: 2, inputs: x}", "last axis"),
])
def test_layers_that_need_a_fixed_size_say_so(layer, message):
    text = f"name: bad\ninputs: [{{name: x, shape: [3, null]}}]\nlayers: [{layer}]\n"
    with pytest.raises(ArchspecError, match=message):
        loads(text)


def test_invalid_input_definitions():
    with pytest.raises(ArchspecError):
        loads("name: bad\ninputs: [{name: x, shape: [0]}]\nlayers: [{type: Flatten}]\n")
    with pytest.raises(ArchspecError):
        loads("name: bad\ninputs: [{name: x, shape: [3], dtype: float16}]\nlayers: [{type: Flatten}]\n")


def test_resolved_yaml_keeps_free_axes_and_dtypes():
    from archspec.spec.resolved import resolved_yaml

    spec = loads(SEQ)
    again = loads(resolved_yaml(spec))
    assert again.inputs[0].shape == (None,) and again.inputs[0].dtype == "int32"


def _padded_tokens(rng, lengths, width, vocab):
    tokens = np.zeros((len(lengths), width), np.int32)
    for row, n in enumerate(lengths):
        tokens[row, :n] = rng.integers(1, vocab, n)
    return tokens


@needs_both
@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_masked_pooling_equals_the_unpadded_result(backend):
    """Padding (id 0) after a sequence changes nothing: the mask hides it from the pooling."""
    from archspec.weights import init_weights

    spec = loads(SEQ)
    weights = init_weights(spec, seed=3)
    if backend == "keras":
        from archspec.backends import keras as b
    else:
        from archspec.backends import torch as b
    model = b.build_model(spec, weights)
    rng = np.random.default_rng(0)
    tokens = _padded_tokens(rng, [1, 4, 9], 12, 20)
    padded = b.predict(model, [tokens])[0]
    for row, n in enumerate([1, 4, 9]):
        alone = b.predict(model, [tokens[row:row + 1, :n]])[0]
        np.testing.assert_allclose(padded[row], alone[0], atol=1e-6)


@needs_both
def test_masking_layer_hides_padded_steps_in_both_backends():
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(MASKING)
    weights = init_weights(spec, seed=1)
    x = np.random.default_rng(1).normal(size=(3, 10, 3)).astype(np.float32)
    x[0, 4:] = 0.0
    x[1, 8:] = 0.0
    k = kb.predict(kb.build_model(spec, weights), [x])[0]
    t = tb.predict(tb.build_model(spec, weights), [x])[0]
    np.testing.assert_allclose(t, k, atol=1e-5)
    alone = tb.predict(tb.build_model(spec, weights), [x[:1, :4]])[0]
    np.testing.assert_allclose(t[0], alone[0], atol=1e-5)


@needs_both
@pytest.mark.parametrize("text", [SEQ, MASKING], ids=["embedding", "masking"])
def test_check_passes_at_every_length_including_onnx(text):
    """`archspec check`: Keras, PyTorch and both ONNX exports agree at lengths 1, 7 and 64."""
    pytest.importorskip("onnxruntime")
    from archspec.check import run_check

    report = run_check(loads(text))
    assert report.passed, report.to_dict()
    assert {"keras", "torch", "onnx:keras", "onnx:torch"} <= set(report.paths), report.skipped
    names = {name for pair in report.pairs for name in pair["outputs"]}
    assert {f"{loads(text).outputs[0]} (length {n})" for n in LENGTHS} <= names


@needs_both
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_onnx_exports_keep_free_axes_free(tmp_path, backend):
    pytest.importorskip("onnxruntime")
    import onnx

    from archspec.backends import keras as kb
    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session
    from archspec.weights import init_weights

    spec = loads(SEQ)
    weights = init_weights(spec, seed=2)
    path = export_onnx(spec, weights, tmp_path / "seq.onnx", backend=backend)
    graph = onnx.load(str(path)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "tokens_dim1"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    session = Session(path)
    keras_model = kb.build_model(spec, weights)
    rng = np.random.default_rng(5)
    for n in LENGTHS:
        tokens = _padded_tokens(rng, [max(1, n // 2), n], n, 20)
        np.testing.assert_allclose(session.predict(tokens)[0], kb.predict(keras_model, [tokens])[0], atol=1e-5)
