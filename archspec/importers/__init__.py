"""Bring a model in: Keras (`.keras`, `.h5`, keras.applications) and PyTorch modules become specs.

Each importer reads its source into an `ImportedGraph` (graph.py); `emit` writes that graph as a
readable spec (blocks folded, defaults left out) plus its neutral weights file.
"""
