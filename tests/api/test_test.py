import pytest
from mmengine.config import Config

from altair.api.compile import ShowDirError, TTAConfigMissingError, enable_show, enable_tta


def _cfg(**extra):
    return Config(dict(model=dict(type='AltairEncoderDecoder'),
                       test_dataloader=dict(dataset=dict(pipeline=['plain'])), **extra))


def test_altair_tta_wraps_the_model_and_keeps_the_pipeline():
    cfg = enable_tta(_cfg(tta_model=dict(type='AltairTTAModel', transforms=['d4'])))
    assert cfg.model.type == 'AltairTTAModel' and cfg.model.module.type == 'AltairEncoderDecoder'
    assert cfg.test_dataloader.dataset.pipeline == ['plain']


def test_mmseg_tta_swaps_the_pipeline_too():
    cfg = enable_tta(_cfg(tta_model=dict(type='SegTTAModel'), tta_pipeline=['tta']))
    assert cfg.model.type == 'SegTTAModel' and cfg.test_dataloader.dataset.pipeline == ['tta']


def test_missing_pieces_are_named():
    with pytest.raises(TTAConfigMissingError, match="needs 'tta_model'"):
        enable_tta(_cfg())
    with pytest.raises(TTAConfigMissingError, match="SegTTAModel needs 'tta_pipeline'"):
        enable_tta(_cfg(tta_model=dict(type='SegTTAModel')))


def test_show_dir_adds_the_visualization_hook_a_config_lacks():
    """`altair init` configs have no default_hooks.visualization (it was a KeyError): the
    hook is added, drawing every image; one the config has is switched on."""
    vis = dict(type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    cfg = enable_show(_cfg(work_dir='/w', visualizer=vis), 'vis')
    assert cfg.default_hooks.visualization == dict(type='SegVisualizationHook', draw=True,
                                                   interval=1)
    assert cfg.visualizer.save_dir == '/w/vis'
    cfg = enable_show(_cfg(work_dir='/w', visualizer=vis, default_hooks=dict(
        visualization=dict(type='SegVisualizationHook', interval=50))), '/abs/vis')
    assert cfg.default_hooks.visualization == dict(type='SegVisualizationHook', draw=True,
                                                   interval=1)
    assert cfg.visualizer.save_dir == '/abs/vis'


@pytest.mark.parametrize('dataset, named', [
    (dict(type='RasterSceneDataset', window_size=(256, 256), pipeline=[dict(type='LoadRaster')]),
     r'windows of scenes \(RasterSceneDataset window_size=\(256, 256\)\)'),
    (dict(type='RasterSceneDataset', pipeline=[dict(type='LoadRaster')]),  # default windows
     r'windows of scenes \(RasterSceneDataset window_size=None\)'),
    (dict(type='VolumeSliceDataset', pipeline=[dict(type='LoadVolumeSlice')]),
     r'slices of volumes \(LoadVolumeSlice\)'),
    (dict(type='ConcatDataset', datasets=[
        dict(type='BlueMarbleDataset', pipeline=['plain']),
        dict(type='RasterSceneDataset', window_size=64, pipeline=[dict(type='LoadRaster')])]),
     r'windows of scenes \(RasterSceneDataset window_size=64\)'),
])
def test_show_dir_refuses_test_sets_of_windows_and_slices(dataset, named):
    """SegVisualizationHook draws a prediction over the whole file it came from: a window's
    or a slice's would not fit it (an IndexError deep in mmseg)."""
    cfg = Config(dict(model=dict(type='AltairEncoderDecoder'), work_dir='/w',
                      test_dataloader=dict(dataset=dataset)))
    with pytest.raises(ShowDirError, match=r'^--show-dir draws each test image whole, but this '
                                           rf'test set reads {named}; see whole predictions'):
        enable_show(cfg, 'vis')


def test_show_dir_draws_whole_scenes(tmp_path):
    cfg = Config(dict(model=dict(type='AltairEncoderDecoder'), work_dir='/w', visualizer={},
                      test_dataloader=dict(dataset=dict(
                          type='RasterSceneDataset', window_size=None,
                          pipeline=[dict(type='LoadRaster')]))))
    assert enable_show(cfg, 'vis').default_hooks.visualization.draw is True


def test_altair_test_show_dir_on_an_init_config(tmp_path, cli):
    """End to end: a config `altair init` wrote for an images/ + masks/ folder, tested with
    --show-dir, draws each test image (it stopped with a KeyError before)."""
    import cv2
    import numpy as np
    import torch
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.registry import MODELS
    rng = np.random.default_rng(0)
    for kind in ('images', 'masks'):
        (tmp_path / 'data' / kind).mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(tmp_path / 'data' / 'images' / f'{i}.png'),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        cv2.imwrite(str(tmp_path / 'data' / 'masks' / f'{i}.png'),
                    rng.integers(0, 2, (64, 64), dtype=np.uint8))
    assert cli('init', tmp_path / 'data', '--model', 'pspnet', '--crop', '64').returncode == 0
    config = tmp_path / 'data' / 'altair_config.py'
    cfg = load_config(config)
    assert 'visualization' not in cfg.default_hooks
    with DefaultScope.overwrite_default_scope('altair'):
        torch.save({'state_dict': MODELS.build(cfg.model).state_dict(), 'meta': {}},
                   tmp_path / 'model.pth')
    proc = cli('test', config, tmp_path / 'model.pth', '--show-dir', 'vis', '--work-dir',
               tmp_path / 'work', '--cfg-options', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False')
    assert proc.returncode == 0, proc.stderr[-3000:]
    drawn = list((tmp_path / 'work' / 'vis' / 'vis_data' / 'vis_image').glob('*.png'))
    assert [p.name for p in drawn] == ['test_2.png_0.png']  # the test split: 1 of the 5


def _compiled_test(monkeypatch, tmp_path, tta_model, **kwargs):
    """The config and options test_checkpoint hands the runner (no model runs)."""
    import altair.api.test as api
    cfg_path = tmp_path / 'cfg.py'
    Config(dict(model=dict(type='AltairEncoderDecoder'), tta_model=tta_model,
                test_dataloader=dict(dataset=dict(pipeline=['plain'])))).dump(str(cfg_path))
    (tmp_path / 'ckpt.pth').write_bytes(b'')
    seen = {}

    def compile_config(cfg, opts):
        seen.update(cfg=cfg, opts=opts)
        raise RuntimeError('compiled')
    monkeypatch.setattr(api, 'compile_config', compile_config)
    monkeypatch.setattr(api, 'load_model_config', lambda cfg: cfg)
    with pytest.raises(RuntimeError, match='compiled'):
        api.test_checkpoint(str(cfg_path), tmp_path / 'ckpt.pth', **kwargs)
    return seen['cfg'], seen['opts']


def test_tta_transforms_replace_those_of_the_config(monkeypatch, tmp_path):
    """`altair test --tta hflip vflip` as `altair predict --tta hflip vflip`: the config's
    AltairTTAModel with those transforms; bare --tta keeps the config's."""
    model = dict(type='AltairTTAModel', transforms=['hflip'], scales=[1.0])
    cfg, opts = _compiled_test(monkeypatch, tmp_path, model,
                               tta_transforms=['hflip', 'vflip'])
    assert opts.tta is True and cfg.tta_model.transforms == ['hflip', 'vflip']
    cfg, opts = _compiled_test(monkeypatch, tmp_path, model, tta=True)
    assert opts.tta is True and cfg.tta_model.transforms == ['hflip']
    with pytest.raises(TTAConfigMissingError, match="^--tta d4 sets the transforms of "
                       "AltairTTAModel; this config's tta_model is SegTTAModel: give --tta "
                       'alone'):
        _compiled_test(monkeypatch, tmp_path, dict(type='SegTTAModel'), tta_transforms=['d4'])


@pytest.mark.parametrize('argv, tta', [([], None), (['--tta'], []),
                                       (['--tta', 'hflip', 'd4'], ['hflip', 'd4'])])
def test_test_and_predict_read_tta_alike(argv, tta):
    from altair.cli_parser import build_parser
    parser = build_parser()
    assert parser.parse_args(['test', 'RUN', *argv]).tta == tta
    assert parser.parse_args(['predict', 'RUN', 'x.tif', *argv]).tta == tta
