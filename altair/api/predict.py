"""Predict label maps for images of any size: ``alt.predict`` and ``altair predict``.

The model is resolved here (a run, a checkpoint, an exported file, a segmentor); the rest is
``altair.prediction``: options (``options``), one image's pipeline (``pipeline``), the
per-image loop (``run``) and the many-process paths (``dist``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from altair.api.load import load_model
from altair.api.runs import Run, is_run_reference, resolve_model_source
from altair.errors import renamed_keyword
from altair.fileio import ensure_writable_dir
from altair.inference.shard import shard
from altair.models.portable import OnnxSegmentor
from altair.prediction import dist
from altair.prediction.cases import VolumeCase, volume_cases
from altair.prediction.images import image_inputs
from altair.prediction.options import PredictOptionError, PredictOptions
from altair.prediction.result import Prediction
from altair.prediction.run import check_split, mosaic_inputs, predict_images

__all__ = ['predict', 'predict_with', 'load_model', 'Prediction', 'PredictOptionError']


def check_backend(model, backend: str) -> None:
    """``backend`` ``'onnxruntime'`` needs an ``.onnx`` model, ``'torch'`` refuses one
    (checked before anything loads).

    Raises:
        PredictOptionError: naming the model and what to do.
    """
    onnx = isinstance(model, OnnxSegmentor) or (
        isinstance(model, (str, os.PathLike)) and str(model).lower().endswith('.onnx'))
    if backend == 'onnxruntime' and not onnx:
        raise PredictOptionError(f"backend 'onnxruntime' runs an exported .onnx model, got "
                                 f'{str(model)!r}: altair export RUN --format onnx first')
    if backend == 'torch' and onnx:
        raise PredictOptionError(f"'{model}' is an ONNX model: use backend 'onnxruntime'")


def resolve_model(model, device: str, root) -> tuple[torch.nn.Module, Path]:
    """(loaded model, default output folder) for a run id / Run / (config, ckpt) / module /
    ``.pth`` / ``.safetensors`` / ``.onnx``."""
    suffix = Path(str(model)).suffix.lower() if isinstance(model, (str, os.PathLike)) else ''
    if isinstance(model, torch.nn.Module):
        return model, Path('predictions')
    if suffix in ('.onnx', '.safetensors', '.pth'):
        return (load_model(model, device='cpu' if suffix == '.onnx' else device),
                Path('predictions'))
    if (isinstance(model, (tuple, list)) and len(model) == 2) or is_run_reference(model):
        config, checkpoint, run = resolve_model_source(
            *(model if isinstance(model, (tuple, list)) else (model,)), root=root)
        return (load_model(config, checkpoint, device=device),
                run.dir / 'predictions' if run is not None else Path('predictions'))
    raise PredictOptionError(f'model must be a run id, a Run, (config, checkpoint), a .pth, '
                             f'.safetensors or .onnx file, or a segmentor, got {model!r}')


def _spawn(n: int, model, inputs: list, options: PredictOptions, *, root, device: str
           ) -> list[Prediction]:
    """``predict`` of ``inputs`` in ``n`` local worker processes
    (``altair.prediction.dist``)."""
    if isinstance(model, Run):
        model, root = model.id, model.dir.parent
    if isinstance(model, (tuple, list)) and len(model) == 2:
        model = [str(model[0]), str(model[1])]
    elif not isinstance(model, str):
        raise PredictOptionError('several processes load the model themselves: give a run id '
                                 'or (config, checkpoint), not a segmentor')
    if any(isinstance(item, Tensor) for _, item in inputs):
        raise PredictOptionError('several processes read images from files, not arrays')
    options = options.replace(device=device, processes=None, gpus=None)
    images = [item.spec() if isinstance(item, VolumeCase) else str(item) for _, item in inputs]
    spec = dict(model=model, images=images, options=options.record(),
                root=None if root is None else str(root))
    run_model = tuple(model) if isinstance(model, list) else model
    with tempfile.TemporaryDirectory(prefix='altair_predict_') as tmp:
        found = dist.spawn(n, spec, Path(tmp), lambda: predict_with(run_model, images, options,
                                                                     root=root))
    for p in found:  # one kind whichever rank predicted it: the label file
        p.labels, p.probs, p.uncertainty = p.written['labels'], None, None
    return found


def predict(model, images, *, tta: bool = False, tta_transforms: Sequence[str] | None = None,
            tta_scales: Sequence[float] = (1.0,), tta_merge: str = 'soft_vote',
            sliding_window: bool | str = 'auto', window_size: int | tuple[int, int] | None = None,
            overlap: float = 0.25, stride: tuple[int, int] | None = None, blend: str = 'gaussian',
            window_batch: int | None = None, device: str = 'auto', precision: str = 'auto',
            out_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
            save: Sequence[str] = ('labels', 'overlay'), probs_dtype: str = 'uint8',
            return_probs: bool = False, nodata: float | None = None, uncertainty: str | None = None,
            format: str | None = None, polygons_format: str = 'gpkg', min_area: float = 0.0,
            simplify: float = 0.0, mosaic: str | None = None, resume: bool = False,
            processes: int | None = None, gpus: int | None = None, progress: bool = True,
            backend: str = 'auto', batch_size: int | None = None) -> list[Prediction]:
    """Predict every image with a trained model.

    Args:
        model: a run id (or prefix), a ``Run``, ``(config, checkpoint)``, a ``.pth``, an
            exported ``.safetensors`` / ``.onnx`` or a segmentor (see ``alt.load_model``).
        images: a file, a folder (recursively), a glob, a list of these, or a NumPy array
            (H, W) / (H, W, C) with bands in RGB order; or volume cases, each written as
            ``<case>_seg.nii.gz`` (``altair.prediction.cases`` and ``volumes``).
        tta: test-time augmentation; ``tta_transforms`` (default ``['hflip']``; naming them
            turns TTA on), ``tta_scales``, ``tta_merge``: see ``altair.inference.tta``.
        sliding_window: ``'auto'`` slides windows over images larger than the model's training
            crop and runs smaller ones whole; ``True`` / ``False`` force either.
        window_size: (h, w) of the windows (default: the training crop, else 512).
        overlap: fraction shared by neighbouring windows, in [0, 1); ``stride`` instead.
        blend: ``'gaussian'``, ``'linear'`` or ``'constant'`` window weights.
        window_batch: windows (and TTA views) per forward pass (former name ``batch_size``);
            default: measured once per architecture, device, window, precision (``autotune``).
        device: ``'auto'`` (CUDA when present), ``'cpu'``, ``'cuda:1'``, ...
        precision: ``'auto'`` (bf16 autocast where native: AVX512-BF16 / AMX, a bf16 GPU;
            else fp32; never fp16), ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        out_dir: where files go (default ``<run>/predictions`` for a run, else here).
        save: any of ``labels`` (GeoTIFF keeping the source georeference), ``overlay``
            (labels coloured over the image, PNG), ``probs`` (GeoTIFF), ``preview`` (labels
            coloured, PNG), ``polygons`` (GeoPackage / GeoJSON); ``()`` writes nothing.
        probs_dtype: ``'uint8'`` (probability × 255) or ``'float32'`` for ``probs``.
        return_probs: also return (K, H, W) probabilities in memory. root: the run store.
        nodata: the input's nodata value (default: the file's, else its alpha or mask band,
            else the value the model was trained with). Windows holding only nodata are
            skipped; nodata pixels are read as the model's mean and written as nodata
            (labels 255, float scores NaN, uint8 probabilities masked).
        uncertainty: also write ``<stem>_uncertainty.tif`` (float32): ``'entropy'``,
            ``'margin'``, or with TTA ``'tta-variance'`` / ``'tta-agreement'`` (formulas in
            ``altair.inference.uncertainty``).
        format: ``'cog'`` (Cloud-Optimized GeoTIFF; default if georeferenced) or ``'gtiff'``.
        polygons_format: ``'gpkg'`` (default) or ``'geojson'``, with ``save`` ``'polygons'``.
        min_area: polygons below this area (map units²) are dropped.
        simplify: polygon outlines are simplified with this tolerance (map units).
        resume: continue interrupted predictions from their journals (same arguments); an
            image without one starts fresh, so a requeued job reruns the same command.
        mosaic: all the images as one scene named ``mosaic`` (``<mosaic>_labels.tif``, ...):
            adjacent rasters on one pixel grid, read as a VRT (``altair.raster.mosaic``).
        processes: predict in that many local CPU processes (over gloo).
        gpus: predict in that many local processes, one per GPU. A torchrun / accelerate /
            Slurm job splits itself as both do: images shared out, one image cut into row
            blocks that join into the one-process outputs (``altair.prediction.dist``);
            labels are always written, every rank returns every result and must call
            ``predict``; ``model``: a run or (config, checkpoint), ``images``: files.
        backend: ``'auto'`` (onnxruntime for an ``.onnx`` model, else torch), ``'torch'`` or
            ``'onnxruntime'`` (``.onnx``, CPU, fp32: the same windows, TTA and writers).

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        AltairError: bad input, naming the bad value: RunNotFoundError, NoCheckpointError,
            ImageNotFoundError, UnsupportedImageError, WindowArgumentError, TTAConfigError,
            PredictOptionError.
    """
    options = PredictOptions.from_arguments(
        tta=tta, tta_transforms=tta_transforms, tta_scales=tta_scales, tta_merge=tta_merge,
        sliding_window=sliding_window, window_size=window_size, overlap=overlap, stride=stride,
        window_batch=renamed_keyword('batch_size', batch_size, 'window_batch', window_batch),
        blend=blend, device=device, precision=precision, out_dir=out_dir, save=save,
        probs_dtype=probs_dtype, return_probs=return_probs, nodata=nodata, format=format,
        uncertainty=uncertainty, polygons_format=polygons_format, min_area=min_area,
        simplify=simplify, mosaic=mosaic, resume=resume, processes=processes, gpus=gpus,
        progress=progress, backend=backend)
    return predict_with(model, images, options, root=root)


def predict_with(model, images, options: PredictOptions, *,
                 root: str | os.PathLike | None = None) -> list[Prediction]:
    """:func:`predict` with its options already validated (``alt.predict`` and each worker
    process of a many-process prediction call it)."""
    check_backend(model, options.backend)
    inputs = volume_cases(images) or image_inputs(images)  # bad paths fail before loading
    volumes = isinstance(inputs[0][1], VolumeCase)  # cases are never split
    if volumes and options.mosaic is not None:
        raise PredictOptionError('mosaic joins 2-D rasters; volumes are predicted one case '
                                 'at a time')
    workers = dist.worker_count(options)
    split = not volumes and (options.mosaic is not None or len(inputs) == 1)  # row blocks
    if workers > 1:
        if dist.detect_launcher() != 'none':
            raise PredictOptionError('processes / gpus start their own workers; a job '
                                     'started by torchrun or Slurm is split already')
        check_split(split, options)
        return _spawn(workers, model, inputs, options, root=root,
                      device='cpu' if options.processes else options.device)
    rank, world, local_rank, group = dist.process_group()
    split = split and world > 1
    if world > 1:
        check_split(split, options)
        if 'labels' not in options.save:  # the other processes' results come back as files
            options = options.replace(save=(*options.save, 'labels'))
        order = {str(item): i for i, (_, item) in enumerate(inputs)}
        if not split:
            inputs = shard(inputs, rank, world)
    device = options.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if world > 1 and device == 'cuda':
        device = f'cuda:{local_rank % torch.cuda.device_count()}'
    with mosaic_inputs(inputs, options.mosaic) as inputs:
        if options.out_dir is not None and options.save:
            ensure_writable_dir(options.out_dir)  # before the model loads
        net, default_out = resolve_model(model, device, root)
        if getattr(net, 'session', None) is not None:  # onnxruntime: fp32 on the CPU
            if options.precision not in ('auto', 'fp32'):
                raise PredictOptionError(f"precision '{options.precision}' with an ONNX model: "
                                         'onnxruntime runs the exported fp32 graph (use fp32)')
            options = options.replace(precision='fp32')
        out = Path(options.out_dir) if options.out_dir is not None else default_out
        results = predict_images(net, inputs, options, out=out, split=split, rank=rank,
                                 world=world, group=group)
    if world > 1:  # every rank returns every result
        return dist.gather(results, group, order)
    return results
