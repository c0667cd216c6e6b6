"""The `training` section of a spec: data, optimizer, losses, metrics, callbacks, augmentation.

Framework-free: both backends read the same validated config, with Keras's defaults
(Adam's epsilon 1e-7, RMSprop's rho 0.9, EarlyStopping's monitor val_loss, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

LossName = Literal[
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse", "mae",
]
_LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}
MetricName = Literal["accuracy", "mse", "mae"]
TargetName = Literal["label", "parity", "one_hot"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Adam(_Strict):
    type: Literal["adam"] = "adam"
    learning_rate: float = Field(0.001, gt=0)
    beta_1: float = Field(0.9, ge=0, lt=1)
    beta_2: float = Field(0.999, ge=0, lt=1)
    epsilon: float = Field(1e-7, gt=0)


class AdamW(Adam):
    type: Literal["adamw"] = "adamw"
    weight_decay: float = Field(0.004, ge=0)


class SGD(_Strict):
    type: Literal["sgd"] = "sgd"
    learning_rate: float = Field(0.01, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False


class RMSprop(_Strict):
    type: Literal["rmsprop"] = "rmsprop"
    learning_rate: float = Field(0.001, gt=0)
    rho: float = Field(0.9, ge=0, lt=1)
    epsilon: float = Field(1e-7, gt=0)


Optimizer = Annotated[Union[Adam, AdamW, SGD, RMSprop], Field(discriminator="type")]
_DEFAULT_OPTIMIZERS = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop}


class EarlyStopping(_Strict):
    monitor: str = "val_loss"
    patience: int = Field(0, ge=0)
    min_delta: float = Field(0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = False


class Checkpoint(_Strict):
    """Which epoch's weights are the run's best (`weights.safetensors`)."""

    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"


class ReduceLROnPlateau(_Strict):
    monitor: str = "val_loss"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(10, ge=0)
    min_delta: float = Field(1e-4, ge=0)
    min_lr: float = Field(0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"


class Callbacks(_Strict):
    early_stopping: EarlyStopping | None = None
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    reduce_lr_on_plateau: ReduceLROnPlateau | None = None


class Augmentation(_Strict):
    """ImageDataGenerator's random transforms, applied on the fly to training images."""

    rotation_range: float = Field(0.0, ge=0, le=180, description="Degrees.")
    width_shift_range: float = Field(0.0, ge=0, lt=1, description="Fraction of the width.")
    height_shift_range: float = Field(0.0, ge=0, lt=1, description="Fraction of the height.")
    shear_range: float = Field(0.0, ge=0, description="Shear angle in degrees.")
    zoom_range: float | tuple[float, float] = Field(0.0, description="[1 - z, 1 + z], or [lower, upper].")
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: Literal["nearest", "constant", "reflect", "wrap"] = "nearest"
    cval: float = 0.0

    @property
    def zoom_bounds(self) -> tuple[float, float]:
        if isinstance(self.zoom_range, tuple):
            return self.zoom_range
        return 1 - self.zoom_range, 1 + self.zoom_range

    @property
    def active(self) -> bool:
        return any([self.rotation_range, self.width_shift_range, self.height_shift_range, self.shear_range,
                    self.zoom_bounds != (1.0, 1.0), self.horizontal_flip, self.vertical_flip])


class Training(_Strict):
    data: str | None = Field(None, description="mnist5k, digits, shapes, mnist, fashion_mnist, or a path.")
    keep_labels: list[int] | None = Field(None, description="Train on these labels only (renumbered 0..k-1).")
    standardize: bool = Field(False, description="Scale each input feature to mean 0, std 1 (fitted on train).")
    test_split: float = Field(0.2, gt=0, lt=1, description="Held-out fraction when the data has no test split.")
    validation_split: float = Field(0.2, ge=0, lt=1, description="Last fraction of the training samples.")
    validation_data: str | None = Field(None, description="A validation set of its own (replaces validation_split).")
    optimizer: Optimizer = Field(default_factory=Adam)
    loss: LossName | dict[str, LossName] | None = Field(None, description="Default: from each output's activation.")
    loss_weights: dict[str, float] | None = None
    metrics: list[MetricName] = Field(default_factory=lambda: ["accuracy"])
    targets: dict[str, TargetName] = Field(default_factory=dict, description="Per output: derived from the label.")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    shuffle: bool = True
    seed: int = 0
    callbacks: Callbacks = Field(default_factory=Callbacks)
    augmentation: Augmentation | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("optimizer"), str):
            name = data["optimizer"].lower()
            data["optimizer"] = {"type": name} if name in _DEFAULT_OPTIMIZERS else data["optimizer"]
        loss = data.get("loss")
        if isinstance(loss, str):
            data["loss"] = _LOSS_ALIASES.get(loss, loss)
        elif isinstance(loss, dict):
            data["loss"] = {k: _LOSS_ALIASES.get(v, v) if isinstance(v, str) else v for k, v in loss.items()}
        return data
