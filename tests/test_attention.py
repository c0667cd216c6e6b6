"""Attention layers on sequences: masks as Keras applies them, causality, free lengths through
both ONNX exports, and a small causal Transformer block through `archspec check`."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from archspec.errors import ArchspecError
from archspec.spec import loads
from conftest import needs_both

LENGTHS = (1, 7, 64)

# every attention type on masked token embeddings: self-attention (one input listed twice),
# cross-attention between two differently padded sequences, the 3-input form, the causal mask,
# and dropout (which moves Keras's MultiHeadAttention onto its other path: a padded query step
# attends to nothing instead of averaging every value)
MASKED = """
name: masked_attention
inputs:
  - {name: tokens, shape: [null], dtype: int32}
  - {name: context, shape: [null], dtype: int32}
layers:
  - {type: Embedding, name: emb, input_dim: 20, output_dim: 8, mask_zero: true, inputs: tokens}
  - {type: Embedding, name: ctx, input_dim: 20, output_dim: 6, mask_zero: true, inputs: context}
  - {type: MultiHeadAttention, name: mha, num_heads: 2, key_dim: 4, inputs: [emb, emb]}
  - {type: GlobalAveragePooling1D, name: pool, inputs: mha}
  - {type: MultiHeadAttention, name: cross, num_heads: 2, key_dim: 3, value_dim: 5, inputs: [emb, ctx]}
  - {type: MultiHeadAttention, name: drop, num_heads: 2, key_dim: 3, dropout: 0.3, inputs: [emb, emb]}
  - {type: MultiHeadAttention, name: causal, num_heads: 1, key_dim: 4, use_causal_mask: true, inputs: [emb, emb, emb]}
  - {type: GroupQueryAttention, name: gqa, head_dim: 2, num_query_heads: 4, num_key_value_heads: 2, inputs: [emb, emb]}
  - {type: Attention, name: att, use_scale: true, inputs: [emb, emb]}
  - {type: Dense, name: ctx_key, units: 8, inputs: ctx}
  - {type: AdditiveAttention, name: add, inputs: [emb, ctx, ctx_key]}
outputs: [pool, mha, cross, drop, causal, gqa, att, add]
"""

CAUSAL_BLOCK = """
name: causal_block
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 30, output_dim: 8}
  - {type: MultiHeadAttention, name: attn, num_heads: 2, key_dim: 4, use_causal_mask: true, inputs: [emb, emb]}
  - {type: Add, name: res1, inputs: [emb, attn]}
  - {type: LayerNormalization, name: norm}
  - {type: Dense, name: ff, units: 8, activation: gelu}
  - {type: Add, name: res2, inputs: [norm, ff]}
  - {type: Dense, name: logits, units: 30}
"""


def padded_ids(rng, lengths, width, vocab=20):
    """Ids in [1, vocab) for each row's first `length` steps, 0 (padding) after."""
    ids = np.zeros((len(lengths), width), np.int32)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, vocab, n)
    return ids


def feeds(length: int, seed: int = 0):
    rng = np.random.default_rng(seed + length)
    lengths = [length, max(1, length // 2), max(1, length - 3)]
    context = [max(1, length - 1), length, 1]
    return [padded_ids(rng, lengths, length), padded_ids(rng, context, length)], lengths, context


@functools.lru_cache(maxsize=None)
def masked_models():
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(MASKED)
    weights = init_weights(spec, seed=4)
    return spec, weights, kb.build_model(spec, weights), tb.build_model(spec, weights)


@needs_both
def test_masked_attention_torch_equals_keras_at_every_length():
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec, _, keras_model, torch_model = masked_models()
    for length in LENGTHS:
        inputs, _, _ = feeds(length)
        expected = kb.predict(keras_model, inputs)
        actual = tb.predict(torch_model, inputs)
        for name, a, e in zip(spec.outputs, actual, expected):
            np.testing.assert_allclose(a, e, atol=1e-5, err_msg=f"{name} at length {length}")


@needs_both
@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_padding_changes_no_unpadded_step(backend):
    """The masks hide padded steps: each sequence's real steps come out as they do unpadded."""
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec, _, keras_model, torch_model = masked_models()
    b, model = (kb, keras_model) if backend == "keras" else (tb, torch_model)
    inputs, lengths, context = feeds(12)
    padded = dict(zip(spec.outputs, b.predict(model, inputs)))
    for row, (n, m) in enumerate(zip(lengths, context)):
        alone = dict(zip(spec.outputs, b.predict(model, [inputs[0][row:row + 1, :n], inputs[1][row:row + 1, :m]])))
        for name in spec.outputs:
            got = padded[name][row] if name == "pool" else padded[name][row, :n]
            np.testing.assert_allclose(got, alone[name][0], atol=2e-6, err_msg=f"{name}, row {row}")


@needs_both
def test_padded_query_steps_follow_keras_two_paths():
    """Keras averages every value at a padded query step without dropout, and attends to nothing
    with dropout (zero attention: the output is the output projection's bias); so does archspec."""
    from archspec.backends import torch as tb

    spec, weights, _, torch_model = masked_models()
    inputs, lengths, _ = feeds(7)
    out = dict(zip(spec.outputs, tb.predict(torch_model, inputs)))
    row, n = 1, lengths[1]
    np.testing.assert_allclose(out["drop"][row, n:], np.broadcast_to(weights["drop/attention_output/bias"], (7 - n, 8)),
                               atol=1e-6)
    assert np.abs(out["mha"][row, n:] - weights["mha/attention_output/bias"]).max() > 1e-3


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torch", "keras"])
def test_masked_attention_onnx_at_every_length(tmp_path, exporter):
    """Both exports keep both lengths free and give Keras's outputs at lengths 1, 7 and 64."""
    pytest.importorskip("onnxruntime")
    import onnx

    from archspec.backends import keras as kb
    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session

    spec, weights, keras_model, _ = masked_models()
    path = export_onnx(spec, weights, tmp_path / "masked.onnx", backend=exporter)
    graph = onnx.load(str(path)).graph
    assert [[d.dim_param for d in i.type.tensor_type.shape.dim] for i in graph.input] == \
        [["batch", "tokens_dim1"], ["batch", "context_dim1"]]
    session = Session(path)
    for length in LENGTHS:
        inputs, _, _ = feeds(length)
        for name, a, e in zip(spec.outputs, session.predict(*inputs), kb.predict(keras_model, inputs)):
            np.testing.assert_allclose(a, e, atol=1e-5, err_msg=f"onnx:{exporter} {name} at length {length}")


@needs_both
@pytest.mark.slow
def test_causal_transformer_block_passes_check():
    """Keras, PyTorch and both ONNX exports agree at lengths 1, 7 and 64."""
    pytest.importorskip("onnxruntime")
    from archspec.check import run_check

    spec = loads(CAUSAL_BLOCK)
    report = run_check(spec)
    assert report.passed, report.to_dict()
    assert {"keras", "torch", "onnx:keras", "onnx:torch"} <= set(report.paths), report.skipped
    names = {name for pair in report.pairs for name in pair["outputs"]}
    assert {f"logits (length {n})" for n in LENGTHS} <= names


@needs_both
@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_a_later_token_changes_no_earlier_output(backend):
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(CAUSAL_BLOCK)
    b = kb if backend == "keras" else tb
    model = b.build_model(spec, init_weights(spec, seed=2))
    ids = np.random.default_rng(0).integers(0, 30, (2, 9)).astype(np.int32)
    changed = ids.copy()
    changed[:, 5] = (changed[:, 5] + 7) % 30
    before, after = b.predict(model, [ids])[0], b.predict(model, [changed])[0]
    np.testing.assert_array_equal(before[:, :5], after[:, :5])
    assert np.abs(before[:, 5:] - after[:, 5:]).max() > 1e-4


@needs_both
def test_attention_dropout_acts_on_the_probabilities_while_training():
    """Training draws a different output each call; on average it is the inference output
    (inverted dropout of the attention probabilities); inference is deterministic."""
    import torch

    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads("""
name: drop
inputs: [{name: x, shape: [5, 4]}]
layers: [{type: MultiHeadAttention, name: mha, num_heads: 2, key_dim: 3, dropout: 0.5, inputs: [x, x]}]
""")
    assert spec.node("mha").layer.stochastic
    model = tb.build_model(spec, init_weights(spec, seed=0))
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 5, 4)).astype(np.float32))
    with torch.no_grad():
        expected = model(x)
        model.train()
        draws = model(x.expand(20000, 5, 4))  # one independent draw per copy
    assert (draws[0] - draws[1]).abs().max() > 1e-3
    np.testing.assert_allclose(draws.mean(0).numpy(), expected[0].numpy(), atol=0.02)


@needs_both
def test_a_saved_keras_model_loads_back(tmp_path):
    import keras

    from archspec.backends import keras as kb
    from archspec.weights import init_weights

    spec = loads(CAUSAL_BLOCK)
    model = kb.build_model(spec, init_weights(spec, seed=1))
    model.save(tmp_path / "block.keras")
    again = keras.models.load_model(tmp_path / "block.keras")
    ids = np.random.default_rng(1).integers(0, 30, (2, 6)).astype(np.int32)
    np.testing.assert_allclose(kb.predict(again, [ids])[0], kb.predict(model, [ids])[0], atol=1e-6)


def test_weights_macs_and_output_shape():
    from archspec.summary import summarize

    spec = loads("""
name: mha
inputs: [{name: q, shape: [null, 6]}, {name: v, shape: [null, 5]}]
layers:
  - {type: MultiHeadAttention, name: mha, num_heads: 2, key_dim: 3, value_dim: 4, output_shape: [2, 7], inputs: [q, v]}
""")
    node = spec.node("mha")
    assert node.output_shape == (None, 2, 7)
    assert {w.name: w.shape for w in node.weights} == {
        "query/kernel": (6, 2, 3), "query/bias": (2, 3), "key/kernel": (5, 2, 3), "key/bias": (2, 3),
        "value/kernel": (5, 2, 4), "value/bias": (2, 4), "attention_output/kernel": (2, 4, 2, 7),
        "attention_output/bias": (2, 7)}
    t = 10  # projections, scores, weighted sum, output projection
    expected = t * 6 * 6 + t * 5 * 6 + t * 5 * 8 + t * t * 2 * (3 + 4) + t * 8 * 14
    assert summarize(spec, t)["macs"] == expected


@pytest.mark.parametrize("layer, message", [
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3, inputs: [x, flat]}", "of one rank"),
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3, inputs: [x]}", "got 1"),
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3, inputs: [x, x, y]}", "agree on every axis but the last"),
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3, attention_axes: [2], inputs: [x, x]}", "attention_axes 2"),
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 3, attention_axes: [1, 2], use_causal_mask: true, "
     "inputs: [img, img]}", "needs attention_axes \\[1\\]"),
    ("{type: MultiHeadAttention, num_heads: 0, key_dim: 3, inputs: [x, x]}", "num_heads"),
    ("{type: GroupQueryAttention, head_dim: 2, num_query_heads: 3, num_key_value_heads: 2, inputs: [x, x]}",
     "multiple of num_key_value_heads"),
    ("{type: GroupQueryAttention, head_dim: 2, num_query_heads: 2, num_key_value_heads: 2, inputs: [x, y]}",
     "query's feature size"),
    ("{type: Attention, inputs: [x, y]}", "query's feature size"),
    ("{type: Attention, score_mode: sum, inputs: [x, x]}", "score_mode"),
    ("{type: AdditiveAttention, score_mode: dot, inputs: [x, x]}", "score_mode"),
])
def test_bad_attention_configs_are_clear_errors(layer, message):
    shapes = {"x": "[null, 4]", "y": "[5, 3]", "flat": "[4]", "img": "[3, 3, 4]"}
    refs = layer.split("inputs: [")[1].split("]")[0]
    used = [n for n in shapes if n in {r.strip() for r in refs.split(",")}]
    inputs = ", ".join(f"{{name: {n}, shape: {shapes[n]}}}" for n in used)
    with pytest.raises(ArchspecError, match=message):
        loads(f"name: bad\ninputs: [{inputs}]\nlayers: [{layer}]\n")
