"""altair.testing's plugin contract passes a good plugin and names what a bad one gets wrong."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

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
