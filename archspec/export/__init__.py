"""Exports of a trained (or seeded) spec: ONNX from either backend."""
