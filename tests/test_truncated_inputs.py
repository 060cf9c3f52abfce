"""Files cut short (an interrupted copy or download) at seeded random offsets: every command
that reads them says so in one ``error:`` line naming the file and exits 2, never a
traceback. Rasters (GeoTIFF, PNG) through ``altair predict``; label rasters, polygon files
(GeoPackage, GeoJSON, shapefile) and NIfTI volumes through ``altair init``, which reads
every label and volume of a data folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

CUTS = 5  # random offsets per file (with the same seed every run)
TRANSFORM = (0.001, 0, 10, 0, -0.001, 45)  # 64 x 80 pixels of 0.001 degrees


def offsets(size: int, seed: int, *, end: int | None = None) -> list[int]:
    """``CUTS`` distinct offsets in [0, ``end``) (default: the file's ``size``), always one
    in the first 100 bytes (a header cut short) and one in the last tenth."""
    end = size if end is None else end
    rng = np.random.default_rng(seed)
    picked = {int(rng.integers(0, min(100, end))), int(rng.integers(end - end // 10, end))}
    while len(picked) < CUTS:
        picked.add(int(rng.integers(0, end)))
    return sorted(picked)


def cut(src: Path, dst: Path, at: int) -> Path:
    dst.write_bytes(src.read_bytes()[:at])
    return dst


def error_line(proc, path: Path) -> str:
    """The run's one ``error:`` line, asserted last, exit status 2, no traceback, naming
    ``path``."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    errors = [ln for ln in lines if ln.startswith('error')]
    assert len(errors) == 1 and errors[0] == lines[-1], lines[-5:]
    assert f"'{path}'" in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope='module')
def whole(tmp_path_factory) -> dict[str, Path]:
    """Complete files: a 3-band GeoTIFF, a PNG, a label GeoTIFF, polygons in three formats
    (attribute ``cls``) and two pairs of NIfTI volumes (.nii and .nii.gz)."""
    import nibabel as nib
    import pyogrio.raw
    import shapely

    from altair.raster.write import write_geotiff
    root = tmp_path_factory.mktemp('whole')
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    write_geotiff(root / 'scene.tif', image, transform=TRANSFORM)
    cv2.imwrite(str(root / 'photo.png'), image)
    write_geotiff(root / 'labels.tif', rng.integers(0, 3, (64, 80), dtype=np.uint8),
                  transform=TRANSFORM)
    boxes = [shapely.box(10 + 0.01 * i, 44.94, 10.01 + 0.01 * i, 44.98) for i in range(8)]
    classes = np.array(['water', 'land'] * 4, dtype=object)
    for name, driver in (('labels.gpkg', 'GPKG'), ('labels.geojson', 'GeoJSON'),
                         ('labels.shp', 'ESRI Shapefile')):
        pyogrio.raw.write(root / name, shapely.to_wkb(np.array(boxes)), [classes], ['cls'],
                          driver=driver, crs='EPSG:4326', geometry_type='Polygon')
    for suffix in ('.nii', '.nii.gz'):
        for i in range(2):
            vol = rng.normal(0, 100, (24, 20, 12)).astype(np.float32)
            lab = rng.integers(0, 3, (24, 20, 12)).astype(np.uint8)
            nib.save(nib.Nifti1Image(vol, np.eye(4)), root / f'case{i}{suffix}')
            nib.save(nib.Nifti1Image(lab, np.eye(4)), root / f'case{i}_labels{suffix}')
    return {p.name: p for p in root.iterdir()}


@pytest.mark.parametrize('name', ['scene.tif', 'photo.png'])
def test_predict_names_a_truncated_image(name, whole, checkpoint, tmp_path, cli):
    for i, at in enumerate(offsets(whole[name].stat().st_size, seed=len(name))):
        image = cut(whole[name], tmp_path / f'cut{i}{whole[name].suffix}', at)
        out = tmp_path / f'out{i}'
        proc = cli('predict', 'configs/pspnet.py', checkpoint, image, '--out', out,
                   '--save', 'labels')
        line = error_line(proc, image)
        assert any(word in line for word in ('truncated', 'cannot read', 'cannot decode')), line
        assert not out.exists() or [p for p in out.rglob('*') if p.is_file()] == []


def scenes_folder(folder: Path, whole: dict, labels: str) -> Path:
    folder.mkdir()
    shutil.copy(whole['scene.tif'], folder / 'scene.tif')
    stem = labels.rsplit('.', 1)[0]
    for name, path in whole.items():  # a shapefile's .shx, .dbf and .prj come along
        if name.rsplit('.', 1)[0] == stem and name.endswith(('.shx', '.dbf', '.prj', '.cpg')):
            shutil.copy(path, folder / name)
    return folder


@pytest.mark.parametrize('labels', ['labels.tif', 'labels.gpkg', 'labels.geojson',
                                    'labels.shp'])
def test_init_names_truncated_labels(labels, whole, tmp_path, cli):
    data = whole[labels].read_bytes()
    # a GeoJSON's trailing newline holds no feature: cutting only it loses nothing
    end = len(data.rstrip()) if labels.endswith('.geojson') else len(data)
    for i, at in enumerate(offsets(len(data), seed=len(labels), end=end)):
        folder = scenes_folder(tmp_path / f'data{i}', whole, labels)
        target = cut(whole[labels], folder / labels, at)
        args = ['--class-field', 'cls'] if labels != 'labels.tif' else []
        proc = cli('init', folder, *args)
        line = error_line(proc, target)
        assert 'truncated' in line or 'cannot read' in line, line
        assert not (folder / 'altair_config.py').exists()


def test_init_names_a_truncated_scene(whole, tmp_path, cli):
    for i, at in enumerate(offsets(whole['scene.tif'].stat().st_size, seed=1)):
        folder = scenes_folder(tmp_path / f'data{i}', whole, 'labels.tif')
        shutil.copy(whole['labels.tif'], folder / 'labels.tif')
        target = cut(whole['scene.tif'], folder / 'scene.tif', at)
        error_line(cli('init', folder), target)


@pytest.mark.parametrize('suffix', ['.nii', '.nii.gz'])
@pytest.mark.parametrize('which', ['case1', 'case1_labels'])
def test_init_names_a_truncated_volume(suffix, which, whole, tmp_path, cli):
    """A .nii is checked against the size its header gives; a .nii.gz fails where the cut
    is read (its last 8 bytes, the gzip checksum and length, hold no voxel: not cut)."""
    source = whole[which + suffix]
    size = source.stat().st_size
    end = size - 8 if suffix == '.nii.gz' else size
    for i, at in enumerate(offsets(size, seed=len(which + suffix), end=end)):
        folder = tmp_path / f'data{i}'
        for kind in ('imagesTr', 'labelsTr'):
            (folder / kind).mkdir(parents=True)
        for j in range(2):
            shutil.copy(whole[f'case{j}{suffix}'], folder / 'imagesTr' / f'case{j}{suffix}')
            shutil.copy(whole[f'case{j}_labels{suffix}'],
                        folder / 'labelsTr' / f'case{j}{suffix}')
        kind = 'labelsTr' if which.endswith('labels') else 'imagesTr'
        target = cut(source, folder / kind / f'case1{suffix}', at)
        line = error_line(cli('init', folder), target)
        assert 'truncated' in line or 'cannot read' in line, line
