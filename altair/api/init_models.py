"""The models ``altair init --model`` offers: each one's base config, optimiser and
backbone overrides, its receptive field (which caps the planned crop), and the base file
written beside a generated config so that it resolves wherever the folder moves."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from altair.datasets import plan
from altair.models.receptive_field import receptive_field
from altair.registry import MODELS as REGISTRY
from altair.shipped import configs_dir
from altair.version import __version__

CONFIGS = configs_dir()
# --model NAME -> (model base config, optimizer, backbone overrides). See the table
# "which architecture for which object size" (docs/guides/data.md).
# output stride 16 for the ResNet models, as the short configs (2.7x less compute than d8)
_D16 = 'strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), '
MODELS = {
    'unet': ('_base_/models/unet_s4-c32.py', 'sgd_nnunet', ''),
    'pspnet': ('_base_/models/pspnet_r18-d8.py', 'sgd', _D16),
    'deeplabv3plus': ('_base_/models/deeplabv3plus_r18-d8.py', 'sgd', _D16),
    'segformer': ('_base_/models/segformer_mit-b0.py', 'adamw', ''),
}
OPTIMIZERS = {
    'sgd': "dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)",
    # nnU-Net's optimiser for a U-Net trained from scratch (Isensee et al. 2021), with its
    # gradient clipping (CLIP_GRAD)
    'sgd_nnunet': "dict(type='SGD', lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)",
    'adamw': "dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01)",
}


CLIP_GRAD = {'sgd_nnunet': dict(max_norm=12.0)}


@functools.lru_cache(maxsize=None)
def model_receptive_field(model: str) -> int | None:
    """The receptive field in pixels of ``--model``'s network (built untrained, batch norm in
    eval mode), measured on a probe just over ``MAX_CROP / RECEPTIVE_FIELDS``: None where it
    reaches past that, so the crop cap it sets could not bind."""
    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    cfg = Config.fromfile(str(CONFIGS / MODELS[model][0]))
    with DefaultScope.overwrite_default_scope('altair'):
        net = revert_sync_batchnorm(REGISTRY.build(cfg.model)).eval()
    size = plan.MAX_CROP // plan.RECEPTIVE_FIELDS + plan.CROP_MULTIPLE
    with torch.enable_grad():
        return receptive_field(lambda x: net(x, mode='tensor'), size=size,
                               in_channels=cfg.model.backbone.get('in_channels', 3))


def base_file(model: str) -> str:
    """The file beside a config ``altair init`` writes that holds its model's base config and
    the default runtime, merged (so the config resolves wherever the folder moves)."""
    return f'altair_base_{model}.py'


def base_text(model: str) -> str:
    """``configs/<model base>`` and ``configs/_base_/default_runtime.py`` merged by mmengine,
    as one config's source."""
    from mmengine.config import Config
    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(tmp) / 'stub.py'
        stub.write_text('_base_ = [' + ', '.join(repr(str(CONFIGS / name)) for name in
                                                (MODELS[model][0], '_base_/default_runtime.py'))
                        + ']\n')
        merged = Config.fromfile(str(stub))
    return (f'# {MODELS[model][0]} and _base_/default_runtime.py of Altair {__version__}, '
            'merged by `altair init`\n# for the config beside this file. Edit that one.\n'
            + merged.pretty_text)
