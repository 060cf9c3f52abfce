"""Altair: semantic segmentation on mmsegmentation for images larger than memory.

The public Python API (``train``, ``test``, ``predict``, ``Run``) lands with the run store;
until then use ``altair.api`` or the ``altair`` command.
"""
from altair.version import __version__

__all__ = ['__version__']
