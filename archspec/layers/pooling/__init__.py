"""Pooling: local windows, global, adaptive."""
