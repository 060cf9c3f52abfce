"""``altair init``: every layout gives a config that loads, builds and trains a step; bad
folders get a one-line error, exit status 2 and no config."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import altair as alt
from altair.datasets.inspect import DataLayoutError
from altair.errors import DataError
from tests.datasets.raster_fixtures import utm_boxes, write_geojson, write_tif

ROOT = Path(__file__).resolve().parents[2]


def _blobs(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 image of bright discs on a dark noisy background, and its 0/1 mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros((h, w), np.uint8)
    for _ in range(12):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(3, 8)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    img = (rng.normal(800, 100, (h, w)) + 2500 * mask).clip(0, 65535).astype(np.uint16)
    return img, mask


def _one_step(tiny, config: Path, tmp_path: Path):
    opts = tiny.options(iters=1, splits=('train', 'val'))
    run = alt.train(config, cfg_options=opts, root=tmp_path / 'runs', seed=0)
    assert run.status == 'finished'
    [val] = run.metrics
    assert 0 <= val['mIoU'] <= 100
    return run


def _check_config(config: Path) -> dict:
    from mmengine.config import Config

    from altair.config_checks import check_config_keys
    cfg = Config.fromfile(str(config))
    check_config_keys(cfg)
    return cfg


def _cells(data: Path) -> Path:
    """Two 16-bit single-band images of discs, their 0/1 masks and a classes.json."""
    (data / 'images').mkdir(parents=True)
    (data / 'masks').mkdir()
    for i in range(2):
        img, mask = _blobs(96, 128, i)
        write_tif(data / 'images' / f'c{i}.tif', img, crs=None)
        write_tif(data / 'masks' / f'c{i}.png', mask, crs=None)
    (data / 'classes.json').write_text(json.dumps(
        [dict(value=0, name='background'), dict(value=1, name='cell')]))
    return data


@pytest.mark.slow
def test_pairs_16bit_single_band(tiny, tmp_path):
    res = alt.init(_cells(tmp_path / 'cells'), iters=10)
    cfg = _check_config(res.config)
    assert res.command == f'altair train {res.config}'
    assert cfg.classes == ['background', 'cell'] and cfg.model.backbone.in_channels == 1
    assert cfg.data_preprocessor.bgr_to_rgb is False
    # mean/std over the images, computed another way
    pixels = np.concatenate([_blobs(96, 128, i)[0].ravel() for i in range(2)]).astype(float)
    assert cfg.mean[0] == pytest.approx(pixels.mean(), rel=1e-3)
    assert cfg.std[0] == pytest.approx(pixels.std(), rel=1e-3)
    assert 'cell' in res.text.splitlines()[2]  # class shares in the header
    run = _one_step(tiny, res.config, tmp_path)
    assert run.last_checkpoint.is_file()


@pytest.mark.slow
def test_mmseg_layout_keeps_its_split(tiny, tmp_path):
    data = tmp_path / 'mm'
    for split, n in (('train', 3), ('val', 1)):
        (data / 'img_dir' / split).mkdir(parents=True)
        (data / 'ann_dir' / split).mkdir(parents=True)
        for i in range(n):
            img, mask = _blobs(64, 64, 10 + i)
            rgb = np.stack([img // 256] * 3).astype(np.uint8)
            write_tif(data / 'img_dir' / split / f'{split}{i}.png', rgb, crs=None)
            write_tif(data / 'ann_dir' / split / f'{split}{i}.png', mask, crs=None)
    res = alt.init(data, iters=10, model='pspnet')
    cfg = _check_config(res.config)
    assert cfg.split is None and len(cfg.train_scenes) == 3 and len(cfg.val_scenes) == 1
    assert cfg.model.backbone.in_channels == 3 and cfg.model.backbone.type == 'ResNetV1c'
    _one_step(tiny, res.config, tmp_path)


def _scene(data: Path) -> Path:
    """A 4-band uint16 UTM scene with a nodata border and labels in lon/lat at another
    resolution."""
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp_points
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    img = rng.integers(100, 4000, (4, 200, 240)).astype(np.uint16)
    img[:, :, :20] = 0
    write_tif(data / 'scene.tif', img)
    (lon,), (lat,) = warp_points('EPSG:32633', 'EPSG:4326', [499000], [5001000])
    labels = (np.arange(60 * 60).reshape(60, 60) // 7 % 3).astype(np.uint8)
    write_tif(data / 'labels.tif', labels, crs='EPSG:4326',
              transform=from_origin(lon, lat, 0.0005, 0.0003))
    return data


@pytest.mark.slow
def test_scene_with_labels_in_another_grid(tiny, tmp_path):
    res = alt.init(_scene(tmp_path / 'geo'), iters=10)
    cfg = _check_config(res.config)
    assert cfg.model.backbone.in_channels == 4 and len(cfg.classes) == 3
    assert cfg.scene_options.nodata == 0  # inferred from the all-zero border
    assert 'inferred from the all-0 border' in res.text
    assert cfg.split.by == 'block'
    _one_step(tiny, res.config, tmp_path)


@pytest.mark.slow
@pytest.mark.extended
def test_scene_with_polygons(tiny, tmp_path):
    data = tmp_path / 'poly'
    data.mkdir()
    write_tif(data / 'scene.tif', np.random.default_rng(1).integers(
        0, 255, (3, 160, 160)).astype(np.uint8))
    rings = utm_boxes([(500100, 4999900, 500900, 4999100), (500300, 4998900, 501400, 4998500)])
    write_geojson(data / 'labels.geojson', [(rings[0], {'kind': 'field'}),
                                            (rings[1], {'kind': 'forest'})])
    # without --class-field the polygons are footprints, and the summary names the attribute
    res = alt.init(data, iters=10)
    assert _check_config(res.config).classes == ['background', 'foreground']
    assert "attributes (kind) could give one class per value: --class-field NAME" in res.text
    res = alt.init(data, iters=10, class_field='kind', force=True)
    cfg = _check_config(res.config)
    assert cfg.classes == ['field', 'forest']
    assert cfg.scene_options.class_field == 'kind'
    _one_step(tiny, res.config, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize('suffix', ['.npy', '.nii.gz'])
def test_volumes(tiny, tmp_path, suffix):
    import nibabel as nib
    data = tmp_path / 'vol'
    (data / 'imagesTr').mkdir(parents=True)
    (data / 'labelsTr').mkdir()
    for i in range(3):
        rng = np.random.default_rng(i)
        lab = np.zeros((40, 48, 6), np.uint8)
        lab[10:20, 12:30, 1:5] = 1
        img = (rng.normal(100, 20, lab.shape) + 300 * lab).astype(np.int16)
        for folder, arr in (('imagesTr', img), ('labelsTr', lab)):
            path = data / folder / f'case{i}{suffix}'
            if suffix == '.npy':
                np.save(path, arr)
            else:
                nib.save(nib.Nifti1Image(arr, np.eye(4)), path)
    res = alt.init(data, iters=10)
    cfg = _check_config(res.config)
    # NIfTI voxels of 1 mm: one slice on either side as 2.5-D context; .npy: no voxel sizes
    context = 0 if suffix == '.npy' else 1
    assert cfg.volume_options.get('context', 0) == context
    assert cfg.model.backbone.in_channels == 2 * context + 1 and cfg.crop_size == (32, 32)
    assert cfg.volume_options.axis == 2 and len(cfg.volumes) == 3
    assert 0 < cfg.mean[0] < 1  # intensities normalised to [0, 1]
    _one_step(tiny, res.config, tmp_path)


def test_folder_without_a_layout_lists_the_layouts(tmp_path):
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(DataLayoutError) as info:
        alt.init(tmp_path)
    text = str(info.value)
    assert "matches no data layout" in text
    for tree in ('img_dir/', 'images/x.tif', 'labels.tif | labels.geojson', 'imagesTr/'):
        assert tree in text


def test_label_values_missing_from_the_sidecar(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    write_tif(tmp_path / 'images' / 'a.tif', np.ones((1, 8, 8), np.uint8), crs=None)
    write_tif(tmp_path / 'masks' / 'a.tif', np.array([[0, 1, 7, 9]] * 8, np.uint8).repeat(2, 1),
              crs=None)
    (tmp_path / 'classes.json').write_text(json.dumps({'0': 'background', '1': 'road'}))
    with pytest.raises(DataError, match=r"labels hold values 7, 9 that the classes sidecar "
                                        r"'.*classes.json' does not list \(0, 1\)"):
        alt.init(tmp_path)


def test_images_without_masks(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    for name in ('a', 'b'):
        write_tif(tmp_path / 'images' / f'{name}.tif', np.ones((1, 8, 8), np.uint8), crs=None)
    write_tif(tmp_path / 'masks' / 'a.tif', np.ones((8, 8), np.uint8), crs=None)
    with pytest.raises(DataError, match=r"1 image\(s\) have no mask, e.g. '.*images/b.tif'"):
        alt.init(tmp_path)


def test_cli_error_is_one_line_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    write_tif(tmp_path / 'images' / 'a.tif', np.ones((3, 8, 8), np.uint16), crs=None)
    write_tif(tmp_path / 'images' / 'b.tif', np.ones((4, 8, 8), np.uint16), crs=None)
    for name in ('a', 'b'):
        write_tif(tmp_path / 'masks' / f'{name}.tif', np.ones((8, 8), np.uint8), crs=None)
    proc = subprocess.run([sys.executable, '-m', 'altair', 'init', str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert len(errors) == 1 and "'" + str(tmp_path / 'images' / 'b.tif') + "'" in errors[0]
    assert 'has 4 of uint16' in errors[0] and '--bands' in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['images', 'masks']


def _bad_folder(tmp_path: Path, kind: str) -> tuple[Path, list[str], str]:
    """A data folder with one problem, the extra CLI arguments, and the file the error names."""
    from rasterio.transform import from_origin
    data = tmp_path / kind
    data.mkdir()
    img = np.ones((3, 16, 16), np.uint16)
    if kind == 'no_overlap':
        write_tif(data / 'scene.tif', img)
        write_tif(data / 'labels.tif', np.ones((16, 16), np.uint8),
                  transform=from_origin(700000, 5000000, 10, 10))
        return data, [], 'labels.tif'
    if kind == 'no_crs':
        write_tif(data / 'scene.tif', img, crs=None)
        write_tif(data / 'labels.tif', np.ones((16, 16), np.uint8), crs='EPSG:4326')
        return data, [], 'scene.tif'
    if kind == 'band_index':
        write_tif(data / 'scene.tif', img)
        write_tif(data / 'labels.tif', np.ones((16, 16), np.uint8))
        return data, ['--bands', '1', '4'], 'scene.tif'
    if kind == 'no_class_attribute':
        write_tif(data / 'scene.tif', img, crs='EPSG:4326')
        write_geojson(data / 'labels.geojson', [([(0, 0), (1, 0), (0, 1), (0, 0)], {'id': 1})])
        return data, ['--class-field', 'class'], 'labels.geojson'
    if kind == 'sidecar':
        write_tif(data / 'scene.tif', img)
        write_tif(data / 'labels.tif', np.arange(256).reshape(16, 16).astype(np.uint8) % 4)
        (data / 'classes.json').write_text(json.dumps({'0': 'a', '1': 'b', '2': 'c'}))
        return data, [], 'classes.json'
    if kind == 'no_mask':
        (data / 'images').mkdir()
        (data / 'masks').mkdir()
        write_tif(data / 'images' / 'x.tif', img, crs=None)
        return data, [], 'x.tif'
    raise AssertionError(kind)


@pytest.mark.parametrize('kind', ['no_overlap', 'no_crs', 'band_index', 'no_class_attribute',
                                  'sidecar', 'no_mask'])
def test_bad_data_one_line_exit_2_nothing_written(tmp_path, kind, cli):
    data, extra, named = _bad_folder(tmp_path, kind)
    before = sorted(p.name for p in data.rglob('*'))
    proc = cli('init', data, *extra)
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert len(errors) == 1 and named in errors[0], proc.stderr
    assert 'Traceback' not in proc.stderr
    assert sorted(p.name for p in data.rglob('*')) == before  # no config, no temp file


def _footprint_scene(data: Path, name: str = 'buildings.geojson', props=None) -> list:
    """A 3-band 160x160 scene (10 m pixels, UTM 33N) and two footprint polygons in lon/lat
    with no class attribute (``props``: the attributes each gets); returns the rings."""
    data.mkdir()
    write_tif(data / 'scene.tif', np.random.default_rng(2).integers(
        0, 255, (3, 160, 160)).astype(np.uint8))
    rings = utm_boxes([(500105, 4999895, 500395, 4999605), (500805, 4998805, 501205, 4998505)])
    write_geojson(data / name, [(r, dict(props or {})) for r in rings])
    return rings


def _reference_labels(rings, shape=(160, 160)) -> np.ndarray:
    """The footprints rasterised independently: each ring taken to UTM with pyproj and
    burned by rasterio.features.rasterize on the scene's grid (1 inside, 0 outside)."""
    from pyproj import Transformer
    from rasterio.features import rasterize
    from rasterio.transform import from_origin
    to_utm = Transformer.from_crs('EPSG:4326', 'EPSG:32633', always_xy=True)
    shapes = [({'type': 'Polygon', 'coordinates': [[to_utm.transform(x, y) for x, y in r]]}, 1)
              for r in rings]
    return rasterize(shapes, out_shape=shape, transform=from_origin(500000, 5000000, 10, 10),
                     fill=0, dtype='uint8')


def test_footprints_without_a_class_attribute_are_one_class_on_background(tmp_path):
    """No --class-field, no classes.json: the polygons are 'buildings' (the file's name), the
    rest of the image background; the labels the dataset burns equal an independent
    rasterisation, and the summary counts the background pixels."""
    from mmengine.config import Config

    from altair.datasets.scenes.load import load_labels
    from altair.raster.grid import scene_grid
    from altair.raster.read import open_raster
    rings = _footprint_scene(tmp_path / 'fp')
    res = alt.init(tmp_path / 'fp', iters=10)
    cfg = Config.fromfile(str(res.config))
    assert cfg.classes == ['background', 'buildings']
    opts = cfg.scene_options
    assert opts.footprint_class == 1 and opts.vector_fill == 0 and 'class_field' not in opts
    # the short configs' precision rule: bf16 autocast where native, fp32 elsewhere
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('AutocastOptimWrapper', 'auto')
    ref = _reference_labels(rings)
    assert 0.02 < ref.mean() < 0.2  # sparse foreground, as footprints are
    with open_raster(tmp_path / 'fp' / 'scene.tif') as src:
        grid = scene_grid(src)
    got = load_labels(str(tmp_path / 'fp' / 'buildings.geojson'), grid,
                      footprint_class=opts.footprint_class, vector_fill=opts.vector_fill)
    np.testing.assert_array_equal(got, ref)
    share = 100 * ref.mean()
    assert (f'background {100 - share:.1f}%, buildings {share:.1f}%' in res.text), res.text
    # the plan for a sparse binary task (buildings under 10 % of the pixels), with its reasons
    assert share < 10 and '# plan (from the data statistics):' in res.text
    assert [loss.type for loss in cfg.model.decode_head.loss_decode] == [
        'AutoWeightCrossEntropyLoss', 'TverskyLoss']
    assert cfg.train_dataloader.dataset.oversample == dict(share=0.3333, classes=[1])
    assert 'oversample' not in cfg.val_dataloader.dataset
    hook = cfg.default_hooks.checkpoint
    assert (hook.save_best, hook.rule) == ('IoU.buildings', 'greater')


def test_footprint_class_name_and_sparse_annotations(tmp_path, cli):
    _footprint_scene(tmp_path / 'fp', name='labels.geojson')
    res = alt.init(tmp_path / 'fp', iters=10)
    assert _check_config(res.config).classes == ['background', 'foreground']
    res = alt.init(tmp_path / 'fp', iters=10, class_name='ponds', force=True)
    assert _check_config(res.config).classes == ['background', 'ponds']
    bad = cli('init', tmp_path / 'fp', '--unlabelled-outside', '--force')
    assert bad.returncode == 2 and ('error: --unlabelled-outside leaves footprints (polygons '
                                    'without --class-field) one class') in bad.stderr
    bad = cli('init', tmp_path / 'fp', '--class-name', 'x\ny', '--force')
    assert bad.returncode == 2 and "class name 'x\\ny' in --class-name holds" in bad.stderr


def test_sparse_annotations_with_a_class_field_leave_the_outside_unlabelled(tmp_path):
    """--unlabelled-outside: polygons with a class attribute that names a background too
    leave the pixels outside them ignored (vector_fill unset) instead of background."""
    data = tmp_path / 'sp'
    rings = _footprint_scene(data, props={'kind': 'background'})
    write_geojson(data / 'buildings.geojson', [(rings[0], {'kind': 'background'}),
                                               (rings[1], {'kind': 'field'})])
    (data / 'classes.json').write_text(json.dumps({'background': 'background',
                                                   'field': 'field'}))
    dense = _check_config(alt.init(data, iters=10, class_field='kind').config)
    assert dense.scene_options.vector_fill == 0
    sparse = _check_config(alt.init(data, iters=10, class_field='kind', force=True,
                                    unlabelled_outside=True).config)
    assert 'vector_fill' not in sparse.scene_options
    with pytest.raises(alt.InitOptionError, match='--class-name names the one class of '
                                                  'polygon footprints'):
        alt.init(data, iters=10, class_field='kind', class_name='x', force=True)
    # the attribute values name the classes; the outside is the background's index
    write_geojson(data / 'buildings.geojson', [(rings[0], {'kind': 'background'}),
                                               (rings[1], {'kind': 'agriculture'})])
    (data / 'classes.json').unlink()
    named = _check_config(alt.init(data, iters=10, class_field='kind', force=True).config)
    assert named.classes == ['agriculture', 'background']
    assert named.scene_options.vector_fill == 1


@pytest.mark.slow
def test_footprints_train_a_step_with_no_classes_json(tiny, tmp_path):
    _footprint_scene(tmp_path / 'fp')
    res = alt.init(tmp_path / 'fp', iters=10)
    assert not (tmp_path / 'fp' / 'classes.json').exists()
    _one_step(tiny, res.config, tmp_path)


# ---------------------------------------------------------------- the time budget


def _nuclei(data: Path) -> Path:
    """The stardist nuclei image (real, 512 x 512 uint16) and its mask as 0/1."""
    import shutil

    import rasterio

    from altair.datasets.sample_data import nuclei_image
    img, mask = nuclei_image()
    (data / 'images').mkdir(parents=True)
    (data / 'masks').mkdir()
    shutil.copy(img, data / 'images' / 'n.tif')
    with rasterio.open(mask) as src:
        write_tif(data / 'masks' / 'n.tif', (src.read(1) > 0).astype(np.uint8)[None],
                  crs=None)
    return data


@pytest.mark.parametrize('text, seconds', [('600', 600), ('90s', 90), ('10m', 600),
                                           ('1.5h', 5400), (' 2m ', 120), ('.5m', 30)])
def test_durations(text, seconds):
    from altair.api.init import parse_duration
    assert parse_duration(text) == seconds


@pytest.mark.parametrize('text', ['', '0', '-5m', '10 minutes', 'm', '1e3', '5d'])
def test_bad_durations_are_refused(text):
    from altair.api.init import InitOptionError, parse_duration
    with pytest.raises(InitOptionError, match='time budget'):
        parse_duration(text)


def test_iters_and_time_exclude_each_other(tmp_path):
    from altair.api.init import InitOptionError
    with pytest.raises(InitOptionError, match='--iters and --time'):
        alt.init(tmp_path, iters=10, time_budget='1m')


@pytest.mark.slow
def test_the_time_budget_is_filled_with_the_timed_steps(tmp_path, monkeypatch):
    """``--time`` fills the budget with the steps timed here: max_iters is the budget less
    the start-up and the validations, over the seconds a step took (a fixed timing stands in
    for the machine's, which varies 2x between machines of one kind; the real timing's
    planning is the next test's, the real trainings' minutes against the budget are in
    benchmarks/results/own_data_panel.json)."""
    from mmengine.config import Config

    import altair.api.init as api
    from altair.api.step_time import StepTiming
    timed = []

    def time_steps(config, echo=False):
        batch = Config.fromfile(str(config)).train_dataloader.batch_size
        timed.append(batch)
        return StepTiming(seconds_per_step=0.0625 * batch, batch_size=batch,
                          seconds_per_validation=0.5, seconds_to_start=1.0)
    monkeypatch.setattr(api, 'time_steps', time_steps)
    budget = 60.0
    res = alt.init(_nuclei(tmp_path / 'nuclei'), time_budget=f'{budget:g}s')
    cfg = Config.fromfile(str(res.config))
    batch, iters = cfg.train_dataloader.batch_size, cfg.train_cfg.max_iters
    assert timed[-1] == batch == res.timing.batch_size
    assert iters == int((budget - api.fixed_seconds(res.timing)) // (0.0625 * batch)) > 100
    assert (f'iterations: {iters} -- 1 min budget less 3 s of start-up and validation / '
            f'{0.0625 * batch:g} s per measured step = {iters}') in res.text
    # 500 steps of 0.0625 s per image fit 1 image per step in 60 s: batch norm's floor instead
    assert batch == 8 and 'fit 1 per step, raised to 8' in res.text


def test_the_real_step_timing_plans_the_iterations(tmp_path):
    """The same with the steps timed on this machine: the iterations follow the planning
    rule from the timing init measured (clamped to 100..160000)."""
    from mmengine.config import Config

    from altair.api.init import fixed_seconds
    from altair.datasets.plan import MAX_ITERS, MIN_ITERS
    budget = 45.0
    res = alt.init(_nuclei(tmp_path / 'nuclei'), time_budget=f'{budget:g}s')
    iters = Config.fromfile(str(res.config)).train_cfg.max_iters
    step = res.timing.seconds_per_step
    assert step > 0 and res.timing.seconds_per_validation > 0
    planned = int((budget - fixed_seconds(res.timing)) // step)
    assert iters == min(max(planned, MIN_ITERS), MAX_ITERS)


def test_the_recipe_is_one_choice_per_rule_each_one_line():
    from altair.api.init import recipe
    rare = recipe(['background', 'building'], [0.93, 0.07], scenes=True)
    assert list(rare) == ['loss', 'decision', 'checkpoint', 'oversampling', 'precision',
                          'memory_format']
    assert rare['decision'].value == 'class_weight'  # weighted CE: adjusted at inference
    assert rare['checkpoint'].value == 'IoU.building'
    assert rare['oversampling'].value == dict(fraction=1 / 3, classes=[1])
    for name, choice in rare.items():
        line = choice.line(name)
        assert line.startswith(f'{name}: ') and ' -- ' in line and '\n' not in line
    even = recipe(['a', 'b', 'c'], [1, 1, 1], scenes=False)
    assert 'oversampling' not in even and even['decision'].value is None
    assert even['checkpoint'].value == 'mIoU'


@pytest.mark.slow
def test_the_config_still_trains_after_the_data_folder_moves(tiny, tmp_path):
    """The config reaches its base through a file beside it and its data relative to its
    own folder (mmengine's {{ fileDirname }}): the checkout and the data can both move."""
    import shutil
    res = alt.init(_cells(tmp_path / 'here' / 'cells'), iters=10)
    assert "'{{ fileDirname }}'" in res.text and "_base_ = ['./altair_base_unet.py']" in res.text
    assert '/configs/' not in res.text  # no path into this checkout
    moved = tmp_path / 'elsewhere' / 'renamed cells'
    moved.parent.mkdir()
    shutil.move(str(tmp_path / 'here' / 'cells'), moved)
    cfg = _check_config(moved / 'altair_config.py')
    assert cfg.scene_options.data_root == str(moved)
    _one_step(tiny, moved / 'altair_config.py', tmp_path)


def test_a_folder_that_could_end_the_string_gets_an_absolute_data_root(tmp_path):
    """mmengine pastes {{ fileDirname }} into the code: a folder with a quote in its path is
    written as a literal instead, and a config that pastes such a folder is refused."""
    from altair.api.config_source import data_root_source
    from altair.config import ConfigValueError, load_config
    odd = tmp_path / "it's"
    odd.mkdir()
    assert data_root_source(odd, odd / 'c.py') == repr(str(odd))
    assert data_root_source(tmp_path, tmp_path / 'c.py') == "'{{ fileDirname }}'"
    assert data_root_source(tmp_path / 'd', tmp_path / 'c.py') == "'{{ fileDirname }}' + '/' + 'd'"
    assert data_root_source(tmp_path, tmp_path / 'sub' / 'c.py') == repr(str(tmp_path))
    (odd / 'c.py').write_text("data_root = '{{ fileDirname }}'\n")
    with pytest.raises(ConfigValueError, match="path holds a quote"):
        load_config(odd / 'c.py')


@pytest.mark.parametrize('iters, schedule', [
    (1, [('PolyLR', 0, 1)]),
    (2, [('LinearLR', 0, 1), ('PolyLR', 1, 2)]),
    (600, [('LinearLR', 0, 50), ('PolyLR', 50, 600)]),
])
def test_the_schedule_of_any_length_builds(iters, schedule):
    """A warm-up of a twelfth, then poly decay; `--iters 1` has no warm-up (a LinearLR
    ending where it begins stopped the training before its first step)."""
    import torch
    from mmengine.optim.scheduler import LinearLR, PolyLR

    from altair.api.init_render import scheduler_lines
    items = eval('[' + '\n'.join(scheduler_lines(iters)) + ']')  # the config's own lines
    assert [(d['type'], d['begin'], d['end']) for d in items] == schedule
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    for d in items:
        kind = {'LinearLR': LinearLR, 'PolyLR': PolyLR}[d.pop('type')]
        kind(optim, **d)  # mmengine refuses end <= begin


def test_the_config_goes_to_file_else_out_dir_else_the_data_folder(tmp_path):
    """``file=`` (``--file``) a path, ``out_dir=`` (``--out``) a folder, neither the data
    folder; ``out=``, the former name of ``file``, warns once; two places are refused."""
    import warnings

    from altair import errors
    from altair.datasets.data_plan import InitOptionError
    _footprint_scene(tmp_path / 'fp')
    assert alt.init(tmp_path / 'fp', iters=2).config == tmp_path / 'fp' / 'altair_config.py'
    assert alt.init(tmp_path / 'fp', iters=2, out_dir=tmp_path / 'o').config == \
        tmp_path / 'o' / 'altair_config.py'
    assert alt.init(tmp_path / 'fp', iters=2, file=tmp_path / 'f' / 'c.py').config == \
        tmp_path / 'f' / 'c.py'
    assert (tmp_path / 'f' / 'altair_base_unet.py').is_file()  # the base beside it
    errors._WARNED.discard('keyword out')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        res = alt.init(tmp_path / 'fp', iters=2, out=tmp_path / 'old.py')
    assert res.config == tmp_path / 'old.py'
    assert [str(w.message) for w in caught if w.category is FutureWarning] == [
        'out= is deprecated: use file=']
    with pytest.raises(InitOptionError, match='file and out_dir both'):
        alt.init(tmp_path / 'fp', iters=2, file=tmp_path / 'x.py', out_dir=tmp_path / 'y')
