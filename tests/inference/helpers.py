"""Predictors shared by the engine's tests (a helper module, not a test module)."""
from __future__ import annotations

import torch


def batch_dependent(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) → (B, 3, h, w) logits that change with the batch's composition: only
    identical batches reproduce them."""
    return torch.cat([x, -x, x * x], 1)[:, :3] * 0.5 + x.mean() * 1e-2
