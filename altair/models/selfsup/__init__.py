"""Self-supervised pretraining Altair adds to mmpretrain's: trainable DINO."""
from altair.models.selfsup.dino import DINO, DINOProjectionHead

__all__ = ['DINO', 'DINOProjectionHead']
