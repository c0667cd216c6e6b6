"""The `training` section of a spec: data, optimizer, losses, metrics, callbacks, augmentation.

Framework-free: both backends read the same validated config, with Keras's defaults
(Adam's epsilon 1e-7, RMSprop's rho 0.9, EarlyStopping's monitor val_loss, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

LossName = Literal[
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse", "mae",
]
_LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}
MetricName = Literal["accuracy", "mse", "mae"]
TargetName = Literal["label", "parity", "one_hot", "mask", "input", "next_token", "next_value"]
IMAGE_TARGETS = ("mask", "input")  # targets that are images, not values derived from the label
SEQUENCE_TARGETS = ("next_token", "next_value")  # targets cut from a text or a series with its inputs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


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


_MONITOR = "A logged value, e.g. val_loss or val_accuracy (without validation data: its training value)."
_MODE = ("Whether the monitored value should go down (min) or up (max); auto: min for losses, up for accuracy, "
         "down for mse and mae.")


class EarlyStopping(_Strict):
    """keras.callbacks.EarlyStopping: stop when the monitored value stops improving."""

    monitor: str = Field("val_loss", description=_MONITOR)
    patience: int = Field(0, ge=0, description="Epochs without improvement after which training stops.")
    min_delta: float = Field(0.0, ge=0, description="An improvement must beat the best value by more than this.")
    mode: Literal["auto", "min", "max"] = Field("auto", description=_MODE)
    restore_best_weights: bool = Field(False, description="At the end of training (stopped early or not), go back to "
                                                          "the weights of the best epoch.")
    baseline: float | None = Field(None, description="Epochs count towards `patience` until the monitored value "
                                                     "beats this (by more than min_delta), even when they improve.")
    start_from_epoch: int = Field(0, ge=0, description="Warm-up epochs that are not monitored.")


class Checkpoint(_Strict):
    """keras.callbacks.ModelCheckpoint(save_best_only=True): which epoch's weights are the run's best
    (`weights.safetensors`)."""

    monitor: str = Field("val_loss", description=_MONITOR)
    mode: Literal["auto", "min", "max"] = Field("auto", description=_MODE)
    initial_value_threshold: float | None = Field(None, description="Only an epoch that beats this value is saved.")


class ReduceLROnPlateau(_Strict):
    """keras.callbacks.ReduceLROnPlateau: lower the learning rate when the monitored value stops improving."""

    monitor: str = Field("val_loss", description=_MONITOR)
    factor: float = Field(0.1, gt=0, lt=1, description="new learning rate = learning rate * factor.")
    patience: int = Field(10, ge=0, description="Epochs without improvement after which the learning rate is lowered.")
    min_delta: float = Field(1e-4, ge=0, description="An improvement must beat the best value by more than this.")
    min_lr: float = Field(0.0, ge=0, description="The learning rate goes no lower.")
    mode: Literal["auto", "min", "max"] = Field("auto", description=_MODE)
    cooldown: int = Field(0, ge=0, description="Epochs after a reduction during which no epoch counts towards "
                                               "`patience`.")


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


class InputNoise(_Strict):
    """Gaussian noise added to the inputs of every split (train, validation, test), drawn once per sample
    from the run's seed, like keras.io's denoising autoencoder (`x + noise_factor * normal`, clipped to
    [0, 1]). With `targets: {<output>: input}` the model learns to give back the clean input."""

    stddev: float = Field(gt=0, description="Standard deviation of the noise (keras.io's noise_factor, 0.4).")
    clip: tuple[float, float] | None = Field((0.0, 1.0), description="Clip the noisy inputs to [low, high]; "
                                                                      "null: no clipping.")

    @model_validator(mode="after")
    def _ordered(self) -> "InputNoise":
        if self.clip is not None and self.clip[0] >= self.clip[1]:
            raise ValueError(f"clip: expected [low, high] with low < high, got {list(self.clip)}")
        return self


# a bare number is the noise's stddev; the callable discriminator keeps errors to the form that was written
_NoiseOrNumber = Annotated[
    Union[Annotated[float, Field(gt=0), Tag("stddev")], Annotated[InputNoise, Tag("mapping")]],
    Discriminator(lambda v: "stddev" if isinstance(v, (int, float)) and not isinstance(v, bool) else "mapping"),
]


class Windows(_Strict):
    """How a text or a series is cut into samples for the targets next_token and next_value.

    Windows are split in time order (train, then validation, then test; no window's targets overlap
    another split's), never shuffled across that order."""

    length: int | None = Field(None, ge=1, description="Steps per window; default: the input's fixed length.")
    stride: int | None = Field(None, ge=1, description="Steps from one window's start to the next; default: 1 for a "
                                                       "series, the window's length for a text.")
    horizon: int | None = Field(None, ge=1, description="next_value: values forecast after each window (the output's "
                                                        "units); default: the output's units.")
    normalize: Literal["standard", "none"] = Field(
        "standard", description="next_value: standard scales inputs and targets by the training part's mean and std "
                                "(stated in run.json); predictions are given back in the series' units.")
    column: str | int | None = Field(None, description="A CSV series with several columns: the column's header or "
                                                       "0-based index.")


class Training(_Strict):
    data: str | None = Field(None, description="mnist5k, digits, shapes, pima, mnist, fashion_mnist, sunspots, "
                                               "python_docs, or a path (.csv, .npz, .txt, a folder).")
    keep_labels: list[int] | None = Field(None, description="Train on these labels only (renumbered 0..k-1).")
    standardize: bool = Field(False, description="Scale each input feature to mean 0, std 1 (fitted on train).")
    test_split: float = Field(0.2, gt=0, lt=1, description="Held-out fraction when the data has no test split.")
    validation_split: float = Field(0.2, ge=0, lt=1, description="Last fraction of the training samples.")
    validation_data: str | None = Field(None, description="A validation set of its own (replaces validation_split).")
    optimizer: Optimizer = Field(default_factory=Adam)
    loss: LossName | dict[str, LossName] | None = Field(None, description="Default: from each output's activation.")
    loss_weights: dict[str, float] | None = None
    metrics: list[MetricName] = Field(default_factory=lambda: ["accuracy"])
    targets: dict[str, TargetName] = Field(
        default_factory=dict,
        description="Per output: label (default), parity, one_hot (derived from the label), mask (the data's "
                    "per-pixel masks, e.g. the generated shapes'), input (the clean input: autoencoders), "
                    "next_token (a text's next character at every step) or next_value (a series' next values).")
    windows: Windows | None = Field(None, description="next_token / next_value: how the text or series is cut into "
                                                      "windows (length, stride, horizon, normalize, column).")
    input_noise: _NoiseOrNumber | None = Field(
        None, description="Noise on the inputs (denoising): a standard deviation, or {stddev, clip}.")
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

    @model_validator(mode="after")
    def _image_targets(self) -> "Training":
        if isinstance(self.input_noise, (int, float)):
            self.input_noise = InputNoise(stddev=self.input_noise)
        images = sorted({t for t in self.targets.values() if t in IMAGE_TARGETS})
        if images and self.augmentation is not None and self.augmentation.active:
            raise ValueError(f"augmentation moves the input images but not the target{'s' if len(images) > 1 else ''} "
                             f"{' and '.join(repr(t) for t in images)}; leave augmentation out with these targets")
        sequences = sorted({t for t in self.targets.values() if t in SEQUENCE_TARGETS})
        if len(sequences) > 1 or (sequences and len(self.targets) > 1):
            raise ValueError(f"targets: {sequences[0]} cuts the samples from a text or a series; it is the one "
                             f"target of a model with one output, not one of {dict(self.targets)}")
        if self.windows is not None and not sequences:
            raise ValueError("windows applies to the targets next_token and next_value; set training.targets: "
                             "{<output>: next_token} (a text) or {<output>: next_value} (a series)")
        if sequences and (self.augmentation is not None and self.augmentation.active or self.input_noise is not None
                          or self.keep_labels):
            raise ValueError(f"target {sequences[0]} takes windows of a text or a series: augmentation, input_noise "
                             "and keep_labels do not apply")
        return self
