#!/usr/bin/env python
"""Volume prediction (issue #36): speed against MONAI slice by slice, and peak memory on a
volume larger than the rest of the process.

``--part speed``: one real volume, a slab of nilearn's MNI ICBM152 T1 (197 x 233 x 48, as
the ``mni_tissue`` panel dataset cuts it), predicted by the network ``altair init`` writes
for that dataset (a UNet, crop 192, fixed random weights: speed does not depend on them).
Altair: ``alt.predict`` of the case, end to end (read, scale, windows of several slices per
forward pass, write ``case_seg.nii``). MONAI: each slice, with the neighbours the model takes
as context channels, read and scaled the same way (Altair's ``SlabReader``), then
``monai.inferers.sliding_window_inference`` (same window, overlap 0.25, gaussian blending,
``sw_batch_size``), argmax, the volume saved with nibabel. Both in fp32, channels-last
windows, the same windows per forward pass: 4, and the number ``alt.predict`` probes as
fastest here by default; run alternately, best of ``--reps``. Two windows: the training
crop (192: 4 windows a slice, so each slice fills a batch on both sides) and 256 (a window
the slice fits in: MONAI runs one window a call, Altair the windows of several slices).
Reports slices per second per (window, batch), the headline ratio (the smaller over the
windows, at the default batch) and the labels' agreement (the blends differ: MONAI's
gaussian and padding are its own).

``--part memory``: the same T1 resampled (trilinear) to 512 x 512 x 400 and saved as
``.nii.gz``; peak RSS of a process predicting it (slices along the last axis, the one NIfTI
stores slowest) against a process that imports the same stack and reads the volume whole as
float32. The network is replaced by one 3 x 3 convolution so the run measures the pipeline
(reading, scaling, stitching, writing), not a network's activations.

Each part prints one JSON line and writes ``benchmarks/results/volume_predict_<part>.json``.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import write_results  # noqa: E402

BATCH = 4  # windows per forward pass: 4 (both sides), and Altair's default (probed here)
# (window, what it shows): the training crop, 4 windows a slice; and a window the slice fits
# in, one window a slice (MONAI runs one per call, Altair the windows of several slices)
WINDOWS = ((None, 'the training crop'), ((256, 256), 'a window the slice fits in'))


def mni_slab(folder: Path) -> tuple[Path, Path]:
    """(slab image, config): the panel's ``mni_tissue`` data and its ``altair init`` config."""
    from benchmarks.own_data import init_dataset
    config = init_dataset('mni_tissue', folder)
    return folder / 'mni_tissue' / 'images' / 'mni_slab1.nii', config


def random_model(config: Path):
    """The config's network with weights drawn from seed 0, as ``alt.load_model`` returns
    a model (the card says how it reads volumes)."""
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from altair.config import load_model_config, raster_options, training_crop
    from altair.models.card import attach_card
    cfg = load_model_config(Config.fromfile(str(config)))
    torch.manual_seed(0)
    model = init_model(cfg, None, device='cpu').eval()
    return attach_card(model, train_crop=training_crop(cfg), raster=raster_options(cfg))


def probed_batch(model, window) -> int:
    """The windows per forward pass ``alt.predict`` picks by default on this machine."""
    from altair.prediction.model import batch_for
    from altair.prediction.options import PredictOptions
    return batch_for(model, PredictOptions(precision='fp32'), bands(model), tuple(window),
                     slide=True, probe=True)


def bands(model) -> int:
    """Input bands of a volume model: each slice with its ``context`` neighbours each side."""
    return 2 * int(model.altair_card.raster['volume'].get('context', 0)) + 1


def altair_side(model, case: Path, out: Path, window=None, batch=BATCH) -> np.ndarray:
    import nibabel as nib

    import altair as alt
    [p] = alt.predict(model, case, out_dir=out, save=('labels',), precision='fp32',
                      window_batch=batch, window_size=window, progress=False)
    return np.asanyarray(nib.load(p.written['labels']).dataobj)


def monai_side(model, case: Path, out: Path, window=None, batch=BATCH) -> np.ndarray:
    """Slice by slice through MONAI's inferer, read and scaled as training reads them."""
    import nibabel as nib
    import torch
    from monai.inferers import sliding_window_inference

    from altair.datasets.cases import case_norms, open_case
    from altair.models.segmentor import window_predictor
    from altair.prediction.model import input_transform
    from altair.prediction.volumes import SlabReader
    facts = model.altair_card.raster['volume']
    axis, crop = facts['axis'], window or model.altair_card.train_crop
    context = int(facts.get('context', 0))
    arrays = open_case([str(case)])
    norms = case_norms(arrays, facts['normalize'])
    predictor, pre = window_predictor(model), input_transform(model, bands(model))

    def net(x):
        return predictor(pre(x).contiguous(memory_format=torch.channels_last))
    reader = SlabReader(arrays, norms, axis, context=context)
    labels = []
    with torch.no_grad():
        for k in range(arrays[0].shape[axis]):
            x = reader.read(k, k + 1)  # (1, C', H, W)
            logits = sliding_window_inference(x, crop, batch, net, overlap=0.25,
                                              mode='gaussian')
            labels.append(logits[0].argmax(0).numpy().astype(np.uint8))
    vol = np.stack(labels, axis)
    src = nib.load(str(case))
    out.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(vol, src.affine, src.header), str(out / 'case_seg.nii'))
    return vol


def speed(work: Path, reps: int) -> dict:
    import nibabel as nib
    case, config = mni_slab(work)
    model = random_model(config)
    axis = model.altair_card.raster['volume']['axis']
    slices = int(nib.load(str(case)).shape[axis])
    rows = []
    for (window, what), default in [(w, d) for w in WINDOWS for d in (False, True)]:
        window = tuple(window or model.altair_card.train_crop)
        batch = probed_batch(model, window) if default else BATCH
        times: dict = dict(altair=[], monai=[])
        labels = {}
        for rep in range(reps):  # alternate, so drift hits both sides alike
            for side, fn in (('altair', altair_side), ('monai', monai_side)):
                t0 = time.perf_counter()
                labels[side] = fn(model, case, work / f'{side}{rep}', window, batch)
                times[side].append(round(time.perf_counter() - t0, 3))
        ours, base = min(times['altair']), min(times['monai'])
        rows.append(dict(window=list(window), what=what, batch=batch, default_batch=default,
                         ours=round(slices / ours, 3),
                         baseline=round(slices / base, 3), ratio=round(base / ours, 3),
                         seconds=times, agreement=round(float(np.mean(
                             labels['altair'] == labels['monai'])), 5)))
    return dict(name='volume_predict_speed', unit='slices/s', volume=str(case.name),
                shape=list(labels['altair'].shape), slices=slices,
                precision='fp32', network='the UNet altair init writes for mni_tissue',
                ratio=min(r['ratio'] for r in rows if r['default_batch']), rows=rows)


def big_volume(work: Path, shape=(512, 512, 400)) -> Path:
    import nibabel as nib
    from scipy.ndimage import zoom

    from altair.datasets.sample_data import mni_template
    path = work / 'mni_t1_512x512x400.nii.gz'
    if not path.is_file():
        t1 = nib.load(str(mni_template()[0]))
        data = np.asarray(t1.dataobj, np.float32)
        factors = [n / d for n, d in zip(shape, data.shape)]
        big = zoom(data, factors, order=1).astype(np.int16)
        affine = t1.affine @ np.diag([1 / f for f in factors] + [1])
        nib.save(nib.Nifti1Image(big, affine), str(path))
    return path


def memory_worker(kind: str, case: str, config: str, out: str) -> None:
    """One side of ``--part memory`` in its own process; prints its JSON line."""
    import torch

    model = random_model(Path(config))  # the same imports on both sides
    t0 = time.perf_counter()
    if kind == 'altair':
        conv = torch.nn.Conv2d(bands(model), model.out_channels, 3, padding=1).eval()
        model.encode_decode = lambda x, metas: conv(x)
        altair_side(model, Path(case), Path(out))
    else:
        import nibabel as nib
        nib.load(case).get_fdata(dtype=np.float32)
    print(json.dumps(dict(kind=kind, seconds=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb())))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that
    over ``exec`` from the parent's size at ``fork``, so a child of a big parent reports at
    least the parent's memory."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(work: Path) -> dict:
    case = big_volume(work)
    _, config = mni_slab(work)
    found = {}
    for kind in ('whole', 'altair'):
        proc = subprocess.run([sys.executable, __file__, '--memory-worker', kind, str(case),
                               str(config), str(work / 'mem_out')], capture_output=True,
                              text=True, check=True)
        found[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    import nibabel as nib
    shape = nib.load(str(case)).shape
    return dict(name='volume_predict_memory', unit='MB peak RSS', shape=list(shape),
                float32_volume_mb=round(int(np.prod(shape)) * 4 / 2 ** 20, 1),
                ours=round(found['altair']['peak_rss_mb'], 1),
                baseline=round(found['whole']['peak_rss_mb'], 1),
                ratio=round(found['altair']['peak_rss_mb'] / found['whole']['peak_rss_mb'], 3),
                predict_seconds=round(found['altair']['seconds'], 1),
                network='one 3x3 convolution (the pipeline is measured)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--part', choices=['speed', 'memory'], action='append')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--keep', metavar='DIR', help='work in DIR and keep it (data reused)')
    p.add_argument('--memory-worker', nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix='volume_predict_'))
    work.mkdir(parents=True, exist_ok=True)
    for part in args.part or ['speed', 'memory']:
        line = speed(work, args.reps) if part == 'speed' else memory(work)
        print(json.dumps(line), flush=True)
        write_results(line['name'], line)


if __name__ == '__main__':
    main()
