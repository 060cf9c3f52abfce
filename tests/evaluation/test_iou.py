import math

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from altair.evaluation.iou import ClassIoUMetric


def test_per_class_iou_matches_hand_computation():
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    pred = torch.tensor([[0, 0, 1, 1]])
    gt = torch.tensor([[0, 1, 1, 1]])
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=pred)
    s.gt_sem_seg = PixelData(data=gt)
    metric.process([], [s.to_dict()])
    out = metric.compute_metrics(metric.results)
    # a: I=1, U=2 -> 50 %; b: I=2, U=3 -> 66.67 %; c absent -> NaN
    assert out['IoU.a'] == 50.0 and out['IoU.b'] == 66.67 and math.isnan(out['IoU.c'])
    assert np.isclose(out['mIoU'], round((50 + 200 / 3) / 2, 2), atol=0.01)
