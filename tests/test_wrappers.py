"""Wrappers (TimeDistributed, Bidirectional) and their nested layer configs; EinsumDense and
PositionEmbedding in a small Vision Transformer."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from archspec.cli import app
from archspec.errors import ArchspecError
from archspec.spec import loads
from conftest import needs_both

runner = CliRunner()

BI_TEXT = """
name: bi_text
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 12, output_dim: 5, mask_zero: true}
  - type: Bidirectional
    name: bi
    layer: {type: LSTM, name: enc, units: 4, return_sequences: true}
  - type: Bidirectional
    name: bi2
    merge_mode: sum
    layer: {type: GRU, units: 3}
    backward_layer: {type: GRU, name: back, units: 3, go_backwards: true, reset_after: false}
  - {type: Dense, name: out, units: 2}
"""

TD_SERIES = """
name: td_series
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 9, output_dim: 4, mask_zero: true}
  - {type: TimeDistributed, name: td, layer: {type: Dense, units: 3, activation: tanh}}
  - {type: LSTM, name: rnn, units: 2, go_backwards: true}
"""


def padded_tokens(length: int, batch: int = 3, pad: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, the same ids right-padded with `pad` zeros)."""
    ids = np.random.default_rng(seed).integers(1, 9, (batch, length)).astype(np.int32)
    return ids, np.concatenate([ids, np.zeros((batch, pad), np.int32)], axis=1)


# ------------------------------------------------------------------ nested configs


def test_nested_configs_name_their_weights_as_keras_does():
    spec = loads(BI_TEXT)
    keys = list(spec.weight_keys())
    assert keys[:7] == ["emb/embeddings", "bi/forward_enc/lstm_cell/kernel", "bi/forward_enc/lstm_cell/recurrent_kernel",
                        "bi/forward_enc/lstm_cell/bias", "bi/backward_enc/lstm_cell/kernel",
                        "bi/backward_enc/lstm_cell/recurrent_kernel", "bi/backward_enc/lstm_cell/bias"]
    assert "bi2/forward_gru/gru_cell/kernel" in keys and "bi2/back/gru_cell/bias" in keys
    assert spec.weight_keys()["bi2/back/gru_cell/bias"].shape == (9,)  # reset_after false: one bias row
    assert spec.node("bi").output_shape == (None, 8) and spec.node("bi2").output_shape == (3,)
    td = loads(TD_SERIES)
    assert list(td.weight_keys())[1:3] == ["td/dense/kernel", "td/dense/bias"]


def test_resolved_yaml_keeps_the_nested_layer():
    from archspec.spec.resolved import resolved_yaml

    spec = loads(BI_TEXT)
    data = yaml.safe_load(resolved_yaml(spec))
    bi2 = next(entry for entry in data["layers"] if entry["name"] == "bi2")
    assert bi2["layer"] == {"type": "GRU", "name": "gru", "units": 3}
    assert bi2["backward_layer"]["name"] == "back" and bi2["backward_layer"]["go_backwards"] is True
    again = loads(resolved_yaml(spec))
    assert again.weight_keys().keys() == spec.weight_keys().keys()


BAD = """name: bad
inputs: [{name: x, shape: [null, 4]}]
layers:
  - type: Bidirectional
    name: bi
    layer: {type: LSTMM, units: 3}
  - type: TimeDistributed
    name: td
    layer:
      type: Dense
      unitz: 3
  - {type: Bidirectional, name: b2, merge_mode: null, layer: {type: GRU, units: 2}}
  - {type: Bidirectional, name: b3, layer: {type: Dense, units: 2}}
  - {type: TimeDistributed, name: td2, layer: {type: Dense, units: 2, inputs: x}}
  - {type: TimeDistributed, name: td3, layer: 3}
  - {type: Bidirectional, name: b4, layer: {type: LSTM, units: 2, go_backwards: true}}
"""


def test_validate_locates_mistakes_inside_a_nested_layer(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    out = result.output
    expected = [
        f"{path}:6:19: Bidirectional 'bi': layer.type: unknown layer type 'LSTMM' (did you mean 'LSTM'?)",
        f"{path}:11:7: TimeDistributed 'td': unknown key 'unitz' (did you mean 'units'?)",
        "TimeDistributed 'td': missing required key 'units'",
        f"{path}:12:49: Bidirectional 'b2': merge_mode: merge_mode null gives two output tensors",
        f"{path}:13:51: Bidirectional 'b3': layer.type: Bidirectional wraps a recurrent layer",
        "TimeDistributed 'td2': layer.inputs: a wrapped layer takes its wrapper's input",
        "TimeDistributed 'td3': layer: expected a mapping with the wrapped layer's type",
        "Bidirectional 'b4': layer: layer has go_backwards true",
    ]
    for text in expected:
        assert text in " ".join(out.split()), f"missing: {text}\n{out}"


def test_a_nested_shape_error_names_the_wrapped_layer():
    with pytest.raises(ArchspecError, match=r"TimeDistributed 'td' wraps Dense 'dense', which"):
        loads("inputs: [{name: x, shape: [5, null]}]\n"
              "layers:\n  - {type: TimeDistributed, name: td, layer: {type: Dense, units: 2}}\n")
    with pytest.raises(ArchspecError, match="expects \\(batch, steps, ...\\)"):
        loads("inputs: [{name: x, shape: [5]}]\nlayers:\n  - {type: TimeDistributed, layer: {type: Dense, units: 2}}\n")


def test_the_schema_describes_the_nested_layer():
    import jsonschema

    from archspec.schema import spec_schema

    validator = jsonschema.Draft202012Validator(spec_schema())
    good = yaml.safe_load(BI_TEXT)
    assert not list(validator.iter_errors(good))
    bad = yaml.safe_load(BI_TEXT)
    bad["layers"][1]["layer"] = {"type": "LSTM", "unitz": 4}
    assert list(validator.iter_errors(bad))
    bad["layers"][1]["layer"] = 3
    assert list(validator.iter_errors(bad))


# ------------------------------------------------------------------ masks, Keras vs PyTorch


@needs_both
@pytest.mark.parametrize("text", [BI_TEXT, TD_SERIES], ids=["bidirectional", "time_distributed"])
def test_masks_flow_through_wrappers_as_in_keras(text):
    """Padding changes nothing: both backends give the unpadded sequence's result, and each other's."""
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(text)
    weights = init_weights(spec, seed=3)
    keras_model, torch_model = kb.build_model(spec, weights), tb.build_model(spec, weights)
    for length in (1, 7):
        ids, padded = padded_tokens(length)
        keras_out = kb.predict(keras_model, [padded])[0]
        torch_out = tb.predict(torch_model, [padded])[0]
        np.testing.assert_allclose(torch_out, keras_out, atol=1e-5)
        np.testing.assert_allclose(torch_out, tb.predict(torch_model, [ids])[0], atol=1e-5)


@needs_both
def test_bidirectional_sequences_zero_the_masked_steps():
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(
        "inputs: [{name: tokens, shape: [null], dtype: int32}]\nlayers:\n"
        "  - {type: Embedding, input_dim: 12, output_dim: 5, mask_zero: true}\n"
        "  - {type: Bidirectional, name: bi, layer: {type: SimpleRNN, units: 3, return_sequences: true}}\n")
    weights = init_weights(spec, seed=4)
    ids, padded = padded_tokens(5, pad=2)
    torch_out = tb.predict(tb.build_model(spec, weights), [padded])[0]
    keras_out = kb.predict(kb.build_model(spec, weights), [padded])[0]
    np.testing.assert_allclose(torch_out, keras_out, atol=1e-5)
    assert np.all(torch_out[:, 5:] == 0)
    assert np.all(np.abs(torch_out[:, :5]).sum(-1) > 0)


# ------------------------------------------------------------------ a Vision Transformer


VIT = """
name: tiny_vit
inputs: [{name: image, shape: [8, 8, 1]}]
layers:
  - {type: Conv2D, name: patches, filters: 6, kernel_size: 4, strides: 4}
  - {type: Reshape, name: tokens, target_shape: [4, 6]}
  - {type: PositionEmbedding, name: pos, sequence_length: 4}
  - {type: Add, name: embedded, inputs: [tokens, pos]}
  - {type: LayerNormalization, name: norm, epsilon: 1.0e-6}
  - {type: EinsumDense, name: qkv, equation: "abc,cde->abde", output_shape: [4, 3, 6], bias_axes: de}
  - {type: Reshape, name: flat, target_shape: [4, 18]}
  - {type: EinsumDense, name: proj, equation: "abc,cd->abd", output_shape: [null, 6], bias_axes: d, activation: gelu}
  - {type: Add, name: residual, inputs: [embedded, proj]}
  - {type: GlobalAveragePooling1D, name: pool}
  - {type: Dense, name: head, units: 3, activation: softmax}
"""


def test_vit_shapes_and_params():
    spec = loads(VIT)
    assert spec.node("pos").output_shape == (4, 6)
    assert spec.weight_keys()["pos/embeddings"].shape == (4, 6)
    assert spec.weight_keys()["qkv/kernel"].shape == (6, 3, 6) and spec.weight_keys()["qkv/bias"].shape == (3, 6)
    assert spec.node("proj").output_shape == (4, 6)  # output_shape's null takes the input's size
    with pytest.raises(ArchspecError, match="sequence_length 3 rows, shorter than the input's 4 steps"):
        loads(VIT.replace("sequence_length: 4", "sequence_length: 3"))


@needs_both
@pytest.mark.slow
def test_vit_passes_archspec_check(tmp_path):
    path = tmp_path / "tiny_vit.yaml"
    path.write_text(VIT)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "onnx:keras" in result.output and "onnx:torch" in result.output
