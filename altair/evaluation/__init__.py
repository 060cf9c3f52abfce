"""Metrics mmseg lacks or does not return."""
from altair.evaluation.iou import ClassIoUMetric

__all__ = ['ClassIoUMetric']
