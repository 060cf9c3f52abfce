"""Registered models Altair adds to mmseg's: the segmentor and the TTA wrapper."""
from altair.models.segmentor import AltairEncoderDecoder
from altair.models.tta import AltairTTAModel

__all__ = ['AltairEncoderDecoder', 'AltairTTAModel']
