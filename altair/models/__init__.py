"""Registered models Altair adds to mmseg's: the segmentor, the TTA wrapper and losses."""
from altair.models.losses import AutoWeightCrossEntropyLoss, SoftmaxFocalLoss
from altair.models.segmentor import AltairEncoderDecoder
from altair.models.tta import AltairTTAModel

__all__ = ['AltairEncoderDecoder', 'AltairTTAModel', 'AutoWeightCrossEntropyLoss',
           'SoftmaxFocalLoss']
