"""Registered models Altair adds to mmseg's (segmentors; later TTA wrappers, heads, SSL)."""
from altair.models.segmentor import AltairEncoderDecoder

__all__ = ['AltairEncoderDecoder']
