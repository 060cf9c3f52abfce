"""Registered test-time augmentation wrapper for configs and ``tools/test.py --tta``."""
from __future__ import annotations

from typing import Sequence

from mmengine.logging import print_log
from mmengine.model import BaseTTAModel
from torch import Tensor

from altair.inference.tta import default_max_batch, tta_predictor
from altair.models.predictor import composed_predictor, images_per_call
from altair.models.segmentor import slide_logits
from altair.registry import MODELS


@MODELS.register_module()
class AltairTTAModel(BaseTTAModel):
    """Dihedral + multi-scale TTA around a segmentor, batched and merged on the fly.

    Unlike mmseg's ``SegTTAModel`` it needs no ``tta_pipeline``: the views are made from the
    normal test input inside the model (``altair.inference.tta``), each exactly inverted, and
    merged as they come. With the segmentor's ``test_cfg.mode == 'slide'`` the augmentation is
    applied per batch of windows, so a huge image gets TTA in bounded memory.

    Args:
        module: the segmentor (config or module).
        transforms: e.g. ``['d4']`` or ``['hflip', 'vflip', 'rotate90']``.
        scales: input scale factors.
        merge: ``mean``, ``soft_vote``, ``gmean``, ``max`` or ``hard_vote``.
        max_batch: most images per forward pass; ``None``: the fastest per image on this
            machine, measured on the first batch and cached (``altair.inference.autotune``;
            ``ALTAIR_BATCH_PROBE=0``: 2 on the CPU, 16 on GPUs).
    """

    def __init__(self, module: dict, *, transforms: Sequence[str] = ('d4',),
                 scales: Sequence[float] = (1.0,), merge: str = 'soft_vote',
                 max_batch: int | None = None, data_preprocessor: dict | None = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        self.transforms, self.scales = list(transforms), list(scales)
        self.merge, self.max_batch = merge, max_batch
        # fail at build time on bad names, scales or batch
        tta_predictor(lambda x: x, transforms=self.transforms, scales=self.scales, merge=merge,
                      max_batch=max_batch)

    def tta_logits(self, inputs: Tensor) -> Tensor:
        """(N, C, H, W) normalised inputs → (N, K, H, W) merged scores."""
        seg = self.module
        slide = seg.test_cfg.get('mode', 'whole') == 'slide'
        predictor, _ = composed_predictor(
            seg, transforms=self.transforms, scales=self.scales, merge=self.merge,
            max_batch=self.max_batch or self._images_per_call(inputs, slide),
            channels_last=inputs.device.type == 'cpu')
        if slide:
            return slide_logits(inputs, predictor, seg.test_cfg, seg.out_channels)
        return predictor(inputs)

    def _images_per_call(self, inputs: Tensor, slide: bool) -> int:
        """Probed views per forward pass for this input's window (see ``max_batch``)."""
        seg = self.module
        shape = ((inputs.shape[1], *seg.test_cfg['crop_size']) if slide
                 else tuple(inputs.shape[1:]))
        return images_per_call(
            seg, shape=shape, device=inputs.device,
            precision=seg.test_cfg.get('precision', 'auto') if slide else 'fp32',
            channels_last=inputs.device.type == 'cpu', fallback=default_max_batch(inputs.device),
            log=lambda line: print_log(line, logger='current'))

    def test_step(self, data):
        data = self.module.data_preprocessor(data, False)
        logits = self.tta_logits(data['inputs'])
        return self.module.postprocess_result(logits, data['data_samples'])

    def merge_preds(self, data_samples_list):  # pragma: no cover - test_step does the merge
        raise NotImplementedError('AltairTTAModel merges inside test_step')
