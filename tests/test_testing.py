"""altair.testing's plugin contract passes a good plugin and names what a bad one gets wrong."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from altair.testing import check_plugin, plugin_checks

HEADER = '''
import torch
from mmseg.models.decode_heads import FCNHead
from altair.registry import MODELS, TRANSFORMS
'''
CONFIG = '''
default_scope = {scope!r}
model = dict(
    type='AltairEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                           size=(64, 64)),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3,), norm_cfg=dict(type='SyncBN')),
    decode_head=dict(type={head!r}, in_channels=64, channels=8, num_convs=1, num_classes=3,
                     in_index=0, norm_cfg=dict(type='SyncBN')),
    test_cfg=dict(mode='whole'))
train_dataloader = dict(dataset=dict(
    type='BlueMarbleDataset',
    pipeline=[dict(type='LoadImageFromFile'), dict(type={transform!r})]))
'''


def make_plugin(root: Path, package: str, source: str, *, head: str = 'GoodHead',
                scope: str = 'altair', transform: str = 'PackSegInputs') -> str:
    """``root/<package>/__init__.py`` and one config under ``root/configs/``."""
    (root / package).mkdir(parents=True)
    (root / package / '__init__.py').write_text(HEADER + textwrap.dedent(source))
    (root / 'configs').mkdir()
    (root / 'configs' / 'tiny.py').write_text(
        CONFIG.format(scope=scope, head=head, transform=transform))
    return package


GOOD = '''
@MODELS.register_module()
class GoodHead(FCNHead):
    pass
'''


@pytest.fixture
def plugin_root(tmp_path, monkeypatch, fresh_plugins):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith('plug_')]:
        del sys.modules[name]


def _failures(package: str) -> dict[str, str]:
    out = {}
    for check in plugin_checks(package, configs='configs'):
        try:
            check()
        except Exception as exc:  # a failing check raises; AssertionError for the contract's own
            out[check.id] = str(exc)
    return out


def test_a_good_plugin_passes(plugin_root):
    make_plugin(plugin_root, 'plug_good', GOOD)
    assert [c.id for c in plugin_checks('plug_good', configs='configs')] == [
        'registers', 'no-shadowing', 'build:model.GoodHead', 'config:tiny.py']
    check_plugin('plug_good', configs='configs')


def test_a_parameter_without_gradient_fails(plugin_root):
    make_plugin(plugin_root, 'plug_unused', '''
@MODELS.register_module()
class UnusedHead(FCNHead):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.spare = torch.nn.Linear(2, 2)
''', head='UnusedHead')
    failures = _failures('plug_unused')
    assert list(failures) == ['config:tiny.py']
    assert '2 trainable parameters get no gradient' in failures['config:tiny.py']
    assert "decode_head.spare.weight" in failures['config:tiny.py']


def test_an_unbuildable_component_no_config_uses_fails(plugin_root):
    make_plugin(plugin_root, 'plug_args', GOOD + '''
@MODELS.register_module()
class NeedsArgsHead(FCNHead):
    pass
''')
    failures = _failures('plug_args')
    assert list(failures) == ['build:model.NeedsArgsHead']
    assert failures['build:model.NeedsArgsHead'].startswith(
        "'NeedsArgsHead' cannot be built without arguments (")
    assert 'no shipped config uses it' in failures['build:model.NeedsArgsHead']


def test_a_plugin_registering_nothing_fails(plugin_root):
    make_plugin(plugin_root, 'plug_empty', 'class NotRegistered(FCNHead):\n    pass\n')
    assert _failures('plug_empty')['registers'].startswith(
        'importing plug_empty registers nothing')


def test_a_transform_that_misaligns_image_and_mask_fails(plugin_root):
    make_plugin(plugin_root, 'plug_crop', GOOD + '''
@TRANSFORMS.register_module()
class CropImageOnly:
    def __call__(self, results):
        results['img'] = results['img'][:-1]
        return results
''')
    failures = _failures('plug_crop')
    assert list(failures) == ['build:transform.CropImageOnly']
    assert failures['build:transform.CropImageOnly'] == (
        'transform CropImageOnly: image (47, 40) and mask (48, 40) no longer have the same size')


def test_shadowing_through_an_mmseg_registry_fails(plugin_root):
    # a plugin that registers straight into mmseg's registry bypasses Altair's refusal;
    # the contract still catches the clash
    make_plugin(plugin_root, 'plug_shadow', GOOD + '''
from mmseg.registry import MODELS as MMSEG_MODELS

@MMSEG_MODELS.register_module()
class AltairTTAModel(FCNHead):
    pass
''')
    failures = _failures('plug_shadow')
    assert failures['no-shadowing'] == (
        "names shadow existing components: 'AltairTTAModel' (mmseg model) is also altair's "
        'altair.models.tta.AltairTTAModel')


def test_config_checks_name_the_key(plugin_root):
    make_plugin(plugin_root, 'plug_cfg', GOOD, transform='PackSegInput')
    assert _failures('plug_cfg')['config:tiny.py'].endswith(
        "train_dataloader.dataset.pipeline[1].type 'PackSegInput' is not registered")


def test_config_without_altair_scope_fails(plugin_root):
    make_plugin(plugin_root, 'plug_scope', GOOD, scope='mmseg')
    assert "default_scope is 'mmseg'; set default_scope = 'altair'" in _failures(
        'plug_scope')['config:tiny.py']


def _band_folder(root: Path, bands: int, dtype: str) -> tuple[Path, np.ndarray]:
    """``root/images`` + ``root/masks``: two 64x64 plain rasters of ``bands`` bands (uint16
    counts, or float32 reflectances in 0-1) with a 0/1 mask; the images' per-band mean."""
    from tests.datasets.raster_fixtures import write_tif
    rng = np.random.default_rng(bands)
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    imgs = []
    for i in range(2):
        mask = (rng.random((64, 64)) < 0.4).astype(np.uint8)
        if dtype == 'uint16':
            img = rng.normal(900, 150, (bands, 64, 64)) + 2000 * mask
        else:
            img = rng.normal(0.2, 0.05, (bands, 64, 64)) + 0.3 * mask
        img = img.astype(dtype)
        write_tif(root / 'images' / f's{i}.tif', img, crs=None)
        write_tif(root / 'masks' / f's{i}.tif', mask, crs=None)
        imgs.append(img.astype(np.float64))
    return root, np.mean(imgs, axis=(0, 2, 3))


@pytest.mark.parametrize('bands, dtype', [(1, 'uint16'), (4, 'uint16'), (5, 'float32')])
def test_check_config_trains_the_bands_altair_init_wrote(tmp_path, bands, dtype):
    """check_config feeds the config's own bands and dtype: a config written by `altair init`
    for 1-, 4- and 5-band data trains its step (3-band images used to fail the first conv:
    'expected input[2, 3, 64, 64] to have 1 channels')."""
    import altair as alt
    from altair.config import load_config
    from altair.testing import check_config, config_input, random_images
    data, mean = _band_folder(tmp_path / f'b{bands}', bands, dtype)
    res = alt.init(data, iters=10)
    cfg = load_config(res.config)
    assert config_input(cfg.model) == (bands, np.dtype(dtype))
    # the random batch is drawn around the data's own per-band mean (init measured it)
    images = random_images(cfg.model, 2, (64, 64))
    assert [tuple(i.shape) for i in images] == [(bands, 64, 64)] * 2
    assert str(images[0].dtype) == f'torch.{dtype}'
    got = torch.stack(images).double().mean(dim=(0, 2, 3)).numpy()
    assert got == pytest.approx(mean, rel=0.1)
    model = check_config(res.config)
    conv = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.in_channels == bands and conv.weight.grad is not None


def test_config_input_reads_mean_else_in_channels():
    from altair.testing import config_input
    rgb = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
    assert config_input(dict(data_preprocessor=rgb)) == (3, np.dtype(np.uint8))
    assert config_input(dict(data_preprocessor=dict(mean=[1500.0] * 2, std=[400.0] * 2))) == (
        2, np.dtype(np.uint16))
    assert config_input(dict(data_preprocessor=dict(mean=[-3.0], std=[2.0]))) == (
        1, np.dtype(np.float32))
    assert config_input(dict(data_preprocessor=dict(type='SegDataPreProcessor'),
                             backbone=dict(in_channels=7))) == (7, np.dtype(np.uint8))
    assert config_input(dict()) == (3, np.dtype(np.uint8))
