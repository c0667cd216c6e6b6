"""`archspec codegen`: a spec as standalone PyTorch or Keras source that never imports archspec."""

from __future__ import annotations

from archspec.codegen.structure import CodegenError
from archspec.spec.graph import Spec

BACKENDS = ("torch", "keras")


def generate(spec: Spec, backend: str) -> str:
    """The source of one Python module that builds the spec's model in `backend`."""
    if backend == "torch":
        from archspec.codegen.torch_source import generate as torch_generate

        return torch_generate(spec)
    if backend == "keras":
        from archspec.codegen.keras_source import generate as keras_generate

        return keras_generate(spec)
    raise CodegenError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")


__all__ = ["BACKENDS", "CodegenError", "generate"]
