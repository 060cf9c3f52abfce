"""What ``accelerate config`` chose, read from the environment ``accelerate launch`` gives
each process.

Altair does not import Accelerate: its launcher exports the choices of ``accelerate config``
(or of its own flags) as variables, and these are read here:

- ``ACCELERATE_MIXED_PRECISION`` ``no`` / ``bf16`` / ``fp16`` (every launcher sets it) →
  ``--precision fp32`` / ``bf16`` / ``fp16``;
- ``ACCELERATE_GRADIENT_ACCUMULATION_STEPS`` (set by the DeepSpeed path) → ``--grad-accum``;
- ``ACCELERATE_USE_FSDP`` / ``ACCELERATE_USE_DEEPSPEED`` → Altair's FSDP strategy or
  mmengine's DeepSpeed strategy under a ``FlexibleRunner``; with DeepSpeed,
  ``ACCELERATE_DEEPSPEED_ZERO_STAGE`` → its ``zero_optimization.stage``.

An explicit flag or a config that sets the same thing wins, with a warning where it
disagrees with the environment; ``precision = 'auto'`` and a plain ``OptimWrapper`` leave the
precision open, so the environment decides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from altair.engine.amp import native_bf16
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


def half_precision_settings(precision: str) -> dict:
    """What a DeepSpeed strategy in ``'bf16'`` / ``'fp16'`` needs besides ``enabled``:
    DeepSpeed casts the parameters, not the batch the data preprocessor gives
    (``inputs_to_half``), and (0.19.4 and later) not the buffers either unless told
    (``data_types.buffer_dtype``): a BatchNorm would meet bf16 weights and fp32 running stats
    ("expected scalar type BFloat16 but found Float")."""
    return dict(inputs_to_half=['inputs'],
                config=dict(data_types=dict(buffer_dtype=precision)))


class AccelerateEnvError(AltairError, ValueError):
    """An ``ACCELERATE_*`` variable with a value Altair cannot use, or a choice this config or
    machine cannot run."""


@dataclass
class AccelerateChoice:
    """What the environment asks for (None: not set)."""
    amp: str | None = None
    grad_accum: int | None = None
    strategy: str | None = None  # 'fsdp' or 'deepspeed'
    zero_stage: int | None = None  # DeepSpeed's ZeRO stage
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
    stage = env.get('ACCELERATE_DEEPSPEED_ZERO_STAGE', '').strip()
    if deepspeed and stage:
        if stage not in ('0', '1', '2', '3'):
            raise AccelerateEnvError(f'ACCELERATE_DEEPSPEED_ZERO_STAGE={stage!r}: expected 0, '
                                     '1, 2 or 3')
        out.zero_stage = int(stage)
        out.source['ACCELERATE_DEEPSPEED_ZERO_STAGE'] = stage
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
    """The precision a config fixes (``precision`` key, or a mixed-precision optim wrapper), or
    None where it leaves it open (no ``precision``, ``precision = 'auto'``, a plain
    ``OptimWrapper``)."""
    amp = cfg.get('precision')
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
    saying what was taken from the environment; under DeepSpeed one more line says which
    optim-wrapper keys went into the DeepSpeed config (:func:`deepspeed_optim_wrapper`), a
    warning where one was dropped.

    Raises:
        AccelerateEnvError: see :func:`check_accelerate_env`.
    """
    choice = check_accelerate_env(env, cuda=cuda)
    if not choice.source:
        return amp, grad_accum
    taken, moved, dropped = [], [], []
    if choice.amp is not None:
        mine, who = ((amp, '--precision') if amp is not None
                     else (config_precision(cfg), 'the config'))
        if mine is None:
            amp = choice.amp
            taken.append(f'precision={amp}')
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
        # DeepSpeed owns precision, accumulation and clipping: they go into its config, and
        # the optim wrapper keeps only what DeepSpeedOptimWrapper takes
        wrapper = dict(cfg.optim_wrapper)
        precision = amp if amp is not None else config_precision(cfg)
        if precision is None and 'auto' in (cfg.get('precision'), wrapper.get('dtype')):
            precision = 'auto'
        if precision == 'auto':  # bf16 where the GPU computes it natively, never fp16
            precision = 'bf16' if cuda and native_bf16('cuda') else 'fp32'
        cfg.pop('precision', None)  # prepare_config would make the wrapper an autocast one again
        if precision in ('bf16', 'fp16'):
            cfg.strategy[precision] = dict(enabled=True)
            cfg.strategy.update(half_precision_settings(precision))
        if choice.zero_stage is not None:
            cfg.strategy['zero_optimization']['stage'] = choice.zero_stage
            taken.append(f'zero_stage={choice.zero_stage}')
        if grad_accum is not None:
            cfg.strategy['gradient_accumulation_steps'] = grad_accum
        dtype = wrapper.pop('dtype', None)  # read by config_precision: decided above
        cfg.optim_wrapper, moved, dropped = deepspeed_optim_wrapper(wrapper, cfg.strategy)
        if dtype is not None:
            moved.insert(0, f'dtype={dtype!r} -> precision {precision or "fp32"}')
        amp = grad_accum = None
    given = ', '.join(f'{k}={v}' for k, v in choice.source.items())
    info(f"accelerate: {given} -> {', '.join(taken) if taken else 'nothing changed'}")
    if moved or dropped:
        (warn if dropped else info)(
            f"DeepSpeedOptimWrapper takes only {', '.join(deepspeed_wrapper_keys())}: "
            + '; '.join(moved + [f'dropped {d}' for d in dropped]))
    return amp, grad_accum


# consumed by mmengine's build_optim_wrapper / DefaultOptimWrapperConstructor before the
# wrapper's own __init__ is called
_BUILDER_KEYS = ('type', 'optimizer', 'paramwise_cfg', 'constructor')
# keys of mmengine's (and Altair's) wrappers that DeepSpeed has no use for, and why
_NO_USE = {'device_type': 'DeepSpeed places the model itself',
           'use_fsdp': 'FSDP and DeepSpeed exclude each other'}


def deepspeed_wrapper_keys() -> list[str]:
    """The arguments of mmengine's ``DeepSpeedOptimWrapper.__init__`` (``optimizer``)."""
    import inspect

    from mmengine._strategy.deepspeed import DeepSpeedOptimWrapper
    params = inspect.signature(DeepSpeedOptimWrapper.__init__).parameters
    return [n for n, p in params.items() if n != 'self' and p.kind not in (
        p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def deepspeed_optim_wrapper(optim_wrapper: dict, strategy: dict
                            ) -> tuple[dict, list[str], list[str]]:
    """``optim_wrapper`` as mmengine's ``DeepSpeedOptimWrapper`` takes it: the keys its
    ``__init__`` takes (see :func:`deepspeed_wrapper_keys`) and those its builder consumes
    (``optimizer``, ``paramwise_cfg``, ``constructor``). Of the rest, what DeepSpeed has a
    setting for is moved into ``strategy`` (a value the strategy already has wins):

    - ``clip_grad=dict(max_norm=X)`` (L2 norm) → ``gradient_clipping=X``;
    - ``accumulative_counts=N`` → ``gradient_accumulation_steps=N``;
    - ``dtype`` (``bfloat16`` / ``float16``) → ``bf16`` / ``fp16`` ``enabled`` where the
      strategy has no precision yet; a numeric fp16 ``loss_scale`` → ``fp16.loss_scale``.

    Returns:
        ``(wrapper, moved, dropped)``: the new wrapper config and one phrase per key moved or
        dropped (with why), for the log line.
    """
    takes = set(deepspeed_wrapper_keys()) | set(_BUILDER_KEYS)
    out = {k: v for k, v in optim_wrapper.items() if k in takes}
    out['type'] = 'DeepSpeedOptimWrapper'
    moved, dropped = [], []

    def move(key: str, value, setting: str) -> None:
        have = strategy.get(setting)
        if have is None or have == value:
            strategy[setting] = value
            moved.append(f'{key}={value!r} -> strategy.{setting}')
        else:
            dropped.append(f"{key}={value!r} (the strategy's {setting}={have!r} wins)")

    precision = next((p for p in ('bf16', 'fp16') if (strategy.get(p) or {}).get('enabled')),
                     None)
    for key, value in optim_wrapper.items():
        if key in takes or value is None:  # None: nothing to carry over
            continue
        if key == 'clip_grad':
            if value.get('type', 'norm') == 'norm' and value.get('norm_type', 2) in (2, 2.0) \
                    and value.get('max_norm') is not None:
                move('clip_grad.max_norm', float(value['max_norm']), 'gradient_clipping')
            else:
                dropped.append(f'clip_grad={dict(value)!r} (DeepSpeed clips only the global '
                               'L2 norm: set strategy.gradient_clipping)')
        elif key == 'accumulative_counts':
            if int(value) != 1 or strategy.get('gradient_accumulation_steps') is not None:
                move(key, int(value), 'gradient_accumulation_steps')
        elif key == 'dtype':
            want = {'bfloat16': 'bf16', 'float16': 'fp16'}.get(str(value).replace('torch.', ''))
            if want is None:  # 'auto' (decided by the caller) or fp32
                continue
            if precision is None:
                strategy[want] = dict(enabled=True)
                precision = want
                moved.append(f'dtype={value!r} -> strategy.{want}.enabled')
            elif precision != want:
                dropped.append(f"dtype={value!r} (the strategy's {precision} wins)")
        elif key == 'loss_scale':
            if isinstance(value, (int, float)) and precision == 'fp16':
                strategy['fp16'] = dict(strategy['fp16'], loss_scale=float(value))
                moved.append(f'loss_scale={value!r} -> strategy.fp16.loss_scale')
            elif value != 'dynamic' or precision != 'fp16':  # DeepSpeed's fp16 is dynamic
                dropped.append(f'loss_scale={value!r} (DeepSpeed scales fp16 losses '
                               'dynamically; a fixed one goes in strategy.fp16.loss_scale)')
        else:
            dropped.append(f'{key}={value!r} ({_NO_USE.get(key, "DeepSpeed has no such setting")})')
    return out, moved, dropped


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
        # the wrapper's keys: deepspeed_optim_wrapper, once precision is known
        cfg.optim_wrapper = dict(cfg.optim_wrapper, type='DeepSpeedOptimWrapper')
    else:
        cfg.strategy = copy.deepcopy(FSDP_STRATEGY)
    cfg.runner_type = 'FlexibleRunner'
