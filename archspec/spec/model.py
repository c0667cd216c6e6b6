"""The top level of a spec file, as pydantic models.

Layer entries stay plain dicts at this level: blocks must be expanded (and `$param`
values substituted) before each entry is validated against its layer type.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from archspec.layers.base import DataFormat
from archspec.train.config import Training

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


InputDtype = Literal["float32", "int32", "int64"]


class InputDef(BaseModel):
    """A model input: its name, per-sample shape (batch axis excluded; `null` on a free axis)
    and dtype (integer inputs feed Embedding)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=IDENTIFIER, max_length=200)
    shape: list[int | None] = Field(..., min_length=1, max_length=8,
                                    description="Per-sample shape; null marks a free axis (a sequence's length).")
    dtype: InputDtype = Field("float32", description="float32, or int32/int64 for token ids.")

    @model_validator(mode="after")
    def _positive(self):
        if any(d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1) for d in self.shape):
            raise ValueError("every dimension of shape must be a positive integer or null (a free axis)")
        return self


class BlockDef(BaseModel):
    """A reusable group of layers, expanded wherever a layer entry says `block: <name>`."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters and their defaults (null: required).")
    layers: list[dict[str, Any]] = Field(..., min_length=1)


class BaseDef(BaseModel):
    """Transfer learning: reuse another spec's layers (with trained weights) as this spec's start."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(..., description="Path of the base spec, relative to this file.")
    up_to: str = Field(..., description="Last base layer to keep (its output feeds this spec's first layer).")
    weights: str | None = Field(None, description="Trained weights: a run directory or a .safetensors file.")
    trainable: bool = Field(False, description="false freezes the base layers.")


class SpecFile(BaseModel):
    """One spec file, before block expansion and graph resolution."""

    model_config = ConfigDict(extra="forbid")

    archspec: Literal[1] = Field(1, description="Format version.")
    name: str | None = Field(None, pattern=IDENTIFIER, max_length=200, description="Default: the file's stem.")
    description: str = ""
    data_format: DataFormat = "channels_last"
    inputs: list[InputDef] | None = Field(None, min_length=1)
    input_shape: list[int] | None = Field(None, min_length=1, description="Shorthand for one input named 'input'.")
    layers: list[dict[str, Any]] = Field(..., min_length=1)
    outputs: list[str] | None = Field(None, min_length=1, description="Layer names. Default: the last layer.")
    classes: list[str] | None = Field(None, min_length=1, description="Class names of the (first) output.")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    training: Training | None = Field(None, description="How `archspec train` trains the model.")
    base: BaseDef | None = Field(None, description="Transfer learning: another spec's layers up to a named layer.")

    @model_validator(mode="before")
    @classmethod
    def _outputs_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("outputs"), str):
            data = {**data, "outputs": [data["outputs"]]}
        return data

    @model_validator(mode="after")
    def _one_way_to_give_inputs(self):
        if self.inputs is None and self.input_shape is None and self.base is None:
            raise ValueError("a spec needs 'inputs' (or the shorthand 'input_shape')")
        if self.inputs is not None and self.input_shape is not None:
            raise ValueError("give either 'inputs' or 'input_shape', not both")
        if self.input_shape is not None and any(not isinstance(d, int) or d < 1 for d in self.input_shape):
            raise ValueError("every dimension of input_shape must be a positive integer")
        return self

    def input_defs(self) -> list[InputDef]:
        if self.inputs is None and self.input_shape is None:
            return []  # a transfer-learning spec takes its base's inputs
        return self.inputs if self.inputs is not None else [InputDef(name="input", shape=self.input_shape)]
