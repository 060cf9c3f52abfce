"""Device placement and launcher detection: one config trains everywhere.

CUDA with NCCL when a GPU is visible, else Apple's MPS (one process) or the CPU with gloo; a
process started by ``torchrun``, ``accelerate launch`` or Slurm is recognised from its
environment.
"""
from __future__ import annotations

import os
import subprocess

import torch


def accelerator() -> str:
    """``'cuda'`` when a CUDA device is visible, else ``'mps'`` where Apple's Metal backend
    is (mmengine places models there by itself), else ``'cpu'``."""
    if torch.cuda.is_available():
        return 'cuda'
    mps = getattr(torch.backends, 'mps', None)
    return 'mps' if mps is not None and mps.is_available() else 'cpu'


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


def slurm_to_torch_env(environ: dict | None = None) -> dict[str, str]:
    """``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` for a
    process of a Slurm step, from its ``SLURM_*`` variables.

    The master is the first host of ``SLURM_NODELIST`` (expanded by ``scontrol`` when it is a
    range such as ``node[01-04]``); ``MASTER_ADDR`` / ``MASTER_PORT`` already set win, the port
    defaults to ``$PORT`` or 29500.
    """
    env = os.environ if environ is None else environ
    nodes = env.get('SLURM_NODELIST') or env.get('SLURM_JOB_NODELIST', '127.0.0.1')
    master = nodes
    if any(c in nodes for c in '[,'):
        master = subprocess.run(['scontrol', 'show', 'hostnames', nodes], check=True,
                                capture_output=True, text=True).stdout.split()[0]
    return dict(slurm_ranks(env), MASTER_ADDR=env.get('MASTER_ADDR', master),
                MASTER_PORT=env.get('MASTER_PORT', env.get('PORT', '29500')))


def slurm_ranks(environ: dict | None = None) -> dict[str, str]:
    """``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` of a Slurm task, from its ``SLURM_*``
    variables (nothing looked up: no ``scontrol``)."""
    env = os.environ if environ is None else environ
    return dict(RANK=env['SLURM_PROCID'], WORLD_SIZE=env['SLURM_NTASKS'],
                LOCAL_RANK=env.get('SLURM_LOCALID', '0'))


def init_distributed(launcher: str, **dist_cfg) -> None:
    """Start this process's group for ``launcher`` unless one exists: mmengine's ``init_dist``
    (NCCL) on CUDA; elsewhere gloo with an env:// rendezvous, from torchrun/accelerate
    variables (``pytorch``) or from ``SLURM_*`` ones (``slurm``)."""
    from mmengine.dist import init_dist, is_distributed
    if is_distributed():
        return
    if accelerator() == 'cuda':
        init_dist(launcher, **dist_cfg)
        return
    if launcher == 'slurm':
        os.environ.update(slurm_to_torch_env())
    elif launcher != 'pytorch':
        raise RuntimeError(f"launcher '{launcher}' without CUDA: the CPU runs the 'pytorch' "
                           "(torchrun / dist_train.sh / accelerate launch) and 'slurm' launchers")
    init_cpu_process_group()


def close_distributed() -> None:
    """Tear down this process's group, if it joined one, while the interpreter is whole.

    Left to interpreter exit, a gloo worker thread can still be releasing the last collective
    (tensors that own Python objects) when finalisation starts: it cannot take the GIL, and the
    rank aborts with 'terminate called without an active exception' after its work is done.
    Destroying the group alone does not stop those threads while a model's DDP reducer still
    holds the group; a runner holding the model sits in reference cycles, hence the
    collection, after which the group's last owner joins its threads."""
    import gc

    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        gc.collect()
