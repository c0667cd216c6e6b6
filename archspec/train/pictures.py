"""The pictures the seeds draw: training curves, weight histograms and kernels, feature maps, and a
run's predictions for outputs that are images (segmentation masks, autoencoder reconstructions)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from archspec.fileio import atomic_write_bytes


def _figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (6, 4)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(rows, cols, figsize=size, squeeze=False)


def _save(plt, fig, path: Path, bottom: float = 0.0) -> Path:
    """Write the figure as PNG (atomically); `bottom`: a fraction of the height kept for a figure legend."""
    buffer = io.BytesIO()
    if bottom:
        fig.tight_layout(rect=(0, bottom, 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def plot_history(history: list[dict[str, float]], path: Path, title: str = "") -> Path:
    """Loss / val_loss and accuracy / val_accuracy per epoch, side by side (seed 002's figures), and mse / mae
    when they are metrics."""
    epochs = [row["epoch"] for row in history]
    keys = sorted({k for row in history for k in row} - {"epoch", "seconds", "learning_rate"})
    groups = [("loss", [k for k in keys if k.endswith("loss")]),
              ("accuracy", [k for k in keys if k.endswith("accuracy")]),
              ("mse", [k for k in keys if k.endswith("mse")]),
              ("mae", [k for k in keys if k.endswith("mae")])]
    groups = [(name, ks) for name, ks in groups if ks]
    plt, fig, axes = _figure(1, max(1, len(groups)), (5.5 * max(1, len(groups)), 4))
    for ax, (name, ks) in zip(axes[0], groups):
        for key in ks:
            values = [row.get(key, np.nan) for row in history]
            ax.plot(epochs, values, marker="o", ms=3, linestyle="--" if key.startswith("val_") else "-", label=key)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def plot_weights(name: str, weights: dict[str, np.ndarray], path: Path) -> Path:
    """Histogram of every weight of a layer, and its kernels as a grid when it is a Conv2D."""
    kernel = weights.get("kernel")
    show_grid = kernel is not None and kernel.ndim == 4
    plt, fig, axes = _figure(1, 2 if show_grid else 1, (11 if show_grid else 6, 4.5))
    ax = axes[0][0]
    for key, array in weights.items():
        ax.hist(array.ravel(), bins=60, alpha=0.6, label=f"{key} {list(array.shape)}")
    ax.set_title(f"{name}: weight distribution")
    ax.legend()
    if show_grid:
        kh, kw, cin, cout = kernel.shape
        grid = kernel[:, :, 0, :] if cin else kernel  # the first input channel of each filter
        cols = int(math.ceil(math.sqrt(cout)))
        rows = int(math.ceil(cout / cols))
        canvas = np.full((rows * (kh + 1), cols * (kw + 1)), np.nan)
        for f in range(cout):
            r, c = divmod(f, cols)
            canvas[r * (kh + 1): r * (kh + 1) + kh, c * (kw + 1): c * (kw + 1) + kw] = grid[:, :, f]
        image = axes[0][1].imshow(canvas, cmap="RdBu_r", vmin=-np.nanmax(abs(canvas)), vmax=np.nanmax(abs(canvas)))
        axes[0][1].set_title(f"{cout} kernels {kh}x{kw} (input channel 0)")
        axes[0][1].axis("off")
        fig.colorbar(image, ax=axes[0][1], shrink=0.8)
    return _save(plt, fig, path)


def plot_features(name: str, feature_map: np.ndarray, image: np.ndarray, path: Path) -> Path:
    """The input image beside every channel of one layer's output (H, W, C)."""
    channels = feature_map.shape[-1]
    cols = int(math.ceil(math.sqrt(channels + 1)))
    rows = int(math.ceil((channels + 1) / cols))
    plt, fig, axes = _figure(rows, cols, (1.8 * cols, 1.8 * rows))
    flat = axes.ravel()
    flat[0].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
    flat[0].set_title("input", fontsize=8)
    for c in range(channels):
        flat[c + 1].imshow(feature_map[..., c], cmap="viridis")
        flat[c + 1].set_title(f"{c}", fontsize=7)
    for ax in flat:
        ax.axis("off")
    fig.suptitle(f"{name}: {channels} feature maps")
    return _save(plt, fig, path)


PREDICTION_SAMPLES = 4
# background, then one colour per class (tab10's), so that a class has the same colour in every picture
MASK_COLOURS = ["#ffffff", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


def _image(sample: np.ndarray, channels_first: bool) -> tuple[np.ndarray, str | None]:
    """A sample as imshow takes it (H, W) or (H, W, 3), with its colour map."""
    if channels_first and sample.ndim == 3:
        sample = np.moveaxis(sample, 0, -1)
    if sample.ndim == 3 and sample.shape[-1] == 1:
        return sample[..., 0], "gray"
    return np.clip(sample, 0, 1), None


def plot_predictions(trainer, path: Path, samples: int = PREDICTION_SAMPLES) -> Path | None:
    """The trainer's predictions on the first test samples, for its first output whose target is an image:

    - `mask` (segmentation): input / true mask / predicted mask (arg-max per pixel), one colour per class;
    - `input` (autoencoder): input (noisy, when training.input_noise is set) / clean / reconstructed.

    - `next_value` (forecast): the series and the forecasts of every split, in the series' units.

    Uses the weights the trainer's model holds (Trainer.finish: the best ones). Other outputs
    (labels, next characters) draw nothing: None."""
    if trainer.plans[0].target == "next_value":
        return plot_forecast(trainer, path)
    plan_index = next((i for i, p in enumerate(trainer.plans) if p.target in ("mask", "input")), None)
    if plan_index is None:
        return None
    plan, split = trainer.plans[plan_index], trainer.data.test
    n = min(samples, len(split))
    xs = [x[:n] for x in split.x]
    predicted = trainer.backend.predict(xs, max(n, 1))[plan_index]
    target = trainer.targets["test"][plan_index][:n]
    channels_first = trainer.spec.data_format == "channels_first"
    segmentation = plan.target == "mask"
    noisy = "input" in split.extras
    if segmentation:
        titles = ["input", "true mask", "predicted mask"]
        if plan.loss == "binary_crossentropy":
            names, truth, guess = ["background", "foreground"], target[..., 0] > 0.5, predicted[..., 0] > 0.5
        else:
            truth = target.argmax(-1) if target.ndim == predicted.ndim else target
            guess = predicted.argmax(-1)
            classes = trainer.data.classes or [str(k) for k in range(1, plan.units)]
            names = ["background", *classes][: plan.units]
            names += [str(k) for k in range(len(names), plan.units)]
    else:
        titles = ["noisy input" if noisy else "input", "clean (target)", "reconstructed"]
    plt, fig, axes = _figure(n, 3, (7.5, 2.4 * n + 0.6))
    from matplotlib.colors import ListedColormap

    for row in range(n):
        image, cmap = _image(xs[0][row], channels_first)
        axes[row][0].imshow(image, cmap=cmap, vmin=0, vmax=1)
        if segmentation:
            colours = ListedColormap([MASK_COLOURS[k % len(MASK_COLOURS)] for k in range(len(names))])
            for col, mask in ((1, truth[row]), (2, guess[row])):
                axes[row][col].imshow(mask.astype(int), cmap=colours, vmin=-0.5, vmax=len(names) - 0.5,
                                      interpolation="nearest")
            score = f"pixel accuracy {np.mean(truth[row] == guess[row]):.3f}"
        else:
            for col, array in ((1, target[row]), (2, predicted[row])):
                shown, cmap = _image(array, channels_first)
                axes[row][col].imshow(shown, cmap=cmap, vmin=0, vmax=1)
            score = f"mse {np.mean((predicted[row] - target[row]) ** 2):.4f}"
        axes[row][2].set_xlabel(score, fontsize=8)
        for col in range(3):
            axes[row][col].set_xticks([])
            axes[row][col].set_yticks([])
            if row == 0:
                axes[row][col].set_title(titles[col], fontsize=10)
    if segmentation:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=MASK_COLOURS[k % len(MASK_COLOURS)], edgecolor="black", label=name)
                   for k, name in enumerate(names)]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"{trainer.spec.name} ({trainer.backend_name}): output '{plan.name}' on test samples")
    return _save(plt, fig, path, bottom=0.6 / (2.4 * n + 0.6) if segmentation else 0.0)


def plot_forecast(trainer, path: Path) -> Path:
    """The series (the first forecast step of every window) against the model's forecasts for it, in the
    series' units, with the test split's mean absolute error; train, validation and test shaded apart."""
    info = trainer.data.sequence
    scale, shift = info["std"], info["mean"]
    plt, fig, axes = _figure(1, 1, (10, 4.2))
    ax = axes[0][0]
    splits = [("train", trainer.data.train), ("validation", trainer.data.val), ("test", trainer.data.test)]
    colours = {"train": "#1f77b4", "validation": "#2ca02c", "test": "#d62728"}
    for name, split in splits:
        if split is None or not len(split):
            continue
        predicted = trainer.backend.predict(split.x, 256)[0][:, 0] * scale + shift
        truth = split.labels[:, 0] * scale + shift
        times = split.extras["time"]
        ax.plot(times, truth, color="black", lw=1, label="truth" if name == "train" else None)
        ax.plot(times, predicted, color=colours[name], lw=1.2, label=f"forecast ({name})")
        if name == "test":
            ax.set_title(f"{trainer.spec.name} ({trainer.backend_name}): {info['window']} steps -> the next "
                         f"{info['horizon']}; test mae {np.mean(np.abs(predicted - truth)):.2f} (first step)")
        ax.axvspan(times[0], times[-1], color=colours[name], alpha=0.06)
    ax.set_xlabel("time" if info["name"] != "sunspots" else "year")
    ax.set_ylabel(info["unit"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)
