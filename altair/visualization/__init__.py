"""Turning label maps into pictures."""
from altair.visualization.overlay import blend, colorize

__all__ = ['blend', 'colorize']
