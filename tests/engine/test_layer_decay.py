"""Layer-wise LR decay: depths by hand for ViT and ResNet names; the learning rates equal
mmseg's own constructor on the backbone it accepts (mmseg's MAE ViT); a segmentation config
trains a step with it."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from altair.engine.layer_decay import (LayerDecayOptimWrapperConstructor, count_blocks,
                                       layer_id, lr_scale)
from tests.conftest import ROOT


def test_depths_by_hand():
    vit = ['backbone.cls_token', 'backbone.pos_embed', 'backbone.patch_embed.projection.weight',
           'backbone.layers.0.ln1.weight', 'backbone.layers.3.ffn.layers.1.weight',
           'backbone.ln1.weight', 'decode_head.conv_seg.weight']
    assert count_blocks(vit) == 4
    assert [layer_id(n, 4) for n in vit] == [0, 0, 0, 1, 4, 5, 5]
    resnet = ['backbone.stem.0.weight', 'backbone.layer1.0.conv1.weight',
              'backbone.layer4.1.bn2.bias', 'decode_head.psp_modules.0.1.conv.weight']
    assert count_blocks(resnet) == 4
    assert [layer_id(n, 4) for n in resnet] == [0, 1, 4, 5]
    assert [lr_scale(d, 4, 0.5) for d in range(6)] == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1]


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        from mmseg.models.backbones import MAE
        self.backbone = MAE(img_size=(32, 32), patch_size=8, embed_dims=16, num_layers=3,
                            num_heads=2, mlp_ratio=2)
        self.decode_head = nn.Conv2d(16, 4, 1)


def _lr_by_name(optimizer, model) -> dict[str, tuple[float, float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g['lr'], g['weight_decay'])
            for g in optimizer.param_groups for p in g['params']}


def test_learning_rates_equal_mmsegs_constructor_on_its_mae_backbone():
    # mmseg's weight decay is not the reference: it compares un-prefixed names with
    # 'pos_embed' / 'cls_token' and so decays both; ours leaves them, biases and norms alone
    from mmseg.engine.optimizers import LearningRateDecayOptimizerConstructor
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
    model = _Model()
    ours = LayerDecayOptimWrapperConstructor(cfg, dict(layer_decay=0.65))(model).optimizer
    theirs = LearningRateDecayOptimizerConstructor(
        cfg, dict(num_layers=3, decay_rate=0.65, decay_type='layer_wise'))(model).optimizer
    got, want = _lr_by_name(ours, model), _lr_by_name(theirs, model)
    assert got.keys() == want.keys() == {n for n, _ in model.named_parameters()}
    for name, param in model.named_parameters():
        assert got[name][0] == pytest.approx(want[name][0], rel=1e-12), name
        no_decay = param.ndim == 1 or name.endswith(('pos_embed', 'cls_token'))
        assert got[name][1] == (0.0 if no_decay else 0.05), name
    # the embedding trains at 0.65^4 of the head's rate, a norm's weight without decay
    assert got['backbone.patch_embed.projection.weight'][0] == pytest.approx(1e-3 * 0.65 ** 4)
    assert got['backbone.layers.2.ln1.weight'] == pytest.approx((1e-3 * 0.65, 0.0))


@pytest.mark.parametrize('paramwise', [dict(), dict(layer_decay=1.5),
                                       dict(layer_decay=0.7, bias_decay_mult=0)])
def test_bad_options_are_refused_by_name(paramwise):
    with pytest.raises(ValueError, match='layer_decay|bias_decay_mult'):
        LayerDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=dict(
            type='SGD', lr=0.1)), paramwise)


def test_a_vit_segmentation_config_steps_with_it():
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from altair.registry import MODELS
    init_default_scope('altair')
    cfg = Config.fromfile(ROOT / 'configs/fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_'
                          'bluemarble-256x256.py')
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.img_size = (64, 64)
    cfg.model.data_preprocessor.size = (64, 64)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor='LayerDecayOptimWrapperConstructor', paramwise_cfg=dict(layer_decay=0.5)))
    before = model.backbone.patch_embed.projection.weight.detach().clone()
    sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 8, (1, 64, 64))))
    sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)],
                data_samples=[sample])
    model.train_step(data, wrapper)
    assert not torch.equal(before, model.backbone.patch_embed.projection.weight)
    lrs = sorted({g['lr'] for g in wrapper.optimizer.param_groups})
    assert lrs == pytest.approx([1e-3 * 0.5 ** k for k in (5, 4, 3, 2, 1, 0)])
