"""Layers that keras.applications defines itself: ConvNeXt's LayerScale, Inception-ResNet's CustomScaleLayer."""
