"""Device placement and launcher detection: one config trains everywhere.

CUDA with NCCL when a GPU is visible, else the CPU with gloo; a process started by
``torchrun``, ``accelerate launch`` or Slurm is recognised from its environment.
"""
from __future__ import annotations

import os

import torch


def accelerator() -> str:
    """``'cuda'`` when a CUDA device is visible, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def dist_backend() -> str:
    """NCCL on CUDA, gloo on the CPU."""
    return 'nccl' if accelerator() == 'cuda' else 'gloo'


def detect_launcher(environ: dict | None = None) -> str:
    """mmengine launcher name for the current process.

    ``'pytorch'`` when torchrun/accelerate-style variables (RANK, WORLD_SIZE, LOCAL_RANK)
    describe a job of more than one process, ``'slurm'`` inside a multi-task Slurm step,
    else ``'none'``.
    """
    env = os.environ if environ is None else environ
    if 'RANK' in env and 'WORLD_SIZE' in env and int(env['WORLD_SIZE']) > 1:
        return 'pytorch'
    if 'SLURM_PROCID' in env and int(env.get('SLURM_NTASKS', '1')) > 1:
        return 'slurm'
    return 'none'


def init_cpu_process_group() -> None:
    """Start a gloo process group from the torchrun environment (env:// rendezvous).

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and fails without a GPU;
    a group that already exists makes the Runner skip its own initialisation.
    """
    import torch.distributed as dist
    if dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def init_distributed(launcher: str, **dist_cfg) -> None:
    """Start this process's group for ``launcher`` unless one exists: gloo on the CPU (only the
    ``pytorch`` launcher, env:// rendezvous), mmengine's ``init_dist`` (NCCL) on CUDA."""
    from mmengine.dist import init_dist, is_distributed
    if is_distributed():
        return
    if accelerator() == 'cpu':
        if launcher != 'pytorch':
            raise RuntimeError(
                f"launcher '{launcher}' on a machine without CUDA: only the 'pytorch' launcher "
                "(torchrun / tools/dist_train.sh / accelerate launch) runs on the CPU")
        init_cpu_process_group()
    else:
        init_dist(launcher, **dist_cfg)
