"""Make `import torchvision` work where its C++ extension cannot load.

The only torchvision 0.28.0 wheel the project can install is the CUDA build; next to the CPU
build of torch its `_C.so` does not load. torchvision then still imports its Python code, but
`torchvision/_meta_registrations.py` and `_autograd_registrations.py` register fake kernels
and autograd formulas for its operators (`torchvision::nms`, `roi_align`, ...), and
`torch.library` refuses those registrations for an operator that does not exist: the import
fails with "operator torchvision::nms does not exist".

Classification models use none of these operators. `ensure_torchvision()` declares their
schemas (as torchvision's C++ code declares them, csrc/ops/*.cpp) with no kernel, so that the
registrations succeed; calling one of them (detection models, `torchvision.ops.nms`) still
fails, with torch's "no kernel" error. Where the extension loads, nothing is declared.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# torchvision's operator schemas (torchvision 0.28, csrc/ops/*.cpp)
SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "box_iou_rotated(Tensor boxes1, Tensor boxes2) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "SymInt batch_size, SymInt channels, SymInt height, SymInt width, int sampling_ratio, bool aligned) -> Tensor",
    "qroi_align(Tensor input, Tensor rois, float input_scale, int input_zero_point, float rois_scale, "
    "int rois_zero_point, float spatial_scale, SymInt pooled_height, SymInt pooled_width, int sampling_ratio, "
    "bool aligned) -> Tensor",
    "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
    "-> (Tensor, Tensor)",
    "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
    "-> (Tensor, Tensor)",
    "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, "
    "SymInt width) -> Tensor",
    "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, SymInt stride_h, "
    "SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, SymInt groups, "
    "SymInt offset_groups, bool use_mask) -> Tensor",
    "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
    "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, "
    "SymInt groups, SymInt offset_groups, bool use_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
)

# the library object owns the declarations: they last as long as it does
_library = None


def ensure_torchvision() -> bool:
    """Prepare torch for `import torchvision`; True when the schemas had to be declared here."""
    global _library
    if "torchvision" in sys.modules or _library is not None:
        return False
    found = importlib.util.find_spec("torchvision")
    if found is None or not found.submodule_search_locations:
        return False  # not installed: the import itself says so
    import torch

    extension = next(Path(found.submodule_search_locations[0]).glob("_C.*"), None)
    if extension is not None:
        try:
            torch.ops.load_library(str(extension))
            return False
        except OSError:
            pass
    library = torch.library.Library("torchvision", "DEF")
    for schema in SCHEMAS:
        library.define(schema)
    _library = library
    return True


def import_torchvision():
    """`import torchvision`, with the schemas declared first where its extension cannot load."""
    ensure_torchvision()
    import torchvision

    return torchvision
