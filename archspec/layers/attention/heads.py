"""What MultiHeadAttention and GroupQueryAttention share: the attention mask Keras builds from
its inputs' masks and its call flags, and multi-head scaled dot-product attention, computed on
whichever of Keras's two paths Keras takes.

Keras 3.15 (TensorFlow backend) attends in one of two ways, and they differ where a query
position may attend to nothing (a padded query step):

- `ops.dot_product_attention` (no dropout, inputs of rank 3): the logits `(q . k) * scale` are
  replaced by -0.7 * 3.38953e38 where masked; a fully masked row becomes a uniform average;
- otherwise (dropout, or attention over the axes of a rank-4+ input): `(q * scale) . k`, then
  `keras.layers.Softmax` with the mask: -1e9 where masked, and the probabilities zeroed where
  masked afterwards, so a fully masked row attends to nothing.
"""

from __future__ import annotations

import string
from typing import Any

from archspec.layers.base import ShapeError

# the value Keras's TensorFlow dot_product_attention writes over masked logits (float32)
DOT_PRODUCT_FILL = -0.7 * 3.38953e38
# the value keras.layers.Softmax writes over masked inputs (float32)
SOFTMAX_FILL = -1e9


def attention_equations(rank: int, axes: tuple[int, ...]) -> tuple[str, str]:
    """(scores, combine) einsum equations of Keras's multi-head attention, for projected tensors
    of `rank` axes (batch, ..., heads, channels) attending over `axes`.

    scores: key, query -> (batch dims and heads, query's attention axes, key's attention axes);
    combine: probabilities, value -> the query's layout. Keras's letters and order, so that masks
    broadcast onto the scores exactly as in Keras."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank) if i not in axes and i != rank - 1]
    renamed = iter(letters[rank:])
    source = "".join(target[i] if (i in batch or i == rank - 1) else next(renamed) for i in range(rank))
    product = "".join([target[i] for i in batch] + [target[i] for i in axes] + [source[i] for i in axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}"


def check_axes(axes: tuple[int, ...], query: tuple, other: tuple, what: str) -> None:
    """The axes that are not attended over (nor features) must agree between query and key/value."""
    for i in range(len(query) - 1):
        if (i + 1) not in axes and None not in (query[i], other[i]) and query[i] != other[i]:
            raise ShapeError(f"attends over axes {list(axes)}, so the query and the {what} must agree on "
                             f"axis {i + 1}, got {query[i]} and {other[i]}")


def attention_mask(query, value, masks: list | None, causal: bool, window: int | None):
    """Keras's `_compute_attention_mask`: the query mask as (B, T, 1), the value and key masks as
    (B, 1, S), the causal and sliding-window masks as (1, T, S) from the inputs' lengths on axis 1,
    all ANDed; None where there is nothing to mask."""
    import torch

    q_mask, v_mask, k_mask = ([*(masks or ())] + [None] * 3)[:3]
    parts = []
    if q_mask is not None:
        parts.append(q_mask.unsqueeze(-1))
    for m in (v_mask, k_mask):
        if m is not None:
            parts.append(m.unsqueeze(-2))
    if causal or window is not None:
        # built from the runtime lengths, so that an exported graph keeps them free
        rows = torch.arange(query.shape[1], device=query.device)[:, None]
        cols = torch.arange(value.shape[1], device=query.device)[None, :]
        if causal:
            parts.append((rows >= cols)[None])
        if window is not None:
            parts.append(((rows - cols).abs() < window)[None])
    if not parts:
        return None
    mask = parts[0]
    for part in parts[1:]:
        mask = mask & part
    return mask


def project(x, kernel, bias, heads: int, size: int):
    """Keras's EinsumDense `...d,dnh->...nh` (+ bias) with the kernel held as (heads * size, d)."""
    import torch.nn.functional as F

    return F.linear(x, kernel, bias).unflatten(-1, (heads, size))


def attend(module: Any, q, k, v, mask, scale: float, dropout: float):
    """Attention of projected q (..., heads, key size) over k and v, on Keras's path (see above).

    `module` carries `fast` (Keras's dot_product_attention path), the two equations and the
    number of attention axes (torch_setup)."""
    import torch
    import torch.nn.functional as F

    if module.fast:
        logits = torch.einsum(module.scores_equation, k, q) * scale
        if mask is not None:
            while mask.dim() < 4:
                mask = mask.unsqueeze(-3)
            logits = torch.where(mask, logits, DOT_PRODUCT_FILL)
        return torch.einsum(module.combine_equation, torch.softmax(logits, dim=-1), v)
    scores = torch.einsum(module.scores_equation, k, q * scale)
    n = module.attention_rank
    if mask is not None:
        while mask.dim() < scores.dim():
            mask = mask.unsqueeze(-2 * n - 1)
        scores = torch.where(mask, scores, SOFTMAX_FILL)
    if n == 1:
        probs = torch.softmax(scores, dim=-1)
    else:  # keras.layers.Softmax over several axes
        dims = tuple(range(-n, 0))
        probs = torch.exp(scores - torch.logsumexp(scores, dim=dims, keepdim=True))
    if mask is not None:
        probs = torch.where(mask, probs, 0.0)
    if module.training and dropout > 0:
        probs = F.dropout(probs, dropout, True)
    return torch.einsum(module.combine_equation, probs, v)


def project_out(x, kernel, bias, out: tuple[int, ...]):
    """Keras's `attention_output` EinsumDense `...nh,nh<out>->...<out>`, kernel held as (prod(out), n * h)."""
    import torch.nn.functional as F

    y = F.linear(x.flatten(-2), kernel, bias)
    return y.unflatten(-1, out) if len(out) > 1 else y
