"""Shape rules against their formulas and against Keras, over many configurations."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from conftest import needs_keras

sizes = st.integers(1, 40)
windows = st.integers(1, 7)
strides = st.integers(1, 4)
paddings = st.sampled_from(["valid", "same"])


def conv_spec(h, w, c, k, s, padding, filters=3, kind="Conv2D"):
    params = f"filters: {filters}, kernel_size: {k}, strides: {s}" if kind == "Conv2D" else f"pool_size: {k}, strides: {s}"
    return f"input_shape: [{h}, {w}, {c}]\nlayers:\n  - {{type: {kind}, {params}, padding: {padding}}}\n"


@given(h=sizes, w=sizes, c=st.integers(1, 5), k=windows, s=strides, padding=paddings,
       kind=st.sampled_from(["Conv2D", "MaxPooling2D", "AveragePooling2D"]))
@settings(max_examples=300, deadline=None)
def test_window_output_shape_formula(h, w, c, k, s, padding, kind):
    text = conv_spec(h, w, c, k, s, padding, kind=kind)
    fits = padding == "same" or (h >= k and w >= k)
    try:
        spec = archspec.loads(text)
    except archspec.ArchspecError as exc:
        assert not fits and "does not fit" in str(exc)
        return
    assert fits
    expected = [math.ceil(x / s) if padding == "same" else (x - k) // s + 1 for x in (h, w)]
    out = spec.nodes[0].output_shape
    assert list(out[:2]) == expected
    assert out[2] == (3 if kind == "Conv2D" else c)
    if kind == "Conv2D":
        assert spec.total_params == k * k * c * 3 + 3
        assert spec.nodes[0].layer.macs([(h, w, c)], out, "channels_last") == expected[0] * expected[1] * 3 * k * k * c


@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), units=st.integers(1, 9))
@settings(max_examples=100, deadline=None)
def test_dense_on_any_rank_acts_on_the_last_axis(shape, units):
    spec = archspec.loads(f"input_shape: {shape}\nlayers:\n  - {{type: Dense, units: {units}}}\n")
    assert spec.nodes[0].output_shape == (*shape[:-1], units)
    assert spec.total_params == shape[-1] * units + units


@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data())
@settings(max_examples=100, deadline=None)
def test_reshape_with_minus_one(shape, data):
    size = math.prod(shape)
    divisor = data.draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    spec = archspec.loads(f"input_shape: {shape}\nlayers:\n  - {{type: Reshape, target_shape: [-1, {divisor}]}}\n")
    assert spec.nodes[0].output_shape == (size // divisor, divisor)


def test_concatenate_and_add_rules():
    spec = archspec.loads(
        "inputs: [{name: a, shape: [4, 4, 2]}, {name: b, shape: [4, 4, 3]}]\nlayers:\n"
        "  - {type: Concatenate, inputs: [a, b]}\n  - {type: Concatenate, axis: 1, inputs: [a, a], name: rows}\n"
        "  - {type: Add, inputs: [a, a], name: sum}\n"
        "outputs: [concatenate, rows, sum]\n"
    )
    assert [n.output_shape for n in spec.nodes] == [(4, 4, 5), (8, 4, 2), (4, 4, 2)]


def test_channels_first_shapes():
    spec = archspec.loads(
        "data_format: channels_first\ninput_shape: [3, 9, 7]\nlayers:\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}\n"
        "  - {type: BatchNormalization, axis: 1}\n  - {type: MaxPooling2D}\n  - {type: GlobalAveragePooling2D}\n"
    )
    assert [n.output_shape for n in spec.nodes] == [(4, 5, 4), (4, 5, 4), (4, 2, 2), (4,)]
    assert spec.nodes[1].params == 16


@needs_keras
@given(h=sizes, w=sizes, k=windows, s=strides, padding=paddings, kind=st.sampled_from(["Conv2D", "MaxPooling2D", "AveragePooling2D"]))
@settings(max_examples=60, deadline=None)
def test_window_output_shape_equals_keras(h, w, k, s, padding, kind):
    import keras

    text = conv_spec(h, w, 2, k, s, padding, kind=kind)
    try:
        ours = archspec.loads(text).nodes[0].output_shape
    except archspec.ArchspecError:
        ours = None
    if kind == "Conv2D":
        layer = keras.layers.Conv2D(3, k, strides=s, padding=padding)
    else:
        layer = getattr(keras.layers, kind)(k, strides=s, padding=padding)
    try:
        theirs = tuple(layer.compute_output_shape((None, h, w, 2))[1:])
        if min(theirs) <= 0:
            theirs = None
    except ValueError:
        theirs = None
    assert ours == theirs


def test_windows_over_a_free_axis():
    """Convolutions and pooling keep a free axis free; where TensorFlow's padding would depend on the
    length ('same' with strides, average pooling's edge counts) the spec names the layer and why."""
    import pytest

    spec = archspec.loads("inputs: [{name: x, shape: [null, 4]}]\nlayers:\n"
                          "  - {type: Conv1D, filters: 3, kernel_size: 5, padding: same}\n"
                          "  - {type: Conv1D, filters: 3, kernel_size: 3, strides: 2}\n"
                          "  - {type: MaxPooling1D, pool_size: 2}\n")
    assert [n.output_shape for n in spec.nodes] == [(None, 3), (None, 3), (None, 3)]
    for layer, why in (("{type: Conv1D, filters: 3, kernel_size: 3, strides: 2, padding: same}", "strides > 1"),
                       ("{type: AveragePooling1D, pool_size: 2, strides: 1, padding: same}", "edge windows")):
        with pytest.raises(archspec.ArchspecError, match=why):
            archspec.loads(f"inputs: [{{name: x, shape: [null, 4]}}]\nlayers:\n  - {layer}\n")
