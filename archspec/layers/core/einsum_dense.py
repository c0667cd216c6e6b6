"""EinsumDense."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, ConfigDict, Field, field_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register

# the three forms Keras accepts: no ellipsis, an ellipsis before the input's and the output's
# axes, or one after them (with at least two named input axes)
_PLAIN = re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$")
_LEFT = re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$")
_RIGHT = re.compile(r"^([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$")


def _output_shape_list(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    return [value] if isinstance(value, int) else value


PartialShape = Annotated[
    list[Annotated[int, Field(strict=True, ge=1)] | None],
    BeforeValidator(_output_shape_list, json_schema_input_type=Union[int, list[Union[int, None]]]),
]


def _indices(spec: str, rank: int) -> range:
    """Where the named axes of one side of an equation sit in a tensor of `rank` (batch included)."""
    named = len(spec.replace("...", ""))
    return range(rank - named, rank) if spec.startswith("...") else range(named)


def _positions(spec: str, shape) -> list[tuple[str, int | None]]:
    """(letter, size) for the named axes of one side of an equation on a tensor of `shape`."""
    return [(c, shape[i]) for c, i in zip(spec.replace("...", ""), _indices(spec, len(shape)))]


@dataclass(frozen=True)
class EinsumShapes:
    kernel: tuple[int | None, ...]
    bias: tuple[int | None, ...] | None
    output: tuple[int | None, ...]  # batch axis included, as Keras's compute_output_shape


def analyze(equation: str, bias_axes: str | None, input_shape: tuple, partial: list[int | None]) -> EinsumShapes:
    """Keras 3's reading of an EinsumDense equation on a batched input shape: the kernel's, the
    bias's and the output's shapes. ShapeError where Keras raises."""
    for pattern, left in ((_PLAIN, False), (_LEFT, True), (_RIGHT, False)):
        match = pattern.match(equation)
        if match:
            break
    else:
        raise ShapeError(f"cannot read equation '{equation}': it must be of the form [X],[Y]->[Z], "
                         "...[X],[Y]->...[Z] or [X]...,[Y]->[Z]...")
    in_spec, w_spec, out_spec = match.groups()
    elided = len(input_shape) - len(in_spec)
    if elided < 0 or (elided > 0 and "..." not in equation):
        raise ShapeError(f"equation '{equation}' names {len(in_spec)} input axes but the input has "
                         f"{len(input_shape)} (batch axis included)")
    # the output as Keras builds it: the batch size, the given sizes, and the elided axes
    # copied from the input where the ellipsis stands
    output = [input_shape[0], *partial]
    if elided > 0 and left:
        output[1:1] = input_shape[1:elided]
    elif elided > 0:
        output += input_shape[len(input_shape) - elided:]
    offset = elided if left else 0
    in_axis = {c: input_shape[i + offset] for i, c in enumerate(in_spec)}
    out_index = {c: i + offset for i, c in enumerate(out_spec)}
    if len(output) != len(out_spec) + elided:
        need = len(out_spec) + elided - (len(output) - len(partial))
        raise ShapeError(f"output_shape {partial} gives {len(partial)} sizes, equation '{equation}' on an input "
                         f"of rank {len(input_shape)} (batch axis included) needs {need}")
    for c, size in in_axis.items():
        if c in out_index and output[out_index[c]] is not None and output[out_index[c]] != size:
            raise ShapeError(f"axis '{c}' is {size} in the input but output_shape makes it {output[out_index[c]]}")
    for c in out_spec:
        if c not in in_spec and c not in w_spec:
            raise ShapeError(f"output axis '{c}' appears in neither the input '{in_spec}' nor the kernel '{w_spec}'")
    kernel = []
    for c in w_spec:
        if c in out_index:
            kernel.append(output[out_index[c]])
        elif c in in_axis:
            kernel.append(in_axis[c])
        else:
            raise ShapeError(f"kernel axis '{c}' appears in neither the input '{in_spec}' nor the output '{out_spec}'")
    bias = None
    if bias_axes is not None:
        missing = [c for c in bias_axes if c not in out_spec]
        if missing:
            raise ShapeError(f"bias axis '{missing[0]}' is not an axis of the output '{out_spec}'")
        first = min(out_spec.index(c) for c in bias_axes)
        bias = [output[out_index[c]] if c in bias_axes else 1 for c in out_spec[first:]]
        if not left:
            bias += [1] * elided
    return EinsumShapes(tuple(kernel), None if bias is None else tuple(bias), tuple(output))


@register("EinsumDense")
class EinsumDense(Layer):
    """A dense layer written as an einsum equation, `keras.layers.EinsumDense`.

    Computes `einsum(equation, inputs, kernel) + bias`, then the activation; the equation's
    input part names the batch axis too (`abc,cd->abd` is Dense on a sequence).

    Args:
        equation: `X,Y->Z`, `...X,Y->...Z` or `X...,Y->Z...` as Keras accepts it.
        output_shape: the output's sizes, batch axis and the axes an ellipsis stands for
            excluded; null where the size follows from the input (a free sequence length). As in
            Keras's static shape keeps such a null even where the input's size is known; archspec
            gives the size the tensor has (write the size where a later Keras layer needs it).
            (With `...` first and two or more axes under it besides the batch axis, Keras's
            static output shape lists those axes in reverse order; the tensor it computes has
            them in order, and archspec states that order.)
        bias_axes: output axes (letters of Z) the bias spans; none: no bias. The bias has
            Keras's shape: the sizes from the first bias axis on, 1 on the others.

    Weights: `kernel` (the sizes of Y's axes), `bias`.
    Input shape: as the equation's X says. Output shape: as Z and output_shape say.
    """

    model_config = ConfigDict(serialize_by_alias=True)

    torch_layout_default = "spec"
    examples = (
        Example({"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c", "activation": "relu"}, ((6,),)),
        Example({"equation": "abc,cd->abd", "output_shape": [None, 5], "bias_axes": "d"}, ((None, 3),),
                data_formats=("channels_last",)),
        Example({"equation": "abc,cde->abde", "output_shape": [7, 2, 3], "bias_axes": "de",
                 "kernel_initializer": "he_normal", "bias_initializer": "ones"}, ((7, 4),),
                data_formats=("channels_last",)),
        Example({"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": "c"}, ((None, 4),),
                data_formats=("channels_last",)),
        Example({"equation": "abcd,ced->abe", "output_shape": [4, 6], "bias_axes": "b"}, ((4, 2, 3),),
                data_formats=("channels_last",)),
    )

    equation: str = Field(..., min_length=1, description="The einsum equation, batch axis included: 'abc,cd->abd'.")
    partial_output_shape: PartialShape = Field(
        ..., alias="output_shape",
        description="Output sizes without the batch axis and the ellipsis's axes; null: from the input.")
    activation: Activation = Field("linear", description="Activation applied to the output.")
    bias_axes: str | None = Field(None, description="Output axes the bias spans (letters of the output); none: no bias.")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    @field_validator("equation")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not any(p.match(value) for p in (_PLAIN, _LEFT, _RIGHT)):
            raise ValueError(f"cannot read equation '{value}': Keras takes [X],[Y]->[Z], ...[X],[Y]->...[Z] "
                             "or [X]...,[Y]->[Z]...")
        return value

    def _analyze(self, shape: Shape) -> EinsumShapes:
        return analyze(self.equation, self.bias_axes, (None, *shape), list(self.partial_output_shape))

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        output = list(self._analyze(input_shapes[0]).output)
        # a null of output_shape on an axis the input has takes the input's size: the size the
        # tensor has (Keras's static shape says None there)
        in_spec, _, out_spec = re.split(r",|->", self.equation)
        sizes = dict(_positions(in_spec, (None, *input_shapes[0])))
        for (c, _), i in zip(_positions(out_spec, output), _indices(out_spec, len(output))):
            if output[i] is None and sizes.get(c) is not None:
                output[i] = sizes[c]
        return tuple(output[1:])

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        shapes = self._analyze(input_shapes[0])
        if None in shapes.kernel:
            raise ShapeError(f"would have a kernel of shape {shapes.kernel} with a free axis: give output_shape "
                             f"or the input {fmt_shape(input_shapes[0])} a size on every axis the kernel spans")
        # Keras's VarianceScaling takes its fans from the kernel's input and output axes; archspec
        # draws from its shape's fans, as for every other weight (a different initial scale only)
        weights = [Weight("kernel", shapes.kernel, self.kernel_initializer)]
        if shapes.bias is not None:
            weights.append(Weight("bias", shapes.bias, self.bias_initializer))
        return weights

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        # one multiply-accumulate per kernel entry for every position of the input's axes the
        # kernel does not span (the batch axis excluded)
        shape = input_shapes[0]
        in_spec, w_spec = self.equation.split("->")[0].split(",")
        named = in_spec.replace("...", "")
        elided = len(shape) + 1 - len(named)
        if in_spec.startswith("..."):
            letters, rest = named, list(shape[:elided - 1])
        else:
            letters, rest = named[1:], list(shape[len(named) - 1:])
        sizes = rest + [shape[i + (elided - 1 if in_spec.startswith("...") else 0)]
                        for i, c in enumerate(letters) if c not in w_spec]
        kernel = self._analyze(shape).kernel
        return 0 if None in sizes or None in kernel else math.prod(sizes) * math.prod(kernel)

    def torch_forward(self, module, x):
        import torch

        y = torch.einsum(self.equation, x, module.kernel)
        bias = getattr(module, "bias", None)
        return y if bias is None else y + bias

    def keras_layer(self, data_format: DataFormat, name: str):
        from archspec.backends.keras.layers import FOR_EXPORT, generic_layer, keras_kwargs

        if FOR_EXPORT.get() and "..." in self.equation:
            cls = explicit_keras_class()
            return cls(**keras_kwargs(self, data_format, cls), name=name)
        return generic_layer(self, data_format, name)

    def keras_config(self, data_format: DataFormat) -> dict[str, Any]:
        config = self.model_dump(exclude={"name", "inputs", "trainable"})
        config["output_shape"] = tuple(config["output_shape"])
        return config


def explicit(equation: str, partial: list, input_shape: tuple) -> tuple[str, list]:
    """(equation, output_shape) with the ellipsis spelt out in letters the equation does not use:
    the same kernel, bias and function for an input of this rank."""
    in_spec, w_spec, out_spec = (_LEFT.match(equation) or _RIGHT.match(equation)).groups()
    elided = len(input_shape) - len(in_spec)
    fresh = "".join([c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in equation][:elided])
    if equation.startswith("..."):
        return f"{fresh}{in_spec},{w_spec}->{fresh}{out_spec}", [*input_shape[1:elided], *partial]
    return f"{in_spec}{fresh},{w_spec}->{out_spec}{fresh}", [*partial, *input_shape[len(input_shape) - elided:]]


@lru_cache(maxsize=None)
def explicit_keras_class():
    """keras.layers.EinsumDense for export: tf2onnx's einsum optimizer reads letters only (an
    ellipsis makes it log a traceback before it falls back)."""
    import keras

    @keras.saving.register_keras_serializable(package="archspec")
    class ExplicitEinsumDense(keras.layers.EinsumDense):
        def build(self, input_shape):
            self.equation, partial = explicit(self.equation, list(self.partial_output_shape), tuple(input_shape))
            self.partial_output_shape = tuple(partial)
            super().build(input_shape)

    return ExplicitEinsumDense
