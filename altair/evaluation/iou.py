"""IoU metric that also reports the per-class IoU it computes."""
from __future__ import annotations

import numpy as np
from mmseg.evaluation.metrics import IoUMetric

from altair.registry import METRICS


@METRICS.register_module()
class ClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` whose result also holds ``IoU.<class>`` (percent) per class.

    mmseg only logs the per-class table; returning it lets tools, the demo and metrics files
    keep it. Classes absent from both prediction and ground truth get NaN.
    """

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        intersect = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = (intersect.double() / union.double()).numpy() * 100
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = float(np.round(value, 2))
        return metrics
