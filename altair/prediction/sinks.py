"""Where the finished rows of a prediction go: the :class:`Sink` protocol, and the
:class:`Band` every sink reads, decoded once whatever the set of sinks.

The engine (``altair.inference.sliding``) hands each finished band of blended scores to
one callable; :class:`FanOut` decodes it (one argmax; probabilities and the uncertainty
only when a sink asked for them) and passes the same :class:`Band` to every sink.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch
from torch import Tensor

from altair.inference.postprocess import labels_from_logits
from altair.inference.uncertainty import TTA_MEASURES, entropy, margin


def label_nodata(num_classes: int) -> int:
    """The label value written where the input has no data: 255, or 65535 beyond 255 classes."""
    return 255 if num_classes <= 255 else 65535


@dataclass
class Band:
    """Rows ``[row0, row0 + rows)`` of a prediction, decoded.

    Attributes:
        scores: (K, rows, W) blended class scores (a view, valid during the call).
        valid: (rows, W) bool data mask, or None when every pixel has data.
        argmax: (rows, W) int64 class of the largest score, nodata pixels included.
        labels: ``argmax`` with the nodata label (:func:`label_nodata`) where not ``valid``.
        probs: (K, rows, W) float32 softmax, NaN where not valid; None unless asked for.
        uncertainty: (rows, W) float32 of the measure asked for, NaN where not valid; or None.
    """
    row0: int
    scores: Tensor
    valid: Tensor | None
    argmax: Tensor
    labels: Tensor
    probs: Tensor | None = None
    uncertainty: Tensor | None = None

    @property
    def rows(self) -> int:
        return self.scores.shape[1]


def decode(row0: int, logits: Tensor, valid: Tensor | None, num_classes: int, *,
           probs: bool = False, uncertainty: str | None = None) -> Band:
    """The :class:`Band` of a band of blended ``logits`` (K class scores, plus the TTA
    uncertainty as channel K+1 for the TTA measures); ``entropy`` and ``margin`` come from
    the probabilities, which are only computed when they or ``probs`` need them."""
    scores = logits[:num_classes]
    argmax = labels_from_logits(scores)
    need = probs or uncertainty in ('entropy', 'margin')
    p = torch.softmax(scores.float(), 0) if need else None
    unc = None
    if uncertainty in TTA_MEASURES:
        if logits.shape[0] != num_classes + 1:
            raise ValueError(f"uncertainty '{uncertainty}' needs the TTA predictor's extra "
                             f'channel: got {logits.shape[0]} channels for {num_classes} classes')
        unc = logits[num_classes].float().clone()
    elif uncertainty == 'entropy':
        unc = entropy(p)
    elif uncertainty == 'margin':
        unc = margin(p)
    labels = argmax
    if valid is not None:
        invalid = ~valid
        labels = argmax.masked_fill(invalid, label_nodata(num_classes))
        if p is not None:
            p.masked_fill_(invalid, float('nan'))
        if unc is not None:
            unc.masked_fill_(invalid, float('nan'))
    return Band(row0, scores, valid, argmax, labels, p if probs else None, unc)


class Sink(Protocol):
    """What a prediction's bands are written to (labels, probabilities, polygons, arrays)."""

    def needs(self) -> tuple[bool, str | None]:
        """(whether its bands must carry probabilities, the uncertainty measure it writes)."""

    def __call__(self, band: Band) -> None:
        """Take the next band (bands arrive top to bottom, each once)."""

    def state(self) -> dict | None:
        """Make what was taken durable and return what a resumed run restarts from."""

    def close(self) -> dict:
        """Finish; the files written, by kind."""

    def abort(self, keep: bool = False) -> None:
        """Remove what was started (``keep``: leave it for a resume)."""


class FanOut:
    """The engine's sink: each band decoded once and handed to every sink in ``sinks``;
    ``row_offset`` is subtracted from the rows (a block of a split image writes its own
    files from row 0)."""

    def __init__(self, sinks: Sequence[Sink], num_classes: int, *, row_offset: int = 0
                 ) -> None:
        self.sinks, self.num_classes, self.row_offset = list(sinks), num_classes, row_offset
        needs = [s.needs() for s in self.sinks]
        self.probs = any(p for p, _ in needs)
        measures = {m for _, m in needs if m is not None}
        if len(measures) > 1:
            raise ValueError(f'sinks ask for different uncertainty measures: {sorted(measures)}')
        self.uncertainty = measures.pop() if measures else None

    def __call__(self, row0: int, logits: Tensor, valid: Tensor | None = None) -> None:
        band = decode(row0 - self.row_offset, logits, valid, self.num_classes,
                      probs=self.probs, uncertainty=self.uncertainty)
        for sink in self.sinks:
            sink(band)
