"""Quantized anomaly-model bundles and the code that trains and exports them."""
