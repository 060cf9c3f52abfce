from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from altair.engine import device
from altair.engine.device import detect_launcher, slurm_to_torch_env


def test_detect_launcher_from_environment():
    assert detect_launcher({}) == 'none'
    assert detect_launcher({'RANK': '0', 'WORLD_SIZE': '1', 'LOCAL_RANK': '0'}) == 'none'
    assert detect_launcher({'RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_RANK': '1'}) == 'pytorch'
    assert detect_launcher({'SLURM_PROCID': '0', 'SLURM_NTASKS': '4'}) == 'slurm'
    assert detect_launcher({'SLURM_PROCID': '0', 'SLURM_NTASKS': '1'}) == 'none'
    # what `accelerate launch --num_processes 2` sets for each process
    accelerate = {'RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_RANK': '1', 'LOCAL_WORLD_SIZE': '2',
                  'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': '29500',
                  'ACCELERATE_MIXED_PRECISION': 'no'}
    assert detect_launcher(accelerate) == 'pytorch'


def test_accelerator_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: True)
    assert device.accelerator() == 'mps'
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    assert device.accelerator() == 'cpu'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert device.accelerator() == 'cuda'


def test_slurm_variables_become_torch_ones():
    env = {'SLURM_PROCID': '3', 'SLURM_NTASKS': '4', 'SLURM_LOCALID': '1',
           'SLURM_NODELIST': 'node07'}
    assert slurm_to_torch_env(env) == dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1',
                                           MASTER_ADDR='node07', MASTER_PORT='29500')
    env.update(MASTER_ADDR='10.0.0.1', PORT='29611')
    assert slurm_to_torch_env(env)['MASTER_ADDR'] == '10.0.0.1'
    assert slurm_to_torch_env(env)['MASTER_PORT'] == '29611'


SLURM_RANK = """
import torch, torch.distributed as dist
from altair.engine.device import init_distributed
init_distributed('slurm')
t = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(t)
print(dist.get_rank(), dist.get_world_size(), int(t))
"""


def test_two_slurm_tasks_form_a_gloo_group_on_the_cpu():
    """What `srun --ntasks 2 python -u tools/train.py ... --launcher slurm` gives each task."""
    base = {k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR')}
    procs = [subprocess.Popen([sys.executable, '-c', SLURM_RANK], stdout=subprocess.PIPE,
                              text=True, env={**base, 'SLURM_PROCID': str(r), 'SLURM_NTASKS': '2',
                                              'SLURM_LOCALID': str(r), 'PORT': '29541',
                                              'SLURM_NODELIST': '127.0.0.1'})
             for r in (0, 1)]
    outs = sorted(p.communicate(timeout=120)[0].split()[-3:] for p in procs)
    assert outs == [['0', '2', '3'], ['1', '2', '3']]


def test_mpi_launcher_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(device, 'accelerator', lambda: 'cpu')
    with pytest.raises(RuntimeError, match="launcher 'mpi' without CUDA: the CPU runs the "
                                           "'pytorch'"):
        device.init_distributed('mpi')
