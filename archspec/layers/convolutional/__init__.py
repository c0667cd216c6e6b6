"""Convolutions: Keras`s layers/convolutional."""
