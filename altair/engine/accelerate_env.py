"""What ``accelerate config`` chose, read from the environment ``accelerate launch`` gives
each process.

Altair does not import Accelerate: its launcher exports the choices of ``accelerate config``
(or of its own flags) as variables, and these are read here:

- ``ACCELERATE_MIXED_PRECISION`` ``no`` / ``bf16`` / ``fp16`` (every launcher sets it) →
  ``--amp fp32`` / ``bf16`` / ``fp16``;
- ``ACCELERATE_GRADIENT_ACCUMULATION_STEPS`` (set by the DeepSpeed path) → ``--grad-accum``;
- ``ACCELERATE_USE_FSDP`` / ``ACCELERATE_USE_DEEPSPEED`` → Altair's FSDP strategy or
  mmengine's DeepSpeed strategy under a ``FlexibleRunner``.

An explicit flag or a config that sets the same thing wins, with a warning where it
disagrees with the environment; ``amp = 'auto'`` and a plain ``OptimWrapper`` leave the
precision open, so the environment decides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from altair.errors import AltairError

_PRECISION = {'no': 'fp32', 'bf16': 'bf16', 'fp16': 'fp16'}
_TRUE = ('true', '1', 'yes')
_FALSE = ('false', '0', 'no', '')

FSDP_STRATEGY = dict(
    type='altair.AltairFSDPStrategy',
    # one FSDP unit per transformer block of MiT / ViT; a CNN is one unit
    model_wrapper=dict(auto_wrap_policy=dict(type='altair.fsdp_wrap_classes',
                                             class_names=['TransformerEncoderLayer'])),
    state_dict_cfg='full')
DEEPSPEED_STRATEGY = dict(
    type='DeepSpeedStrategy',
    zero_optimization=dict(stage=2, overlap_comm=True, contiguous_gradients=True))


class AccelerateEnvError(AltairError, ValueError):
    """An ``ACCELERATE_*`` variable with a value Altair cannot use, or a choice this config or
    machine cannot run."""


@dataclass
class AccelerateChoice:
    """What the environment asks for (None: not set)."""
    amp: str | None = None
    grad_accum: int | None = None
    strategy: str | None = None  # 'fsdp' or 'deepspeed'
    source: dict = field(default_factory=dict)  # variable → value, for the log line


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, '').strip().lower()
    if value not in _TRUE + _FALSE:
        raise AccelerateEnvError(f"{name}={env[name]!r}: expected true or false")
    return value in _TRUE


def read_accelerate_env(env: Mapping[str, str]) -> AccelerateChoice:
    """The choices in ``env`` (``os.environ`` of a process ``accelerate launch`` started).

    Raises:
        AccelerateEnvError: an unknown precision, a non-positive accumulation count, or FSDP
            and DeepSpeed both asked for.
    """
    out = AccelerateChoice()
    if env.get('ACCELERATE_MIXED_PRECISION'):
        value = env['ACCELERATE_MIXED_PRECISION'].strip().lower()
        if value not in _PRECISION:
            raise AccelerateEnvError(f"ACCELERATE_MIXED_PRECISION={value!r}: Altair trains "
                                     f"with {', '.join(_PRECISION)} (fp8 is not supported)")
        out.amp = _PRECISION[value]
        out.source['ACCELERATE_MIXED_PRECISION'] = value
    if env.get('ACCELERATE_GRADIENT_ACCUMULATION_STEPS'):
        value = env['ACCELERATE_GRADIENT_ACCUMULATION_STEPS'].strip()
        if not value.isdigit() or int(value) < 1:
            raise AccelerateEnvError(f'ACCELERATE_GRADIENT_ACCUMULATION_STEPS={value!r}: '
                                     'expected an integer >= 1')
        out.grad_accum = int(value)
        out.source['ACCELERATE_GRADIENT_ACCUMULATION_STEPS'] = value
    fsdp, deepspeed = _flag(env, 'ACCELERATE_USE_FSDP'), _flag(env, 'ACCELERATE_USE_DEEPSPEED')
    if fsdp and deepspeed:
        raise AccelerateEnvError('ACCELERATE_USE_FSDP and ACCELERATE_USE_DEEPSPEED are both '
                                 'true: choose one in `accelerate config`')
    if fsdp or deepspeed:
        out.strategy = 'fsdp' if fsdp else 'deepspeed'
        name = 'ACCELERATE_USE_FSDP' if fsdp else 'ACCELERATE_USE_DEEPSPEED'
        out.source[name] = env[name]
    return out


def check_accelerate_env(env: Mapping[str, str], *, cuda: bool) -> AccelerateChoice:
    """:func:`read_accelerate_env`, and DeepSpeed refused without CUDA: what ``alt.train``
    checks before it opens a run.

    Raises:
        AccelerateEnvError: naming the variable and what to choose instead.
    """
    choice = read_accelerate_env(env)
    if choice.strategy == 'deepspeed' and not cuda:
        raise AccelerateEnvError(_NO_CUDA_DEEPSPEED)
    return choice


_NO_CUDA_DEEPSPEED = ('ACCELERATE_USE_DEEPSPEED=true, but DeepSpeed trains on CUDA GPUs and '
                      'none is visible: choose "no" for DeepSpeed in `accelerate config` (FSDP '
                      'and DDP run on the CPU)')


def one_process_fsdp(env: Mapping[str, str]) -> bool:
    """Whether ``env`` is one process that ``accelerate launch --use_fsdp --num_processes 1``
    started: torchrun variables of a world of one and ``ACCELERATE_USE_FSDP``. FSDP needs a
    process group even then."""
    return env.get('WORLD_SIZE') == '1' and 'RANK' in env and 'MASTER_ADDR' in env and \
        env.get('ACCELERATE_USE_FSDP', '').strip().lower() in _TRUE


def config_precision(cfg) -> str | None:
    """The precision a config fixes (``amp`` key, or a mixed-precision optim wrapper), or
    None where it leaves it open (no ``amp``, ``amp = 'auto'``, a plain ``OptimWrapper``)."""
    amp = cfg.get('amp')
    if amp is not None:
        return None if amp == 'auto' else amp
    wrapper = cfg.get('optim_wrapper') or {}
    kind = str(wrapper.get('type', ''))
    if kind.endswith('AmpOptimWrapper'):
        return 'bf16' if str(wrapper.get('dtype', '')) in ('bfloat16', 'torch.bfloat16') \
            else 'fp16'
    if kind.endswith('AutocastOptimWrapper'):
        dtype = wrapper.get('dtype', 'bfloat16')
        return None if dtype == 'auto' else ('fp16' if dtype == 'float16' else 'bf16')
    return None


def config_strategy(cfg) -> str | None:
    """``'fsdp'`` / ``'deepspeed'`` / another strategy type a config sets, or None."""
    kind = str((cfg.get('strategy') or {}).get('type', ''))
    if not kind:
        return None
    return 'fsdp' if 'FSDP' in kind else 'deepspeed' if 'DeepSpeed' in kind else kind


def apply_accelerate_env(cfg, env: Mapping[str, str], *, amp: str | None,
                         grad_accum: int | None, warn: Callable[[str], None],
                         info: Callable[[str], None], cuda: bool = False
                         ) -> tuple[str | None, int | None]:
    """Fold the environment's choices into ``cfg`` and the flags; returns ``(amp,
    grad_accum)`` to train with. A strategy is written into ``cfg`` (``strategy``,
    ``runner_type = 'FlexibleRunner'``). ``warn`` gets each disagreement, ``info`` one line
    saying what was taken from the environment.

    Raises:
        AccelerateEnvError: see :func:`check_accelerate_env`.
    """
    choice = check_accelerate_env(env, cuda=cuda)
    if not choice.source:
        return amp, grad_accum
    taken = []
    if choice.amp is not None:
        mine, who = (amp, '--amp') if amp is not None else (config_precision(cfg), 'the config')
        if mine is None:
            amp = choice.amp
            taken.append(f'amp={amp}')
        elif mine != choice.amp:
            warn(f"{who} says precision '{mine}', ACCELERATE_MIXED_PRECISION says "
                 f"'{_env_name(choice.amp)}': training with '{mine}'")
    if choice.grad_accum is not None:
        counts = (cfg.get('optim_wrapper') or {}).get('accumulative_counts')
        mine, who = (grad_accum, '--grad-accum') if grad_accum is not None else (
            counts, 'the config (optim_wrapper.accumulative_counts)')
        if mine is None:
            grad_accum = choice.grad_accum
            taken.append(f'grad_accum={grad_accum}')
        elif int(mine) != choice.grad_accum:
            warn(f'{who} accumulates {mine} iterations, ACCELERATE_GRADIENT_ACCUMULATION_STEPS '
                 f'says {choice.grad_accum}: accumulating {mine}')
    if choice.strategy is not None:
        mine = config_strategy(cfg)
        if mine is None:
            _set_strategy(cfg, choice.strategy)
            taken.append(f'strategy={choice.strategy}')
        elif mine != choice.strategy:
            warn(f"the config's strategy is {cfg.strategy['type']}, accelerate asks for "
                 f'{choice.strategy}: training with the config\'s')
    if choice.strategy == 'deepspeed' and 'strategy=deepspeed' in taken:
        # DeepSpeed owns precision and accumulation: they go into its config
        if amp in ('bf16', 'fp16'):
            cfg.strategy[amp] = dict(enabled=True)
        if grad_accum is not None:
            cfg.strategy['gradient_accumulation_steps'] = grad_accum
        amp = grad_accum = None
    given = ', '.join(f'{k}={v}' for k, v in choice.source.items())
    info(f"accelerate: {given} -> {', '.join(taken) if taken else 'nothing changed'}")
    return amp, grad_accum


def _env_name(amp: str) -> str:
    return {v: k for k, v in _PRECISION.items()}[amp]


def _set_strategy(cfg, strategy: str) -> None:
    """``strategy`` (``'fsdp'`` / ``'deepspeed'``; CUDA for the latter is checked by
    :func:`check_accelerate_env`) and ``FlexibleRunner`` into ``cfg``."""
    import copy
    runner = str(cfg.get('runner_type', 'AltairRunner'))
    if runner not in ('AltairRunner', 'Runner', 'FlexibleRunner', 'AltairFlexibleRunner'):
        raise AccelerateEnvError(f"accelerate asks for {strategy}, which needs mmengine's "
                                 f"FlexibleRunner, but the config's runner_type is '{runner}'")
    if strategy == 'deepspeed':
        cfg.strategy = copy.deepcopy(DEEPSPEED_STRATEGY)
        cfg.optim_wrapper = dict(cfg.optim_wrapper, type='DeepSpeedOptimWrapper')
    else:
        cfg.strategy = copy.deepcopy(FSDP_STRATEGY)
    cfg.runner_type = 'FlexibleRunner'
