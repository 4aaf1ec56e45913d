"""Adaptive weighted loss for sequential recommendation on sparse domains (arXiv 2510.04375)."""

__version__ = "0.1.0"
