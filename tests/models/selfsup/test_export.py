"""Exported self-supervised backbones load into mmseg's backbone with nothing missing or left
over, and the loaded tensors are the exported ones."""
from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope

from altair.models.selfsup.export import backbone_state, export_backbone
from altair.registry import MODELS

SEG_BACKBONE = dict(type='ResNetV1c', depth=18, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
                    strides=(1, 2, 1, 1), contract_dilation=True, norm_cfg=dict(type='BN'))


def test_prefix_selects_the_student_backbone_only():
    state = {'backbone.a': 1, 'teacher.backbone.a': 2, 'neck.b': 3}
    assert backbone_state(state) == {'a': 1}


def test_simclr_resnet_exports_into_the_pspnet_backbone(tmp_path):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        ssl = MODELS.build(dict(
            type='mmpretrain.SimCLR',
            backbone=dict(type='mmpretrain.ResNetV1c', depth=18, out_indices=(3,)),
            neck=dict(type='mmpretrain.NonLinearNeck', in_channels=512, hid_channels=64,
                      out_channels=32, num_layers=2, with_avg_pool=True),
            head=dict(type='mmpretrain.ContrastiveHead',
                      loss=dict(type='mmpretrain.CrossEntropyLoss'), temperature=0.1),
            data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor')))
        seg = MODELS.build(SEG_BACKBONE)
    with torch.no_grad():  # make every tensor distinct from a fresh init
        for p in ssl.backbone.parameters():
            p.add_(torch.randn_like(p))
    torch.save({'state_dict': ssl.state_dict(), 'meta': {}}, tmp_path / 'ssl.pth')
    out = export_backbone(tmp_path / 'ssl.pth', tmp_path / 'backbone.pth')
    exported = torch.load(out, weights_only=True)['state_dict']
    result = seg.load_state_dict(exported, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    source = ssl.backbone.state_dict()
    torch.testing.assert_close(seg.stem[0].weight, source['stem.0.conv.weight'])
    torch.testing.assert_close(seg.stem[4].running_mean, source['stem.1.bn.running_mean'])
    for key, value in seg.state_dict().items():
        assert torch.equal(value, exported[key])
    # the same through mmengine's init_cfg, as a segmentation config does it
    with DefaultScope.overwrite_default_scope('altair'):
        seg2 = MODELS.build(dict(SEG_BACKBONE, init_cfg=dict(type='Pretrained',
                                                              checkpoint=str(out))))
    seg2.init_weights()
    assert all(torch.equal(v, exported[k]) for k, v in seg2.state_dict().items())


def test_export_errors(tmp_path):
    torch.save({'state_dict': {'encoder.w': torch.zeros(1)}}, tmp_path / 'x.pth')
    with pytest.raises(KeyError, match="no weights under 'backbone.' in .*x.pth; its keys "
                                       r"start with \['encoder'\]"):
        export_backbone(tmp_path / 'x.pth', tmp_path / 'y.pth')
    with pytest.raises(KeyError, match="unknown conversion 'vit'; choose one of"):
        export_backbone(tmp_path / 'x.pth', tmp_path / 'y.pth', convert='vit')
    assert not (tmp_path / 'y.pth').exists()


def test_export_tool(tmp_path, capsys):
    """The tool as a script; its bad-input case through its main() in this process."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    torch.save({'state_dict': {'backbone.stem.0.conv.weight': torch.ones(2),
                               'backbone.layer1.0.conv1.weight': torch.zeros(3)}},
               tmp_path / 'ssl.pth')
    proc = subprocess.run([sys.executable, 'tools/export_backbone.py', str(tmp_path / 'ssl.pth'),
                           str(tmp_path / 'out.pth')], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    state = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert sorted(state) == ['layer1.0.conv1.weight', 'stem.0.weight']
    spec = importlib.util.spec_from_file_location('export_backbone',
                                                  root / 'tools/export_backbone.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    capsys.readouterr()
    assert tool.main([str(tmp_path / 'no.pth'), str(tmp_path / 'out2.pth')]) == 2
    err = capsys.readouterr().err
    assert "checkpoint '" in err and 'no.pth' in err and not (tmp_path / 'out2.pth').exists()


def test_mae_vit_exports_into_mmseg_vision_transformer(tmp_path):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        mae_vit = MODELS.build(dict(type='mmpretrain.MAEViT', img_size=64, patch_size=8,
                                    mask_ratio=0.75, arch=dict(embed_dims=192, num_layers=2,
                                                               num_heads=3,
                                                               feedforward_channels=768)))
        seg = MODELS.build(dict(type='VisionTransformer', img_size=(64, 64), patch_size=8,
                                embed_dims=192, num_layers=2, num_heads=3, mlp_ratio=4,
                                out_indices=(1,), final_norm=True, patch_bias=True))
    mae_vit.init_weights()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in mae_vit.state_dict().items()}},
               tmp_path / 'mae.pth')
    out = export_backbone(tmp_path / 'mae.pth', tmp_path / 'vit.pth', convert='mmpretrain_vit')
    exported = torch.load(out, weights_only=True)['state_dict']
    result = seg.load_state_dict(exported, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    torch.testing.assert_close(seg.layers[1].attn.attn.in_proj_weight,
                               mae_vit.layers[1].attn.qkv.weight)
    assert all(torch.equal(v, exported[k]) for k, v in seg.state_dict().items())


def test_mae_export_starts_the_vit_segmentation_config(tmp_path):
    from altair.config import load_config
    torch.manual_seed(0)
    cfg_path = ('configs/fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_bluemarble-256x256.py')
    with DefaultScope.overwrite_default_scope('altair'):
        mae = MODELS.build(load_config('configs/selfsup/mae_vit-tiny-p8_1xb32-200it_bluemarble-'
                                       '64x64.py').model)
    mae.init_weights()
    torch.save({'state_dict': mae.state_dict()}, tmp_path / 'mae.pth')
    out = export_backbone(tmp_path / 'mae.pth', tmp_path / 'vit.pth', convert='mmpretrain_vit')
    exported = torch.load(out, weights_only=True)['state_dict']
    cfg = load_config(cfg_path, cfg_options={'model.backbone.init_cfg.checkpoint': str(out)})
    with DefaultScope.overwrite_default_scope('altair'):
        seg = MODELS.build(cfg.model)
    seg.backbone.init_weights()
    state = seg.backbone.state_dict()
    assert set(state) == set(exported)
    assert state['pos_embed'].shape == (1, 32 * 32 + 1, 192)  # resized from 8 x 8 patches
    assert all(torch.equal(state[k], exported[k]) for k in state if k != 'pos_embed')
