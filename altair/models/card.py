"""What prediction needs to know of a model besides its weights, as one typed record.

A loaded model carries one :class:`ModelCard` (``model.altair_card``): written by the
loaders (a checkpoint and its config, an exported ``.safetensors`` / ``.onnx`` header) and
read by prediction, so no reader depends on how the model was loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE = 'altair_card'


@dataclass(frozen=True)
class ModelCard:
    """Attributes:
        classes: class names (None where the model does not say).
        palette: one RGB triple per class, or None.
        train_crop: (h, w) the model trained on: the default prediction window.
        raster: how its images were read: ``bands`` (1-based indices or descriptions),
            ``nodata``, ``file_order`` (bands as stored, not OpenCV's BGR).
        source: what a resumed prediction must find unchanged (file identities).
        signature: a speed-cache key where the parameters do not describe the model (an
            onnxruntime session), else None.
    """
    classes: tuple[str, ...] | None = None
    palette: tuple[tuple[int, int, int], ...] | None = None
    train_crop: tuple[int, int] | None = None
    raster: dict[str, Any] = field(default_factory=dict)
    source: Any = None
    signature: str | None = None


def card_of(model: Any) -> ModelCard:
    """``model``'s card; a model loaded some other way (a segmentor built by hand) gets one
    from its ``dataset_meta`` alone."""
    card = getattr(model, ATTRIBUTE, None)
    if card is not None:
        return card
    meta = getattr(model, 'dataset_meta', None) or {}
    return ModelCard(classes=_names(meta.get('classes')), palette=_colours(meta.get('palette')),
                     source=type(model).__name__)


def attach_card(model: Any, *, train_crop=None, raster: dict | None = None, source: Any = None,
                signature: str | None = None) -> Any:
    """Give ``model`` its card, the classes and palette taken from its ``dataset_meta`` (which
    mmseg's own tools read); returns the model."""
    meta = getattr(model, 'dataset_meta', None) or {}
    crop = tuple(int(v) for v in train_crop) if train_crop else None
    setattr(model, ATTRIBUTE, ModelCard(
        classes=_names(meta.get('classes')), palette=_colours(meta.get('palette')),
        train_crop=crop, raster=dict(raster or {}), source=source, signature=signature))
    return model


def _names(classes) -> tuple[str, ...] | None:
    return tuple(str(c) for c in classes) if classes else None


def _colours(palette) -> tuple[tuple[int, int, int], ...] | None:
    return tuple(tuple(int(v) for v in p) for p in palette) if palette else None
