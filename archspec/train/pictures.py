"""The pictures the seeds draw: training curves, weight histograms and kernels, feature maps."""

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


def _save(plt, fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def plot_history(history: list[dict[str, float]], path: Path, title: str = "") -> Path:
    """Loss / val_loss and accuracy / val_accuracy per epoch, side by side (seed 002's figures)."""
    epochs = [row["epoch"] for row in history]
    keys = sorted({k for row in history for k in row} - {"epoch", "seconds", "learning_rate"})
    groups = [("loss", [k for k in keys if k.endswith("loss")]),
              ("accuracy", [k for k in keys if k.endswith("accuracy")])]
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
