"""The contract every layer type fulfils: its config, its shape rule, its weights, its cost,
its examples and its PyTorch forward.

A layer type is one pydantic model registered under its Keras 3 class name, in one module
of this package. Everything that needs no framework (validation, shape inference,
parameter and MAC counts, the JSON Schema) is derived from that one class. The PyTorch
computation is a method of the same class, importing torch only when it runs; the Keras
layer is `keras.layers.<Type>(**config)` unless a class says otherwise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

Shape = tuple[int | None, ...]  # per-sample shape, batch axis excluded; None on a free axis
DataFormat = Literal["channels_last", "channels_first"]
TorchLayout = Literal["channels_first", "spec", "any"]
MaskPolicy = Literal["drop", "pass", "merge", "produce", "consume"]


class ShapeError(ValueError):
    """A layer cannot accept the shapes it is given. The graph adds the layer's name."""


@dataclass(frozen=True)
class Weight:
    """One weight tensor of a layer, in Keras's layout (the neutral layout), and how PyTorch holds it.

    `name` is the Keras variable's path inside its layer (`kernel`, `lstm_cell/bias`). PyTorch
    holds the array as attribute `torch_name` (a parameter, or a buffer when not trainable),
    transposed by `torch_permute` and then reshaped to `torch_shape`.
    """

    name: str
    shape: Shape
    initializer: str
    trainable: bool = True
    torch_name: str | None = None
    torch_permute: tuple[int, ...] | None = None
    torch_shape: Shape | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def attribute(self) -> str:
        """The attribute of the PyTorch module that holds this weight."""
        return self.torch_name or self.name.replace("/", "_")

    def to_torch(self, array: "np.ndarray") -> "np.ndarray":
        """Keras's layout -> PyTorch's."""
        import numpy as np

        if self.torch_permute is not None:
            array = np.transpose(array, self.torch_permute)
        if self.torch_shape is not None:
            array = array.reshape(self.torch_shape)
        return np.asarray(array, dtype=np.float32, order="C")

    def from_torch(self, array: "np.ndarray") -> "np.ndarray":
        """PyTorch's layout -> Keras's."""
        import numpy as np

        if self.torch_permute is not None:
            permuted = tuple(self.shape[axis] for axis in self.torch_permute)
            array = np.transpose(array.reshape(permuted), np.argsort(self.torch_permute))
        return np.asarray(array.reshape(self.shape), dtype=np.float32, order="C")


@dataclass(frozen=True)
class Example:
    """A configuration of a layer type that the contract test runs in every backend.

    `inputs` are per-sample shapes written for channels_last; under channels_first the
    channel axis moves first (for inputs of rank 2 or more). `onnx_keras=False` marks what
    tf2onnx cannot convert (that exporter refuses it with a message).
    """

    config: dict[str, Any]
    inputs: tuple[Shape, ...]
    data_formats: tuple[DataFormat, ...] = ("channels_last", "channels_first")
    onnx_keras: bool = True
    keras_gradient: bool = True  # False where Keras's own gradient is wrong (the note says why)
    note: str = ""
    input_dtypes: tuple[str, ...] | None = None  # float32 unless given (int32/int64 feed Embedding)

    def input_shapes(self, data_format: DataFormat) -> list[Shape]:
        if data_format == "channels_last":
            return [tuple(s) for s in self.inputs]
        return [(s[-1], *s[:-1]) if len(s) >= 2 else tuple(s) for s in self.inputs]


# ---------------------------------------------------------------- value types


def ints_tuple(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer or a list of integers, not a boolean")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list):
        return tuple(value)
    return value


PositiveInt = Annotated[int, Field(strict=True, ge=1)]
IntTuple = Annotated[
    tuple[PositiveInt, ...],
    BeforeValidator(ints_tuple, json_schema_input_type=Union[int, Annotated[list[int], Field(min_length=1, max_length=3)]]),
]
"""An int or one int per spatial axis, like Keras's kernel_size, strides and pool_size.

Fields of this type are expanded to the layer's rank by `Layer._expand_tuples`."""


def expand_tuple(value: tuple[int, ...], rank: int, field_name: str) -> tuple[int, ...]:
    """Keras's standardize_tuple: one int stands for all `rank` axes."""
    if len(value) == 1:
        return value * rank
    if len(value) != rank:
        raise ValueError(f"{field_name} needs 1 or {rank} integers, got {len(value)}")
    return value


def _int_pair(value: Any) -> Any:
    value = ints_tuple(value)
    return value * 2 if isinstance(value, tuple) and len(value) == 1 else value


IntPair = Annotated[
    tuple[PositiveInt, PositiveInt],
    BeforeValidator(_int_pair, json_schema_input_type=Union[int, Annotated[list[int], Field(min_length=1, max_length=2)]]),
]
"""An int or a pair of ints."""


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Padding = Annotated[Literal["valid", "same"], BeforeValidator(_lower, json_schema_input_type=Literal["valid", "same", "VALID", "SAME"])]

# "/" only between parts (block scopes, resolved specs); no "." (torch module paths)
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(/[A-Za-z0-9_][A-Za-z0-9_\-]*)*$"
LayerName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]


def snake_case(class_name: str) -> str:
    """Keras's auto-name prefix: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---------------------------------------------------------------- the base class


class Layer(BaseModel):
    """Base of every layer config. Subclasses add Keras's parameters as fields."""

    # defer_build: a model's validator is built on its first use, so that registering the
    # whole catalogue costs little for a spec that uses a handful of types
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    # set by @register
    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # how many inputs the layer takes
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # configurations the contract test runs through every backend (tests/test_layer_contract.py)
    examples: ClassVar[tuple[Example, ...]] = ()
    # why the Keras exporter (tf2onnx) cannot give this layer's function, when it cannot: the
    # exporter refuses such a spec rather than write a file that computes something else
    keras_onnx_problem: ClassVar[str | None] = None
    # draws random numbers while training (Dropout & co.): no training-step comparison
    stochastic: ClassVar[bool] = False
    # the layout the PyTorch forward wants its image-like inputs in (see torch_layout)
    torch_layout_default: ClassVar[TorchLayout] = "any"
    # how the layer treats a mask (batch, steps...) arriving with its input, as Keras does:
    # "drop": Keras's supports_masking is False, the mask ends here; "pass": the first input's
    # mask goes on unchanged; "merge": the inputs' masks combine (Keras's merge layers);
    # "produce": the layer computes a mask (torch_mask); "consume": the layer uses the mask
    # (torch_forward gets mask=) and its output has none
    mask_policy: ClassVar[MaskPolicy] = "drop"
    # torch_forward takes `mask=` (Keras's call(..., mask=None)), also for policies other than consume
    uses_mask: ClassVar[bool] = False

    name: LayerName | None = Field(None, description="Unique layer name; generated the Keras way when missing.")
    inputs: str | list[str] | None = Field(
        None, description="Input name(s): model inputs or layers. Default: the previous entry."
    )
    trainable: bool = Field(True, description="false freezes the layer's weights.")

    # --- the rules a layer type implements ---

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        """Output shape for one sample (batch axis excluded)."""
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        """The layer's weights, in Keras's order and layout."""
        return []

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        """Multiply-accumulates for one sample (convolutions and dense products only)."""
        return 0

    @property
    def activation_name(self) -> str:
        return getattr(self, "activation", "linear")

    # --- PyTorch (torch is imported by these methods only) ---

    def torch_layout(self, input_shapes: list[Shape], data_format: DataFormat) -> TorchLayout:
        """How the PyTorch forward wants inputs of rank 2 or more (batch excluded):

        - "channels_first": channels on dim 1, whatever the spec's data_format (convolutions,
          pooling, padding, channel-wise normalisation): PyTorch's native layout;
        - "spec": the spec's own layout (Flatten order, Dense on the last axis, Reshape);
        - "any": either (elementwise layers), so no transpose is inserted for them.
        """
        return self.torch_layout_default

    def torch_setup(self, module: Any, input_shapes: list[Shape], data_format: DataFormat) -> None:
        """Precompute what the forward needs (paddings, axes) and keep it on `module`.

        `module` is the generic `nn.Module` that holds this layer's weights as attributes
        (`Weight.attribute`); its `internal_channels_first` says whether a channels_last
        spec's tensors reach this layer channels-first.
        """

    def torch_forward(self, module: Any, *inputs: "torch.Tensor") -> "torch.Tensor":
        """The layer's computation before its activation (the module applies `activation`)."""
        if len(inputs) == 1:
            return inputs[0]
        raise NotImplementedError(f"{self.type_name} has no PyTorch forward")

    def integer_input_bound(self) -> int | None:
        """The layer takes integers in [0, bound) (Embedding's input_dim); None for other layers."""
        return None

    def torch_mask(self, module: Any, inputs: tuple, masks: list) -> "torch.Tensor | None":
        """The output's boolean mask (batch, steps...) or None: Keras's compute_mask.

        `masks` holds each input's mask (or None)."""
        if self.mask_policy == "pass":
            return masks[0]
        if self.mask_policy == "merge":  # Keras's _Merge: OR of every mask, none where one is missing
            if any(m is None for m in masks):
                return None
            out = masks[0]
            for m in masks[1:]:
                out = out | m
            return out
        return None

    # --- Keras (keras is imported by these methods only) ---

    def keras_config(self, data_format: DataFormat) -> dict[str, Any]:
        """Keyword arguments of `keras.layers.<type_name>`: the layer's own parameters."""
        return self.model_dump(exclude={"name", "inputs", "trainable"})

    def keras_layer(self, data_format: DataFormat, name: str):
        """The Keras layer object; generic, overridden only where Keras needs it."""
        from archspec.backends.keras.layers import generic_layer

        return generic_layer(self, data_format, name)


def spatial(shape: Shape, data_format: DataFormat) -> tuple[Shape, int]:
    """(spatial dims, channels) of an image-like per-sample shape."""
    if data_format == "channels_first":
        return shape[1:], shape[0]
    return shape[:-1], shape[-1]


def image(spatial_dims: Shape, channels: int, data_format: DataFormat) -> Shape:
    return (channels, *spatial_dims) if data_format == "channels_first" else (*spatial_dims, channels)


def keras_axis(axis: int, rank: int) -> int:
    """A Keras axis (counting the batch axis, negative from the end) as a per-sample index."""
    if axis == 0 or axis < -rank or axis > rank:
        raise ShapeError(f"axis {axis} is out of range for inputs of rank {rank + 1} (batch axis included)")
    return axis - 1 if axis > 0 else rank + axis


def window_output(size: int | None, window: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    """Output length of a sliding window, TensorFlow's rule for 'valid' and 'same' (None stays None)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    effective = dilation * (window - 1) + 1
    return (size - effective) // stride + 1 if size >= effective else 0


def same_padding(size: int | None, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after): the odd pixel goes after. On a free axis (None)
    the stride is 1 (`free_windows` refuses the rest), where the padding does not depend on the length."""
    effective = dilation * (window - 1) + 1
    if size is None:
        total = effective - 1
    else:
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def free_windows(dims: Shape, strides: tuple[int, ...], padding: str) -> None:
    """Refuse a sliding window whose padding would depend on the length of a free axis: TensorFlow's
    'same' padding with strides > 1 (the total is (ceil(n / s) - 1) * s + window - n)."""
    if padding == "same" and any(n is None and s > 1 for n, s in zip(dims, strides)):
        raise ShapeError("padding 'same' with strides > 1 needs a fixed length on that axis (TensorFlow's "
                         "padding depends on it): give the input a fixed length, or use padding 'valid'")


def too_short(out: tuple) -> bool:
    """Whether a window does not fit a fixed axis (a free axis, None, always fits)."""
    return min((n for n in out if n is not None), default=1) <= 0


def require_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"expects {what} (rank {rank + 1} with the batch axis), got {fmt_shape(shape)}")


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def require_fixed(shape: Shape, what: str = "every axis") -> None:
    """ShapeError where a layer needs a fixed size but the shape has a free axis (None)."""
    if any(d is None for d in shape):
        raise ShapeError(f"needs a fixed size on {what}, but its input {fmt_shape(shape)} has a free axis (None)")
