"""``altair export RUN --format onnx|safetensors``: a trained model as one portable file.

- ``safetensors``: the weights (no pickle) plus the header of :mod:`altair.models.portable`
  (config, classes, palette, normalisation, band order, training crop), so
  ``alt.predict('model.safetensors', images=...)`` needs nothing else.
- ``onnx``: the segmentor's logits graph (dynamic batch, height and width; chosen opset) with
  the same header in the model's metadata; ``altair predict --backend onnxruntime
  model.onnx IMAGES`` runs it through the same sliding-window and TTA engine.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch

from altair.api.load import checkpoint_config, load_checkpoint_model
from altair.api.runs import CheckpointNotFoundError, is_run_reference, load_run
from altair.errors import AltairError
from altair.fileio import atomic_write, ensure_writable_dir
from altair.models.portable import HEADER_KEY, LogitsModule, model_header

logger = logging.getLogger('altair')
FORMATS = ('onnx', 'safetensors')
DEFAULT_OPSET = 18


class ExportError(AltairError, ValueError):
    """A bad export format, output path or opset, or a model the exporter cannot trace."""


def _source_config(source, root):
    """(loaded model on the CPU, its full config, default output stem folder)."""
    if is_run_reference(source):
        run = load_run(source, root)
        checkpoint = run.checkpoint()
        return (load_checkpoint_model(run.config_path, checkpoint, device='cpu'),
                run.config, run.dir / 'export' / run.id)
    path = Path(source)
    if path.suffix.lower() != '.pth' or not path.is_file():
        raise CheckpointNotFoundError(f"'{source}' is neither a run nor an existing .pth "
                                      'checkpoint')
    cfg = checkpoint_config(path)
    return load_checkpoint_model(cfg, path, device='cpu'), cfg, path.with_suffix('')


def export_model(source, *, format: str, out: str | os.PathLike | None = None,
                 out_dir: str | os.PathLike | None = None,
                 opset: int = DEFAULT_OPSET, root: str | os.PathLike | None = None) -> Path:
    """Write ``source`` (a run reference or a ``.pth`` checkpoint) as ``format``.

    Args:
        source: run id / unique prefix / ``'last'`` / ``Run``, or a checkpoint holding its
            config.
        format: ``'onnx'`` or ``'safetensors'``.
        out: the file (default: ``<run>/export/<run id>.<format>``, or next to the checkpoint).
        out_dir: a folder for that default name instead (``altair export --out DIR``).
        opset: ONNX opset version.
        root: the run store.

    Returns:
        The written file (atomically: a failed export leaves nothing).

    Raises:
        ExportError: a bad format, output path or opset, or a model the exporter cannot
            trace.
        RunNotFoundError: no run of that id.
        NoCheckpointError: the run has no checkpoint yet.
        CheckpointNotFoundError: a checkpoint path that does not exist.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format '{format}'; choose one of {', '.join(FORMATS)}")
    if format == 'onnx' and (isinstance(opset, bool) or not isinstance(opset, int)
                             or not 11 <= opset <= 23):
        raise ExportError(f'opset must be an int in 11..23, got {opset!r}')
    if out is not None and Path(out).suffix.lower() != f'.{format}':
        raise ExportError(f"output '{out}' should end in .{format}")
    if out is not None and out_dir is not None:
        raise ExportError(f"out '{out}' and out_dir '{out_dir}': give the file or the folder")
    model, cfg, stem = _source_config(source, root)
    path = Path(out) if out is not None else stem.with_name(stem.name + f'.{format}')
    if out_dir is not None:
        path = Path(out_dir) / path.name
    ensure_writable_dir(path.parent, 'export folder')
    header = model_header(model, cfg)
    if format == 'safetensors':
        return write_safetensors(model, header, path)
    return write_onnx(model, header, path, opset=opset)


def write_safetensors(model: torch.nn.Module, header: dict, path: Path) -> Path:
    """The model's state dict and ``header`` as ``path``."""
    from safetensors.torch import save_file

    # safetensors refuses tensors sharing memory: each one as its own contiguous copy
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(header)})
    return path


def write_onnx(model: torch.nn.Module, header: dict, path: Path, *, opset: int) -> Path:
    """The model's logits graph with ``header`` in its metadata as ``path``.

    torch's dynamo exporter traces the graph with a symbolic batch, height and width. Some
    models compute with sizes the trace fixes (PSPNet's adaptive pooling, UNet's skip
    crops): the exported graph is checked against torch at two other sizes, and where it
    differs it is exported again with a fixed window (the training crop, batch still
    dynamic); ``header['input_size']`` then says so, and the onnxruntime predictor pads
    smaller inputs to it.
    """
    model.eval()
    crop = tuple(header.get('train_crop') or (256, 256))
    mean = header['normalization'].get('mean')
    bands = len(mean) if mean else 3
    module = LogitsModule(model).eval()
    name = type(model.backbone).__name__
    logger.info(f'exporting {name} to ONNX opset {opset} (torch.onnx, dynamo; tens of seconds '
                'on a CPU)')
    with atomic_write(path) as tmp:
        _export(module, tmp, bands=bands, size=crop, dynamic_size=True, opset=opset)
        if not _matches_torch(module, tmp, bands=bands, crop=crop):
            logger.info(f"{name}'s graph does not keep height and width dynamic: exporting "
                        f'again with a fixed {crop[0]}x{crop[1]} window (batch dynamic)')
            _export(module, tmp, bands=bands, size=crop, dynamic_size=False, opset=opset)
            header = dict(header, input_size=list(crop))
        _add_header(tmp, header)
    return path


def _export(module: torch.nn.Module, path: Path, *, bands: int, size: tuple[int, int],
            dynamic_size: bool, opset: int) -> None:
    from torch.export import Dim
    # batch 2 and, traced dynamic, height != width: torch.export specialises sizes 0, 1 and
    # equal dims
    width = size[1] + 32 if dynamic_size and size[0] == size[1] else size[1]
    example = torch.randn(2, bands, size[0], width)
    shapes = {0: Dim('batch', min=1, max=4096)}
    if dynamic_size:
        shapes.update({2: Dim('height', min=16, max=65536), 3: Dim('width', min=16, max=65536)})
    try:
        with torch.no_grad():
            torch.onnx.export(module, (example,), str(path), input_names=['input'],
                              output_names=['logits'], opset_version=opset, dynamo=True,
                              dynamic_shapes={'x': shapes}, verbose=False,
                              # onnxruntime optimises the graph itself when it loads it: here
                              # the exporter's own pass cost 7 s of 26 and ran 25 % slower
                              optimize=False)
    except Exception as exc:
        raise ExportError(f'ONNX export of {type(module.segmentor).__name__} failed: '
                          f'{type(exc).__name__}: {str(exc).splitlines()[0]}') from exc


def _matches_torch(module: torch.nn.Module, path: Path, *, bands: int,
                   crop: tuple[int, int]) -> bool:
    """Whether the graph at ``path`` gives torch's logits (within 1e-3) at two sizes it was
    not traced at, and at batch 1 and 3."""
    import numpy as np
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    generator = torch.Generator().manual_seed(0)
    for shape in ((1, bands, *crop), (3, bands, crop[0] + 64, crop[1] - 32)):
        x = torch.randn(shape, generator=generator)
        with torch.no_grad():
            ref = module(x).numpy()
        try:
            [got] = session.run(None, {name: x.numpy()})
        except Exception:
            return False
        if got.shape != ref.shape or not np.allclose(got, ref, atol=1e-3, rtol=0):
            return False
    return True


def _add_header(path: Path, header: dict) -> None:
    import onnx

    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = HEADER_KEY, json.dumps(header)
    onnx.save(graph, str(path))
