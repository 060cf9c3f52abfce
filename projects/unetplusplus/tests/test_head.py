"""UNetPlusPlusHead: the nested wiring, shapes, deep supervision and its loss."""
from __future__ import annotations

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from projects.unetplusplus.altair_unetplusplus import (UNetPlusPlusHead, nested_nodes,
                                                       node_inputs)
from projects.unetplusplus.altair_unetplusplus.nested import node_in_channels


def test_nested_nodes_follow_the_paper():
    # L = 4 levels: 6 decoder nodes, column by column, output (0, 3) last
    assert nested_nodes(4) == [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (0, 3)]
    assert len(nested_nodes(5)) == 5 * 4 // 2
    assert node_inputs(0, 3) == ([(0, 0), (0, 1), (0, 2)], (1, 2))
    assert node_inputs(2, 1) == ([(2, 0)], (3, 0))
    # every input is computed before the node that reads it
    done = {(i, 0) for i in range(4)}
    for node in nested_nodes(4):
        same_row, below = node_inputs(*node)
        assert set(same_row) | {below} <= done
        done.add(node)


def test_node_in_channels():
    cin, widths = [64, 128, 256, 512], [32, 64, 128, 256]
    assert node_in_channels(0, 1, cin, widths) == 64 + 128
    assert node_in_channels(0, 3, cin, widths) == 64 + 32 + 32 + 64
    assert node_in_channels(2, 1, cin, widths) == 256 + 512


@pytest.mark.parametrize('bad', [1, 0])
def test_too_few_levels(bad):
    with pytest.raises(ValueError, match='at least 2 backbone levels'):
        nested_nodes(bad)


def _head(**kw):
    cfg = dict(in_channels=[8, 16, 32], in_index=[0, 1, 2], channels=4, num_classes=3,
               norm_cfg=dict(type='BN'))
    cfg.update(kw)
    return UNetPlusPlusHead(**cfg)


def _feats(n=2, size=(20, 18)):
    h, w = size  # odd sizes: levels need not halve exactly
    return [torch.randn(n, c, -(-h // 2 ** i), -(-w // 2 ** i)) for i, c in enumerate((8, 16, 32))]


def test_output_has_the_finest_resolution_and_one_channel_per_class():
    head = _head().eval()
    assert head(_feats()).shape == (2, 3, 20, 18)
    assert len(head.nodes) == 3 and len(head.aux_segs) == 0


def test_level_widths_checked():
    with pytest.raises(ValueError, match='start with channels=4'):
        _head(level_widths=[8, 16, 32])
    with pytest.raises(ValueError, match="input_transform must be 'multiple_select'"):
        _head(input_transform='resize_concat')


def _by_hand(head, feats):
    """The 3-level UNet++ of the paper's figure 1, wired out by hand with the head's own
    modules: X0,1 = H([X0,0, up(X1,0)]), X1,1 = H([X1,0, up(X2,0)]),
    X0,2 = H([X0,0, X0,1, up(X1,1)])."""
    def up(t, like):
        return torch.nn.functional.interpolate(t, size=like.shape[2:], mode='bilinear',
                                               align_corners=False)
    x00, x10, x20 = feats
    x01 = head.nodes['0_1'](torch.cat([x00, up(x10, x00)], 1))
    x11 = head.nodes['1_1'](torch.cat([x10, up(x20, x10)], 1))
    x02 = head.nodes['0_2'](torch.cat([x00, x01, up(x11, x00)], 1))
    return x01, x02


@pytest.mark.parametrize('deep_supervision', [False, True])
def test_forward_equals_the_nested_wiring_written_out(deep_supervision):
    torch.manual_seed(0)
    head = _head(deep_supervision=deep_supervision, dropout_ratio=0).eval()
    for p in head.parameters():  # non-trivial weights everywhere (conv_seg starts near 0)
        torch.nn.init.normal_(p, 0, 0.2)
    feats = _feats()
    with torch.no_grad():
        x01, x02 = _by_hand(head, feats)
        final = head.conv_seg(x02)
        expected = (head.aux_segs[0](x01) + final) / 2 if deep_supervision else final
        out = head(feats)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    if deep_supervision:  # the first branch really contributes
        assert not torch.allclose(out, final, atol=1e-3)


def test_deep_supervision_loss_is_the_mean_of_branch_losses():
    torch.manual_seed(0)
    head = _head(deep_supervision=True, dropout_ratio=0).train()
    feats = _feats(size=(16, 16))
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 16, 16)))
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg={})
    assert set(losses) == {'x01.loss_ce', 'x02.loss_ce', 'acc_seg'}
    expected = [head.loss_by_feat(b, samples)['loss_ce'] for b in head.branch_logits(feats)]
    torch.testing.assert_close(losses['x01.loss_ce'], expected[0] / 2)
    torch.testing.assert_close(losses['x02.loss_ce'], expected[1] / 2)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in head.parameters())
