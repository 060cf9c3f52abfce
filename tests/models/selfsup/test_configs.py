"""Every self-supervised config builds from its file and trains on a fixed batch of its own
pipeline: loss finite and falling, gradients reaching the backbone."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from altair.config import load_config
from altair.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[3]
SELFSUP = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs/selfsup').glob('*.py'))
SMALL = [p for p in SELFSUP if '-200it_' in p]  # the CPU-sized ones


RECIPE = {'mae_': '-1000it_', 'simclr_': '-600it_', 'dino_': '-600it_'}  # ssl_transfer.py's


def test_the_three_methods_have_small_recipe_and_standard_configs():
    for method, recipe in RECIPE.items():
        mine = [Path(p).name for p in SELFSUP if Path(p).name.startswith(method)]
        assert sum('-200it_' in n for n in mine) == 1, mine
        assert sum(f'{recipe}bluemarble-' in n for n in mine) == 1, mine  # the recipe
        assert sum('-20k_' in n for n in mine) == 1, mine
        assert all(f'{recipe}bluemarble+' in n for n in mine  # the rest: recipe + more data
                   if not any(k in n for k in ('-200it_', f'{recipe}bluemarble-', '-20k_')))


@pytest.mark.slow
def test_the_landsat_variant_reads_blue_marble_and_the_real_landsat_scene(bluemarble):
    import altair.datasets  # noqa: F401
    from altair.datasets.sample_data import landsat_scene
    cfg = load_config(ROOT / 'configs/selfsup/'
                      'simclr_resnet18-v1c_1xb32-600it_bluemarble+landsat8-96x96.py')
    recipe = load_config(ROOT / 'configs/selfsup/simclr_resnet18-v1c_1xb32-600it_'
                         'bluemarble-96x96.py')
    blue, landsat = cfg.train_dataloader.dataset.datasets
    assert blue.pipeline == landsat.pipeline == recipe.train_dataloader.dataset.pipeline
    from altair.datasets.unlabelled import cache_or_user_path
    assert Path(cache_or_user_path(landsat.path)) == landsat_scene()  # make install's copy
    blue.data_root = str(bluemarble)
    with DefaultScope.overwrite_default_scope('altair'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 6400 + 1600
    np.random.seed(0)
    for i in (0, 6400):  # one sample of each source: two 64x64 views
        views = dataset[i]['inputs']
        assert len(views) == 2 and all(v.shape == (3, 64, 64) for v in views)


@pytest.mark.parametrize('path', SELFSUP)
def test_config_builds(path):
    import altair.datasets  # noqa: F401
    cfg = load_config(ROOT / path)
    assert cfg.default_scope == 'altair' and cfg.runner_type == 'AltairRunner'
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(cfg.model)
    assert model.backbone is not None and cfg.train_cfg.max_iters in (200, 600, 1000, 20000)


@pytest.mark.slow
@pytest.mark.parametrize('path', SMALL)
@pytest.mark.extended
def test_config_trains_on_a_fixed_batch(path, bluemarble):
    import altair.datasets  # noqa: F401
    import altair.engine  # noqa: F401
    cfg = load_config(ROOT / path)
    if cfg.model.type == 'DINO':
        # the centre moves the teacher's targets (and their entropy, part of the loss) from
        # step to step; held still, the loss measures student-teacher agreement alone
        cfg.model.center_momentum = 1.0
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(bluemarble),
                                      num_samples=8))
    np.random.seed(0)
    batch = default_collate([dataset[i] for i in range(8)])
    wrapper = OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3))
    before = {k: v.detach().clone() for k, v in model.backbone.named_parameters()
              if v.requires_grad}
    losses = []
    for _ in range(8):
        torch.manual_seed(1)  # MAE draws its mask: the same one each step
        losses.append(float(model.train_step(batch, wrapper)['loss']))
    assert np.isfinite(losses).all() and np.mean(losses[-3:]) < losses[0], losses
    # the optimizer moved every trainable backbone tensor: gradients reached all of it
    moved = [not torch.equal(v, before[k]) for k, v in model.backbone.named_parameters()
             if k in before]
    assert all(moved), sum(moved) / len(moved)


HAND_OVER = {  # method → (pretraining config, segmentation config, key conversion)
    'simclr': ('simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py',
               'pspnet/pspnet_r18-d16_ssl-simclr_1xb8-600it_bluemarble-256x256.py',
               'mmpretrain_resnet'),
    'dino': ('dino_resnet18-v1c_1xb32-200it_bluemarble-96x96.py',
             'pspnet/pspnet_r18-d16_ssl-dino_1xb8-600it_bluemarble-256x256.py',
             'mmpretrain_resnet'),
    'mae': ('mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py',
            'fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_bluemarble-256x256.py', 'mmpretrain_vit'),
}


@pytest.mark.slow
@pytest.mark.parametrize('method', list(HAND_OVER))
def test_pretrain_as_a_run_then_hand_over_to_segmentation(method, bluemarble, tiny, tmp_path):
    import altair as alt
    from altair.models.selfsup.export import export_backbone
    opts = {**tiny.loaders(bluemarble, splits=('train',)), 'train_cfg.max_iters': 2,
            'default_hooks.checkpoint.interval': 2, 'train_dataloader.batch_size': 4}
    pretrain, segment, convert = HAND_OVER[method]
    run = alt.train(f'configs/selfsup/{pretrain}', cfg_options=opts, root=tmp_path)
    assert run.status == 'finished' and run.last_checkpoint.name == 'iter_2.pth'
    out = export_backbone(run.last_checkpoint, tmp_path / 'backbone.pth', convert=convert)
    exported = torch.load(out, weights_only=True)['state_dict']
    cfg = load_config(ROOT / 'configs' / segment,
                      cfg_options={'model.backbone.init_cfg.checkpoint': str(out)})
    with DefaultScope.overwrite_default_scope('altair'):
        seg = MODELS.build(cfg.model)
    seg.init_weights()
    state = seg.backbone.state_dict()
    assert set(state) == set(exported)  # no missing, no unexpected keys
    # equal tensors; a ViT's position embeddings are resized to the new input size
    assert all(torch.equal(state[k], exported[k]) for k in state if k != 'pos_embed')
