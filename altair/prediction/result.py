"""What a prediction returns for one image."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Outputs up to this many pixels are also returned as arrays; larger ones only as files.
IN_MEMORY_PIXELS = 1 << 26  # 67 Mpx: 64 MB of uint8 labels


@dataclass
class Prediction:
    """The result for one image.

    Attributes:
        source: the image file (None for an array).
        labels: (H, W) class indices as a NumPy array, or the path of the label GeoTIFF when
            the image has more than ``IN_MEMORY_PIXELS`` pixels.
        probs: (K, H, W) float32 probabilities when asked for (``return_probs``) and in memory.
        uncertainty: (H, W) float32 uncertainty when asked for and in memory (NaN = nodata).
        written: output files by kind (``labels``, ``overlay``, ``probs``, ``uncertainty``,
            ``preview``).
        sliding_window: whether the sliding-window engine ran.
        windows, skipped_windows: windows in the grid, and those skipped as nodata only.
    """
    source: Path | None
    labels: np.ndarray | Path
    probs: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    written: dict[str, Path] = field(default_factory=dict)
    sliding_window: bool = False
    windows: int = 0
    skipped_windows: int = 0

    def record(self) -> dict:
        """JSON-able, with the labels as their file (what another process is sent)."""
        return dict(source=str(self.source) if self.source else None,
                    labels=str(self.written['labels']),
                    written={k: str(v) for k, v in self.written.items()},
                    sliding_window=self.sliding_window, windows=self.windows,
                    skipped_windows=self.skipped_windows)

    @classmethod
    def from_record(cls, r: dict) -> 'Prediction':
        return cls(source=Path(r['source']) if r['source'] else None, labels=Path(r['labels']),
                   written={k: Path(v) for k, v in r['written'].items()},
                   sliding_window=r['sliding_window'], windows=r['windows'],
                   skipped_windows=r['skipped_windows'])
