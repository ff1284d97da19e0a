"""Convolutional VAEs trained on data with known factors (PyTorch, imported lazily)."""
