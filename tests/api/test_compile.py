"""The config compiler: one ordered list of passes every command runs, idempotent on a
run's saved config, and one dataset walk that opens Concat / Repeat wrappers."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from altair.api.compile import PASSES, CompileOptions, compile_config
from altair.config import load_config, raster_options, split_datasets, training_crop

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / 'configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-scene-256x256.py'


def test_the_passes_run_in_one_documented_order():
    assert [name for name, _ in PASSES] == [
        'accelerate', 'defaults', 'hooks', 'augmentations', 'sample_checks', 'class_weights',
        'precision', 'model_types', 'run_options', 'test_mode']


def test_a_compiled_config_compiles_to_itself(in_repo_root):
    """What a worker does with its run's saved config changes nothing but the launcher."""
    cfg = load_config('configs/pspnet.py', cfg_options={
        'augmentations': dict(preset='heavy'), 'precision': 'bf16'})
    once = compile_config(cfg, work_dir='w', launcher='none')
    twice = compile_config(copy.deepcopy(once),
                           CompileOptions(mode='worker', launcher='pytorch'))
    assert twice.launcher == 'pytorch'
    twice.launcher = 'none'
    assert twice.to_dict() == once.to_dict()
    # and the passes did their work once: one sample check per pipeline, an autocast wrapper
    types = [s['type'] for s in once.train_dataloader.dataset.pipeline]
    assert types.count('CheckSegSample') == 1 and 'AugPreset' in types
    assert once.optim_wrapper.type == 'AutocastOptimWrapper'


def _concat(cfg, copies: int = 2):
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.dataset = dict(type='ConcatDataset',
                              datasets=[copy.deepcopy(loader.dataset) for _ in range(copies)])
    return cfg


def test_every_walk_opens_concat_datasets(in_repo_root):
    cfg = _concat(load_config(SCENE))
    assert len(split_datasets(cfg, 'train')) == 2
    assert raster_options(cfg) == dict(file_order=True)  # read through LoadRaster
    cfg.pop('crop_size')
    assert training_crop(cfg) == (256, 256)  # from the members' RandomCrop
    compile_config(cfg, work_dir='w', launcher='none')
    for member in split_datasets(cfg, 'train'):
        types = [s['type'] for s in member['pipeline']]
        assert types[:2] == ['LoadRaster', 'CheckSegSample']


def test_a_model_of_a_concat_of_scenes_predicts_in_file_band_order(tmp_path, in_repo_root):
    """Its 3-band windows are not reversed (the model saw the files' RGB through LoadRaster),
    so it predicts as the same weights with the plain scene config do."""
    from mmengine.registry import DefaultScope

    import altair as alt
    from altair.models.card import card_of
    from altair.prediction.model import input_transform
    from altair.registry import MODELS
    from tests.datasets.raster_fixtures import write_tif
    plain = load_config(SCENE)
    concat = _concat(load_config(SCENE))
    (tmp_path / 'concat.py').write_text(concat.pretty_text)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(plain.model)
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    rng = np.random.default_rng(0)
    image = write_tif(tmp_path / 'rgb.tif', rng.integers(0, 255, (3, 96, 128), dtype=np.uint8))
    results = []
    for config in (SCENE, tmp_path / 'concat.py'):
        net = alt.load_model(config, ckpt, device='cpu')
        assert card_of(net).raster == dict(file_order=True)
        x = torch.rand(1, 3, 8, 8) * 255
        pre = net.data_preprocessor
        assert torch.allclose(input_transform(net, 3)(x), (x - pre.mean[None]) / pre.std[None])
        [pred] = alt.predict(net, image, save=(), progress=False, window_batch=2)
        results.append(pred.labels)
    assert np.array_equal(*results)
