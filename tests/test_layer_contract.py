"""Every registered layer type, every example, both data formats: one contract.

Like Keras's `run_layer_test` and timm's tests over `list_models`, nothing here names a
layer type: a type is tested because it is registered. For each type, its examples become
the branches of one model per data_format, and:

- shapes and parameter counts equal Keras's, layer by layer;
- Keras and PyTorch compute the same outputs from the same neutral weights (<= 1e-5);
- the neutral weights come back unchanged from both backends;
- one training step (SGD) gives the same weights and statistics in both backends;
- the JSON Schema accepts the spec;
- both ONNX exports run in onnxruntime and give Keras's outputs (all types of a data
  format share one exported model per exporter, to keep the suite fast).
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import yaml

from archspec.layers import LAYERS, list_layers, snake_case
from archspec.spec import loads
from conftest import needs_both

FORMATS = ("channels_last", "channels_first")
TOLERANCE = 1e-5


def _cases(type_name: str, data_format: str) -> list[tuple[str, dict, list]]:
    """(branch name, layer entry, input shapes) for each example of a type in one data format."""
    cls = LAYERS[type_name]
    cases = []
    for index, example in enumerate(cls.examples):
        if data_format in example.data_formats:
            name = f"{snake_case(type_name)}_{index}"
            cases.append((name, {"type": type_name, **example.config}, example.input_shapes(data_format), example))
    return cases


def spec_text(type_names: list[str], data_format: str, keras_onnx_only: bool = False,
              keras_gradient_only: bool = False) -> str | None:
    """A model with one branch per example: inputs `<branch>_in<k>`, output `<branch>`."""
    inputs, layers, outputs = [], [], []
    for type_name in type_names:
        for name, entry, shapes, example in _cases(type_name, data_format):
            if (keras_onnx_only and not (example.onnx_keras and LAYERS[type_name].keras_onnx_problem is None)) or (keras_gradient_only and not example.keras_gradient):
                continue
            names = [f"{name}_in{k}" for k in range(len(shapes))]
            dtypes = example.input_dtypes or ("float32",) * len(shapes)
            inputs += [{"name": n, "shape": list(s), **({"dtype": d} if d != "float32" else {})}
                       for n, s, d in zip(names, shapes, dtypes)]
            layers.append({**entry, "name": name, "inputs": names if len(names) > 1 else names[0]})
            outputs.append(name)
    if not layers:
        return None
    return yaml.safe_dump({"name": "contract", "data_format": data_format, "inputs": inputs, "layers": layers,
                           "outputs": outputs}, sort_keys=False)


@functools.lru_cache(maxsize=None)
def contract_spec(type_names: tuple[str, ...], data_format: str, keras_onnx_only: bool = False,
                  keras_gradient_only: bool = False):
    text = spec_text(list(type_names), data_format, keras_onnx_only, keras_gradient_only)
    if keras_gradient_only and text == spec_text(list(type_names), data_format):
        return contract_spec(type_names, data_format)
    return None if text is None else loads(text, file=f"<{'/'.join(type_names)[:60]} {data_format}>")


LENGTHS = (1, 7, 64)  # the lengths a free axis (None) takes


def sample_inputs(spec, seed: int = 0, batch: int = 3, length: int = 7) -> list[np.ndarray]:
    from archspec.check import sample_inputs as draw

    return draw(spec, batch, seed, length, normal=True)


def seeded_weights(spec):
    from archspec.weights import init_weights

    return init_weights(spec, seed=1, randomize_statistics=True)


def assert_close(actual, expected, what: str, tolerance: float = TOLERANCE):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    diff = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    assert diff <= tolerance * scale, f"{what}: max |diff| {diff:.3g} > {tolerance * scale:.3g}"


# ------------------------------------------------------------------ the catalogue itself


def test_the_catalogue_index_is_what_the_modules_register():
    """Names are read from `@register` lines without importing; importing must agree."""
    from archspec.layers import canonical_type, load_all

    classes = load_all()
    assert sorted(classes) == list_layers()
    for name, cls in classes.items():
        assert cls.type_name == name
        assert all(canonical_type(alias) == name for alias in cls.aliases)


def test_every_type_is_complete():
    """A registered type has a docstring, examples, and field descriptions for the JSON Schema."""
    problems = []
    for type_name in list_layers():
        cls = LAYERS[type_name]
        if not (cls.__doc__ or "").strip():
            problems.append(f"{type_name}: no docstring")
        if not cls.examples:
            problems.append(f"{type_name}: no examples")
        for field, info in cls.model_fields.items():
            if field not in ("name", "inputs", "trainable") and not info.description:
                problems.append(f"{type_name}.{field}: no description")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("type_name", list_layers())
def test_schema_accepts_the_examples(type_name):
    import jsonschema

    from archspec.schema import spec_schema

    validator = _schema_validator(jsonschema, spec_schema)
    for data_format in FORMATS:
        text = spec_text([type_name], data_format)
        if text is not None:
            errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
            assert not errors, f"{type_name} ({data_format}): {errors[:3]}"


@functools.lru_cache(maxsize=1)
def _schema_validator(jsonschema, spec_schema):
    return jsonschema.Draft202012Validator(spec_schema())


# ------------------------------------------------------------------ Keras vs PyTorch


@needs_both
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("type_name", list_layers())
def test_keras_and_torch_agree(type_name, data_format):
    spec = contract_spec((type_name,), data_format)
    if spec is None:
        pytest.skip(f"no {data_format} example")
    import torch

    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    weights = seeded_weights(spec)
    keras_model = kb.build_model(spec, weights)
    # shapes and parameter counts, layer by layer
    for node in spec.nodes:
        layer = keras_model.get_layer(kb.keras_name(node.name))
        assert tuple(layer.output.shape[1:]) == node.output_shape, f"{node.name}: output shape"
        assert layer.count_params() == node.params, f"{node.name}: params {node.params} vs Keras {layer.count_params()}"
    torch_model = tb.build_model(spec, weights)
    # the neutral weights come back unchanged
    for key, value in tb.ArchspecModel.get_neutral_weights(torch_model).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=f"torch round trip of {key}")
    for key, value in kb.get_weights(keras_model, spec).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=f"keras round trip of {key}")
    # inference, at several lengths of the free axes
    for length in _lengths(spec):
        inputs = sample_inputs(spec, length=length)
        expected = kb.predict(keras_model, inputs)
        actual = tb.predict(torch_model, inputs)
        for name, a, e in zip(spec.outputs, actual, expected):
            assert_close(a, e, f"{name} ({data_format}, length {length}) torch vs keras")
    inputs = sample_inputs(spec)
    if any(n.layer.stochastic for n in spec.nodes):
        return
    trained = contract_spec((type_name,), data_format, keras_gradient_only=True)
    # a free axis is sampled at one length (7) for the training step
    if trained is None:
        return
    if trained is not spec:
        weights = seeded_weights(trained)
        spec, keras_model, torch_model = trained, kb.build_model(trained, weights), tb.build_model(trained, weights)
        inputs = sample_inputs(spec)
    # one training step: SGD on the mean of squares of every output
    keras_after = _keras_step(keras_model, spec, inputs)
    torch.manual_seed(0)
    torch_model.train()
    outputs = torch_model(*[torch.as_tensor(x) for x in inputs])
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    loss = sum((o ** 2).mean() for o in outputs)
    if loss.requires_grad:
        loss.backward()
    with torch.no_grad():
        for p in torch_model.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    torch_after = torch_model.get_neutral_weights()
    for key in weights:
        assert_close(torch_after[key], keras_after[key], f"{key} after one training step ({data_format})")


def _keras_step(model, spec, inputs):
    import tensorflow as tf

    from archspec.backends import keras as kb

    with tf.GradientTape() as tape:
        outputs = model(inputs if len(inputs) > 1 else inputs[0], training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        loss = tf.add_n([tf.reduce_mean(tf.square(o)) for o in outputs])
    variables = model.trainable_variables
    if variables:
        for variable, grad in zip(variables, tape.gradient(loss, variables)):
            if grad is not None:
                variable.assign_sub(0.1 * tf.convert_to_tensor(grad))  # Embedding's: IndexedSlices
    return kb.get_weights(model, spec)


# ------------------------------------------------------------------ ONNX, both exporters


def onnx_types() -> tuple[str, ...]:
    """Every type, or those named in ARCHSPEC_CONTRACT_TYPES (comma-separated) while developing one."""
    chosen = os.environ.get("ARCHSPEC_CONTRACT_TYPES")
    return tuple(t for t in list_layers() if not chosen or t in chosen.split(","))


@functools.lru_cache(maxsize=None)
def _onnx_outputs(data_format: str, exporter: str):
    """ORT's outputs of the all-types model exported by `exporter`, at each length of its free axes:
    an exported file must be right at every length, not only at the one it was traced with."""
    import tempfile
    from pathlib import Path

    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session

    spec = contract_spec(onnx_types(), data_format, keras_onnx_only=exporter == "keras")
    weights = seeded_weights(spec)
    with tempfile.TemporaryDirectory() as scratch:
        path = export_onnx(spec, weights, Path(scratch) / "contract.onnx", backend=exporter)
        session = Session(path)
        outputs = {length: dict(zip(spec.outputs, session.predict(*sample_inputs(spec, length=length))))
                   for length in _lengths(spec)}
    return outputs, spec, weights


def _lengths(spec) -> tuple[int, ...]:
    from archspec.check import has_free_axis

    return LENGTHS if has_free_axis(spec) else (7,)


@functools.lru_cache(maxsize=None)
def _keras_outputs(data_format: str, exporter: str):
    from archspec.backends import keras as kb

    _, spec, weights = _onnx_outputs(data_format, exporter)
    model = kb.build_model(spec, weights)
    return {length: dict(zip(spec.outputs, kb.predict(model, sample_inputs(spec, length=length))))
            for length in _lengths(spec)}


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torch", "keras"])
@pytest.mark.parametrize("data_format", FORMATS)
def test_onnx_exports_agree_with_keras(data_format, exporter):
    pytest.importorskip("onnxruntime")
    onnx, _, _ = _onnx_outputs(data_format, exporter)
    keras = _keras_outputs(data_format, exporter)
    failures = []
    for length, expected_outputs in keras.items():
        for name, expected in expected_outputs.items():
            try:
                assert_close(onnx[length][name], expected,
                             f"{name} ({data_format}, length {length}) onnx:{exporter} vs keras")
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, "\n".join(failures)


@needs_both
def test_mask_policies_follow_keras():
    """A type passes, merges, produces or consumes a mask exactly where Keras's layer supports
    masking; elsewhere (supports_masking False) the mask ends there, as in Keras."""
    from archspec.backends.keras import keras_name

    problems = []
    for type_name in list_layers():
        cls = LAYERS[type_name]
        for data_format in FORMATS:
            cases = _cases(type_name, data_format)
            if cases:
                break
        _, entry, shapes, _ = cases[0]
        layer = cls.model_validate({k: v for k, v in entry.items() if k != "type"})
        try:
            keras_layer = layer.keras_layer(data_format, keras_name("probe"))
        except Exception as exc:  # noqa: BLE001 - report, don't stop
            problems.append(f"{type_name}: cannot build the Keras layer ({exc})")
            continue
        ours = cls.mask_policy != "drop"
        if type_name == "Embedding":
            ours = layer.mask_zero
        if getattr(keras_layer, "supports_masking", False) != ours:
            problems.append(f"{type_name}: mask_policy {cls.mask_policy!r}, Keras supports_masking "
                            f"{keras_layer.supports_masking}")
    assert not problems, "\n".join(problems)
