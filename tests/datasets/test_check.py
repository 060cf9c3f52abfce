"""`altair check-data`: one test per kind of bad input, each asserting the message."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from altair.datasets.check import check_dataset, format_report

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]


def _cfg(root: Path, **dataset) -> Config:
    ds = dict(type='BlueMarbleDataset', data_root=str(root),
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              pipeline=LOAD)
    ds.update(dataset)
    return Config(dict(default_scope='altair', train_dataloader=dict(dataset=ds)))


def _write(root: Path, name: str, img: np.ndarray | None, mask: np.ndarray | None) -> None:
    for sub, arr in (('img_dir', img), ('ann_dir', mask)):
        if arr is not None:
            (root / sub / 'train').mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(root / sub / 'train' / f'{name}.png'), arr)


def _good(root: Path, name: str = 'good', size=(32, 40)) -> None:
    h, w = size
    mask = np.zeros((h, w), np.uint8)
    mask[:, w // 2:] = 3
    mask[0, 0] = 255  # ignore index: fine
    _write(root, name, np.full((h, w, 3), 100, np.uint8), mask)


def _messages(root: Path, **dataset) -> list[str]:
    report = check_dataset(_cfg(root, **dataset), progress=False)
    return [str(f).replace(str(root), '<root>') for f in report.findings]


def test_a_clean_dataset_passes_with_class_counts(tmp_path):
    _good(tmp_path, 'a')
    _good(tmp_path, 'b')
    report = check_dataset(_cfg(tmp_path), progress=False)
    assert report.ok and report.splits[0].images == 2
    pixels = report.splits[0].class_pixels
    assert pixels[0] == 2 * (32 * 20 - 1) and pixels[3] == 2 * 32 * 20 and pixels.sum() == pixels[0] + pixels[3]
    assert report.splits[0].ignored_pixels == 2
    assert [str(f) for f in report.findings] == [  # classes never seen are flagged
        f"warning: train: {tmp_path}/ann_dir/train: class '{c}' has no pixel in the training set"
        for c in ('forest', 'shrubland', 'grassland', 'cropland', 'snow_ice', 'barren')]
    text = format_report(report)
    assert 'train: 2 images, 2560 labelled pixels (2 ignored)' in text
    assert text.endswith('0 error(s), 6 warning(s)')


def _errors(root: Path, **dataset) -> list[str]:
    return [m for m in _messages(root, **dataset) if m.startswith('error')]


def test_corrupt_image(tmp_path):
    _good(tmp_path)
    (tmp_path / 'img_dir' / 'train' / 'good.png').write_bytes(b'not a png')
    assert _errors(tmp_path) == ['error: train: <root>/img_dir/train/good.png: cannot be read '
                                 '(ValueError: not a decodable image (corrupt or truncated?))']


def test_truncated_image(tmp_path):
    _good(tmp_path)
    path = tmp_path / 'img_dir' / 'train' / 'good.png'
    path.write_bytes(path.read_bytes()[:60])
    assert _errors(tmp_path) == ['error: train: <root>/img_dir/train/good.png: cannot be read '
                                 '(ValueError: not a decodable image (corrupt or truncated?))']


def test_truncated_mask(tmp_path):
    _good(tmp_path)
    path = tmp_path / 'ann_dir' / 'train' / 'good.png'
    path.write_bytes(path.read_bytes()[:60])
    errors = _errors(tmp_path)
    assert len(errors) == 1 and errors[0].startswith(
        'error: train: <root>/ann_dir/train/good.png: cannot be read (')


def test_mask_size_differs_from_image(tmp_path):
    _write(tmp_path, 'x', np.zeros((32, 40, 3), np.uint8), np.zeros((30, 40), np.uint8))
    assert _errors(tmp_path) == [
        'error: train: <root>/ann_dir/train/x.png: mask is 40x30 but its image is 40x32']


def test_mask_values_outside_the_classes(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[0, :3] = 9
    mask[1, :] = 200
    mask[2, :] = 255  # the ignore index is fine
    _write(tmp_path, 'x', np.zeros((16, 16, 3), np.uint8), mask)
    assert _errors(tmp_path) == [
        'error: train: <root>/ann_dir/train/x.png: mask values 9 (3 px), 200 (16 px) are not '
        'classes (0-7) nor the ignore index 255']


def test_reduce_zero_label_shifts_the_values(tmp_path):
    mask = np.full((16, 16), 8, np.uint8)  # class 7 once 1 is subtracted
    mask[0] = 0  # becomes the ignore index
    _write(tmp_path, 'x', np.zeros((16, 16, 3), np.uint8), mask)
    assert _errors(tmp_path, reduce_zero_label=True) == []
    mask[1] = 9  # 8 after the shift: not a class
    _write(tmp_path, 'x', None, mask)
    assert _errors(tmp_path, reduce_zero_label=True) == [
        'error: train: <root>/ann_dir/train/x.png: mask values 8 (16 px) are not classes (0-7) '
        'nor the ignore index 255']


def test_image_without_mask(tmp_path):
    _good(tmp_path)
    _write(tmp_path, 'lonely', np.zeros((16, 16, 3), np.uint8), None)
    assert _errors(tmp_path) == [
        'error: train: <root>/img_dir/train/lonely.png: has no mask (expected '
        '<root>/ann_dir/train/lonely.png)']


def test_missing_empty_and_mislaid_folders(tmp_path):
    assert _errors(tmp_path) == ['error: train: <root>/img_dir/train: image folder does not '
                                 'exist (data_root + data_prefix.img_path)']
    (tmp_path / 'img_dir' / 'train').mkdir(parents=True)
    assert _errors(tmp_path) == ["error: train: <root>/img_dir/train: no '*.png' images; it is "
                                 'empty']
    cv2.imwrite(str(tmp_path / 'img_dir' / 'train' / 'a.jpg'), np.zeros((8, 8, 3), np.uint8))
    assert _errors(tmp_path) == ["error: train: <root>/img_dir/train: no '*.png' images; it "
                                 'holds .jpg files (img_suffix?)']
    cv2.imwrite(str(tmp_path / 'img_dir' / 'train' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert _errors(tmp_path) == ['error: train: <root>/ann_dir/train: mask folder does not '
                                 'exist (data_root + data_prefix.seg_map_path)']


@pytest.mark.parametrize('img, level, message', [
    (np.zeros((16, 16), np.uint8), 'warning',
     "1 band: LoadImageFromFile(color_type='color') repeats it into 3 identical channels"),
    (np.zeros((16, 16, 4), np.uint8), 'error',
     "4 bands, but LoadImageFromFile(color_type='color') keeps 3 and drops the 4th; use "
     "color_type='unchanged' and 4-value mean/std"),
    (np.zeros((16, 16, 3), np.uint16), 'error',
     "uint16 image, but LoadImageFromFile(color_type='color') decodes to 8 bits and loses the "
     "rest; use color_type='unchanged' and a data_preprocessor with matching mean/std"),
    (np.zeros((8, 400, 3), np.uint8), 'warning',
     '400x8 pixels (aspect 50:1): crops of it are mostly padding (ignored pixels); tile or '
     'resize it'),
])
def test_bands_bit_depth_and_aspect_the_pipeline_would_mishandle(tmp_path, img, level, message):
    _write(tmp_path, 'x', img, np.zeros(img.shape[:2], np.uint8))
    found = [m for m in _messages(tmp_path) if 'has no pixel' not in m]
    assert found == [f'{level}: train: <root>/img_dir/train/x.png: {message}']


def test_unchanged_decoding_accepts_16_bit_and_4_bands(tmp_path):
    _write(tmp_path, 'x', np.zeros((16, 16, 4), np.uint16), np.zeros((16, 16), np.uint8))
    pipeline = [dict(type='LoadImageFromFile', color_type='unchanged'), *LOAD[1:]]
    assert _errors(tmp_path, pipeline=pipeline) == []


def test_cli_exit_status(tmp_path, cli):
    _good(tmp_path)
    cfg = tmp_path / 'cfg.py'
    _cfg(tmp_path).dump(str(cfg))
    ok = cli('check-data', cfg)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.splitlines()[-1] == '0 error(s), 6 warning(s)'
    (tmp_path / 'ann_dir' / 'train' / 'good.png').unlink()
    bad = cli('check-data', cfg)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[0].startswith('error: train: ')
    assert bad.stdout.splitlines()[-1] == ('1 error(s), 8 warning(s): fix the errors before '
                                           'training')


def test_training_stops_at_a_bad_sample_naming_its_files(tmp_path, in_repo_root):
    """The same problems during training: CheckSegSample follows LoadAnnotations."""
    import altair as alt
    from altair.datasets.transforms import SegSampleError
    _good(tmp_path, 'a', size=(64, 64))
    _write(tmp_path, 'b', np.zeros((64, 64, 3), np.uint8), np.zeros((60, 64), np.uint8))
    opts = {'train_dataloader.dataset.data_root': str(tmp_path),
            'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
            'train_dataloader.batch_size': 2, 'train_cfg.max_iters': 1,
            'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
            'test_cfg': None, 'test_dataloader': None, 'test_evaluator': None}
    with pytest.raises(SegSampleError) as info:
        alt.train('configs/pspnet.py', cfg_options=opts, work_dir=tmp_path / 'w',
                  root=tmp_path / 'runs')
    assert str(info.value) == (
        f'mask {tmp_path}/ann_dir/train/b.png (image {tmp_path}/img_dir/train/b.png) is 64x60 '
        'but its image is 64x64; run `altair check-data CONFIG` to list all')


def test_check_seg_sample_values():
    from altair.datasets.transforms import CheckSegSample, SegSampleError
    check = CheckSegSample(num_classes=3, ignore_index=255)
    mask = np.array([[0, 2, 255]], np.uint8)
    sample = dict(img=np.zeros((1, 3, 3)), gt_seg_map=mask, seg_map_path='m.png',
                  img_path='i.png')
    assert check(sample) is sample
    mask[0, 0] = 7
    with pytest.raises(SegSampleError, match=r'^mask m.png \(image i.png\) has values 7, which '
                       r'are not classes \(0-2\) nor the ignore index 255'):
        check(sample)


def test_prepare_config_inserts_the_check_after_load_annotations(in_repo_root):
    from altair.config import load_config
    from altair.api.compile import compile_config
    cfg = compile_config(load_config('configs/pspnet.py'), work_dir='w', launcher='none')
    for split in ('train', 'val', 'test'):
        types = [s['type'] for s in cfg[f'{split}_dataloader'].dataset.pipeline]
        i = types.index('LoadAnnotations')
        assert types[i + 1] == 'CheckSegSample' and types.count('CheckSegSample') == 1
    step = cfg.train_dataloader.dataset.pipeline[2]
    assert (step.num_classes, step.ignore_index) == (8, 255)


def test_every_member_of_a_concat_dataset_is_checked_and_counted(tmp_path):
    from altair.datasets.check import DatasetFolderError, check_dataset_folders
    a, b = tmp_path / 'a', tmp_path / 'b'
    _good(a, 'x')
    _good(b, 'y', size=(16, 20))
    member = lambda root: dict(  # noqa: E731
        type='BlueMarbleDataset', data_root=str(root), pipeline=LOAD,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'))
    cfg = Config(dict(default_scope='altair', train_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[member(a), dict(type='RepeatDataset', times=2,
                                                        dataset=member(b))]))))
    check_dataset_folders(cfg, ['train'])
    report = check_dataset(cfg, progress=False)
    assert [s.split for s in report.splits] == ['train', 'train']
    # each member's mask: half class 0, half class 3, one ignored pixel
    assert [s.class_pixels[[0, 3]].tolist() for s in report.splits] == [[639, 640], [159, 160]]
    cfg.train_dataloader.dataset.datasets[1].dataset.data_root = str(tmp_path / 'nope')
    with pytest.raises(DatasetFolderError, match='train_dataloader.dataset: .*nope/img_dir/'
                                                 'train: image folder does not exist'):
        check_dataset_folders(cfg, ['train'])
