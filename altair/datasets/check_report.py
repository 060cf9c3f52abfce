"""What ``altair check-data`` found: findings, and pixels per class per split."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Finding:
    level: str  # 'error' or 'warning'
    split: str
    path: str
    message: str

    def __str__(self) -> str:
        return f'{self.level}: {self.split}: {self.path}: {self.message}'


@dataclass
class SplitReport:
    split: str
    classes: tuple[str, ...]
    images: int = 0
    class_pixels: np.ndarray | None = None
    class_images: np.ndarray | None = None
    ignored_pixels: int = 0


@dataclass
class DataReport:
    findings: list[Finding] = field(default_factory=list)
    splits: list[SplitReport] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == 'error']

    @property
    def ok(self) -> bool:
        return not self.errors
