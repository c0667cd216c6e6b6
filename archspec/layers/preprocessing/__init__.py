"""Preprocessing layers that live inside models."""
