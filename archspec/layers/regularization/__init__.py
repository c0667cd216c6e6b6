"""Regularisation layers: Dropout and its relatives."""
