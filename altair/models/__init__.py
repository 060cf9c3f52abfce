"""Registered models Altair adds to mmseg's (segmentors, TTA wrappers, heads, self-supervised).

The foundation adds none yet: PSPNet, DeepLabV3+ and SegFormer come from mmseg.
"""
