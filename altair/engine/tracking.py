"""Experiment tracking through mmengine's visualisation backends.

``--track tensorboard mlflow`` / ``alt.train(track=[...])`` / ``track = [...]`` in a config add
mmengine's ``TensorboardVisBackend`` and ``MLflowVisBackend`` to the visualizer, so whatever
mmengine logs — every loss term, the lr, each validation's metrics (``IoU.<class>``
included) — and the resolved config reach them; :class:`ValOverlayHook` adds a few
validation images with their predicted and true labels.

- TensorBoard event files go to the run's ``<work_dir>/<timestamp>/vis_data/``:
  ``tensorboard --logdir <work_dir>``.
- MLflow logs to ``$MLFLOW_TRACKING_URI`` when set, else to a local file store ``./mlruns``
  (experiment = the config name, MLflow run name = the Altair run id): ``mlflow ui``.
  MLflow 3.7+ refuses a file store unless ``MLFLOW_ALLOW_FILE_STORE=true`` (it would rather
  have a database, which needs SQLAlchemy, not in ``mlflow-skinny``): Altair sets that
  variable in the training process when it picks ``./mlruns`` itself.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from altair.errors import AltairError
from altair.registry import HOOKS
from altair.visualization.overlay import blend, colorize, default_palette, to_display_rgb

TRACKERS = ('tensorboard', 'mlflow')
# what each tracker needs installed (pip install 'altair-seg[track]')
_PACKAGES = dict(tensorboard='tensorboard', mlflow='mlflow')


class TrackingError(AltairError, ValueError):
    """An unknown tracker, or one whose package is not installed."""


def check_track(track) -> list[str]:
    """``track`` (None, a name or a list of names) as a list of known trackers.

    Raises:
        TrackingError: a name not in :data:`TRACKERS`, or a tracker not installed.
    """
    if track is None or track is False:
        return []
    names = [track] if isinstance(track, str) else list(track)
    for name in names:
        if name not in TRACKERS:
            raise TrackingError(f"unknown tracker '{name}' in track; choose from "
                                f"{', '.join(TRACKERS)}")
        try:
            __import__(_PACKAGES[name])
        except ImportError:
            raise TrackingError(f"track '{name}' needs the {_PACKAGES[name]} package, which is "
                                "not installed: pip install 'altair-seg[track]'") from None
    return list(dict.fromkeys(names))


def mlflow_uri(cwd: str | os.PathLike | None = None) -> str:
    """``$MLFLOW_TRACKING_URI``, else the file store ``<cwd>/mlruns`` as a ``file:`` URI."""
    env = os.environ.get('MLFLOW_TRACKING_URI')
    if env:
        return env
    return (Path(cwd or os.getcwd()) / 'mlruns').resolve().as_uri()


def vis_backends(track: Sequence[str], *, experiment: str, run_name: str) -> list[dict]:
    """mmengine vis backend configs for the trackers in ``track`` (for MLflow's default file
    store, ``MLFLOW_ALLOW_FILE_STORE=true`` is set in this process, see module docstring)."""
    out = []
    for name in track:
        if name == 'tensorboard':
            out.append(dict(type='TensorboardVisBackend'))
        elif name == 'mlflow':
            if not os.environ.get('MLFLOW_TRACKING_URI'):
                os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
            out.append(dict(type='MLflowVisBackend', exp_name=experiment, run_name=run_name,
                            tracking_uri=mlflow_uri(),
                            # the run's log and resolved config as MLflow artifacts
                            artifact_suffix=('.log', '.py')))
    return out


def locations(track: Sequence[str], *, work_dir: str | os.PathLike, experiment: str,
              run_name: str) -> dict[str, str]:
    """Where each tracker of a run logs, as ``altair runs`` shows it."""
    out = {}
    for name in track:
        if name == 'tensorboard':
            out[name] = f'tensorboard --logdir {work_dir}'
        elif name == 'mlflow':
            out[name] = f'mlflow {mlflow_uri()} experiment {experiment} run {run_name}'
    return out


def overlay_panel(image: np.ndarray, pred: np.ndarray, truth: np.ndarray | None,
                  palette: Sequence[Sequence[int]], *, bgr: bool = False,
                  alpha: float = 0.5) -> np.ndarray:
    """(C, H, W) image, (H, W) predicted and true labels → (H, 2W or 3W, 3) uint8: the image,
    the prediction over it and the truth over it, side by side. ``bgr``: a 3-band image in
    OpenCV order, flipped to RGB for display."""
    if bgr and image.shape[0] == 3:
        image = image[::-1]
    rgb = to_display_rgb(np.ascontiguousarray(image))
    panels = [rgb, blend(rgb, colorize(pred, palette), alpha)]
    if truth is not None:
        panels.append(blend(rgb, colorize(truth, palette), alpha))
    return np.concatenate(panels, axis=1)


@HOOKS.register_module()
class ValOverlayHook(Hook):
    """Log the first ``max_images`` validation images of every validation to the visualizer's
    backends (TensorBoard, MLflow, the local ``vis_data/vis_image``) as
    image | prediction | truth panels, named ``val_overlay_<i>``, at the training step.

    Args:
        max_images: how many images per validation.
    """

    priority = 'NORMAL'

    def __init__(self, *, max_images: int = 4) -> None:
        self.max_images = max_images
        self._done = 0

    def before_val_epoch(self, runner) -> None:
        self._done = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not is_main_process() or self._done >= self.max_images or not outputs:
            return
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        pre = getattr(model, 'data_preprocessor', None)
        bgr = bool(getattr(pre, 'channel_conversion', False))
        meta = getattr(runner.val_dataloader.dataset, 'metainfo', None) or {}
        palette = meta.get('palette') or default_palette(256)  # as the prediction writers
        for image, sample in zip(data_batch['inputs'], outputs):
            if self._done >= self.max_images:
                break
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            truth = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
            image = image.cpu().numpy()
            if image.shape[1:] != pred.shape:  # a resized input: no pixel-aligned overlay
                continue
            log_image(runner.visualizer, f'val_overlay_{self._done}',
                      overlay_panel(image, pred, truth, palette, bgr=bgr), step=runner.iter)
            self._done += 1


def log_image(visualizer, name: str, image: np.ndarray, *, step: int) -> None:
    """``visualizer.add_image`` for every backend, except that MLflow gets a file name of
    its own per step (``<name>/iter_<step>.png``): mmengine hands it ``name`` as the artifact
    path, which needs an extension and would be overwritten at every validation."""
    for backend in getattr(visualizer, '_vis_backends', {}).values():
        if type(backend).__name__ == 'MLflowVisBackend':
            backend.experiment.log_image(image, f'{name}/iter_{step}.png')
        else:
            backend.add_image(name, image, step=step)
