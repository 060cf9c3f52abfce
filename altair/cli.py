"""`altair` command line (also behind tools/train.py, tools/test.py and tools/predict.py).

Argument parsing only; the work is done in ``altair.api``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from altair.cli_parser import build_parser
from altair.errors import AltairError, FailedWorkError, warn_once

class CommandLineError(AltairError, ValueError):
    """Arguments that parse but do not make a command (a missing config, too many inputs)."""


def run_tool(fn: Callable[[], int]) -> int:
    """Run ``fn``; bad input (any ``AltairError``) prints ``error: ...`` to stderr and returns
    status 2; a failed worker (its traceback printed above) returns 1."""
    try:
        return fn()
    except FailedWorkError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except AltairError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2


def runs_table(runs) -> str:
    """The ``altair runs`` table: id, config, status, best mIoU, date (UTC) and, for runs
    with trackers, where they log."""
    rows = [('ID', 'CONFIG', 'STATUS', 'BEST mIoU', 'DATE (UTC)', 'TRACKING')]
    for run in runs:
        info, best = run.info, run.best_metrics
        rows.append((run.id, info.get('config_source') or info.get('config_name', ''),
                     run.status, f"{best['mIoU']:.2f}" if best else '-',
                     info.get('created', '')[:16].replace('T', ' '),
                     '; '.join((info.get('tracking') or {}).values())))
    from altair.api.runs import text_table
    return text_table(rows)


def _quiet_libraries(args) -> None:
    if not args.verbose:
        from altair.engine.progress import hide_library_warnings
        hide_library_warnings()


def _train(args) -> int:
    from altair.api.train import train
    _quiet_libraries(args)
    config = args.config or args.config_opt
    if config is None and args.resume in (False, True):
        raise CommandLineError('altair train needs a config (CONFIG or --config CONFIG), or '
                               '--resume RUN')
    run = train(config, work_dir=args.work_dir, processes=args.processes, gpus=args.gpus,
                precision=args.precision,
                grad_accum=args.grad_accum, resume=args.resume, seed=args.seed,
                cfg_options=args.cfg_options, launcher=args.launcher, root=args.runs_root,
                track=args.track, verbose=args.verbose)
    if _rank0():  # every rank of a launched job returns here
        print(f'run {run.id} {run.status}: {run.work_dir}')
    return 0


def _rank0() -> bool:
    from mmengine.dist import get_rank
    return get_rank() == 0


def _test(args) -> int:
    from altair.api.test import test
    if args.cases is not None:
        return _test_cases(args)
    if args.run is None or args.labels is not None:
        raise CommandLineError('altair test needs RUN or CONFIG CHECKPOINT; --labels goes '
                               'with --cases DIR')
    metrics = test(args.run, args.checkpoint, tta=args.tta is not None,
                   tta_transforms=args.tta or None, show_dir=args.show_dir,
                   out=args.out, work_dir=args.work_dir, cfg_options=args.cfg_options,
                   root=args.runs_root, launcher=args.launcher)
    if _rank0() and 'metric_per_case' in metrics:  # a volume test set, scored per case
        from altair.evaluation.volumes import format_table
        print(format_table(metrics))
    elif _rank0():
        print({k: round(float(v), 2) for k, v in metrics.items()})
    return 0


def _test_cases(args) -> int:
    from altair.api.test import test
    from altair.api.test_cases import summary_path
    from altair.evaluation.volumes import format_table
    if args.checkpoint or args.tta is not None or args.show_dir:
        raise CommandLineError('altair test --cases scores volumes already predicted; it takes '
                               'no CHECKPOINT, --tta or --show-dir')
    if args.run is None and args.labels is None:
        raise CommandLineError('altair test --cases needs RUN (its classes and labels) or '
                               '--labels DIR')
    summary = test(args.run, cases=args.cases, labels=args.labels, tolerance=args.tolerance,
                   out=args.out, cfg_options=args.cfg_options, root=args.runs_root)
    print(format_table(summary))
    print(summary_path(args.cases, args.out))
    return 0


def _model_and_images(inputs: list[str]):
    """(model, images) of ``altair predict``'s arguments: CONFIG CHECKPOINT IMAGES... when
    the first is a config file, else RUN|MODEL IMAGES...; several images are a list (the
    channel files of a volume case are grouped by name)."""
    config = Path(inputs[0]).suffix.lower() in ('.py', '.yaml', '.yml', '.json')
    if len(inputs) < 2 + config:
        raise CommandLineError('altair predict takes RUN IMAGES or CONFIG CHECKPOINT IMAGES, '
                               f'got {len(inputs)} argument(s)')
    model = tuple(inputs[:2]) if config else inputs[0]
    images = inputs[2:] if config else inputs[1:]
    return model, images[0] if len(images) == 1 else images


def _predict(args) -> int:
    from altair.api.predict import predict
    model, images = _model_and_images(args.inputs)
    save = list(dict.fromkeys(args.save + ['probs'] * args.probs))
    results = predict(model, images, out_dir=args.out, sliding_window=args.sliding,
                      window_size=tuple(args.window) if args.window else None,
                      overlap=args.overlap, stride=tuple(args.stride) if args.stride else None,
                      blend=args.blend, window_batch=args.window_batch, device=args.device,
                      precision=args.precision, save=save, probs_dtype=args.probs_dtype,
                      tta=args.tta is not None, tta_transforms=args.tta or None,
                      tta_scales=args.tta_scales, tta_merge=args.tta_merge, root=args.runs_root,
                      nodata=args.nodata, uncertainty=args.uncertainty, format=args.format,
                      polygons_format=args.polygons_format, min_area=args.min_area,
                      simplify=args.simplify, mosaic=args.mosaic, resume=args.resume,
                      processes=args.processes, gpus=args.gpus, backend=args.backend)
    if _rank0():  # every rank of a launched job holds every result
        for result in results:
            print(' '.join(str(p) for p in result.written.values()))
    return 0


def _runs(args) -> int:
    from altair.api.runs import compare_table, list_runs, load_run
    if args.compare:
        print(compare_table([load_run(r, args.runs_root) for r in args.compare]))
        return 0
    print(runs_table(list_runs(args.runs_root)))
    return 0


def _output(args) -> tuple[str | None, str | None]:
    """(file, folder) a command writes to: ``--file PATH`` or ``--out DIR`` (None, None:
    its default). A ``--out`` with a suffix that is not an existing folder is the former
    file form (``--out model.onnx``): read as ``--file``, with a ``FutureWarning`` once per
    process and command."""
    if args.file is not None:
        return args.file, None
    out = args.out
    if out is not None and Path(out).suffix and not Path(out).is_dir():
        warn_once(f'--out file of {args.command}', f'altair {args.command} --out {out}: '
                  f'--out names a folder; use --file {out} for a file', stacklevel=2)
        return out, None
    return None, out


def _plot(args) -> int:
    from altair.api.plot import plot_run, plot_runs
    from altair.api.runs import load_run
    runs = [load_run(r, args.runs_root) for r in args.run]
    name = 'curves.png' if len(runs) == 1 else 'curves_compare.png'
    file, folder = _output(args)
    path = file or (Path(folder) / name if folder else None)
    if len(runs) == 1:
        print(plot_run(runs[0].work_dir, path or runs[0].dir / name, title=runs[0].id))
    else:
        print(plot_runs([(r.id, r.work_dir) for r in runs], path or name))
    return 0


def _export(args) -> int:
    from altair.api.export import export_model
    file, folder = _output(args)
    print(export_model(args.run, format=args.format, out=file, out_dir=folder,
                       opset=args.opset, root=args.runs_root))
    return 0


def _check_data(args) -> int:
    from altair.config import load_config
    from altair.datasets.check import check_dataset, format_report
    report = check_dataset(load_config(args.config, cfg_options=args.cfg_options),
                           splits=args.split, progress=sys.stdout.isatty())
    print(format_report(report, max_findings=args.max_findings))
    return 0 if report.ok else 1


def _plugins(args) -> int:
    from altair.introspect import components
    from altair.plugins import DISABLE_ENV, GROUP, PluginImportError, disabled, installed, load_plugin
    plugins, off, status = installed(), disabled(), 0
    if not plugins:
        print(f"no Altair plugins installed (no package declares the '{GROUP}' entry point; "
              'see projects/README.md)')
    for plugin in plugins:
        print(f'{plugin.name}  {plugin.distribution or "-"} {plugin.version or ""}  '
              f'(module {plugin.value})')
        if plugin.name in off or 'all' in off:
            print(f'  disabled by {DISABLE_ENV}')
            continue
        try:
            load_plugin(plugin)
        except PluginImportError as exc:
            print(f'  error: {type(exc.__cause__).__name__}: {exc.__cause__}')
            status = 1
            continue
        by_registry: dict[str, list[str]] = {}
        for comp in components(plugin.module):
            by_registry.setdefault(comp.label, []).append(comp.name)
        for label, names in by_registry.items():
            print(f"  {label}: {', '.join(names)}")
        if not by_registry:
            print('  registers nothing')
    return status


def _init(args) -> int:
    from altair.api.init import init
    bands = [int(b) if b.isdigit() else b for b in args.bands] if args.bands else None
    file, folder = _output(args)
    init(args.data, model=args.model,
         file=file, out_dir=folder,
         iters=args.iters,
         time_budget=args.time_budget, bands=bands,
         nodata=args.nodata, class_field=args.class_field, class_name=args.class_name,
         unlabelled_outside=args.unlabelled_outside, crop_size=args.crop,
         batch_size=args.batch_size, force=args.force, context=args.context, echo=True)
    return 0


def _demo(args) -> int:
    from altair.api.demo import run_demo
    _quiet_libraries(args)
    run_demo(config=args.config, work_dir=args.work_dir, data_root=args.data_root,
             max_iters=args.max_iters, precision=args.precision, verbose=args.verbose,
             track=args.track)
    return 0


COMMANDS = dict(train=_train, test=_test, predict=_predict, runs=_runs, plot=_plot,
                plugins=_plugins, demo=_demo, init=_init, export=_export,
                **{'check-data': _check_data})


def _log_to_stderr() -> None:
    """Altair's own progress messages (resumed rows, skipped nodata windows, ...) on stderr."""
    import logging
    log = logging.getLogger('altair')
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter('altair: %(message)s'))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _close_process_group() -> None:
    """The group a launched command joined, torn down before the interpreter exits
    (:func:`~altair.engine.device.close_distributed`); nothing to do, and torch not imported,
    where the command never loaded torch.distributed."""
    if 'torch.distributed' in sys.modules:
        from altair.engine.device import close_distributed
        close_distributed()


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(build_parser().parse_args(argv))
    finally:
        _close_process_group()


def _main(args) -> int:
    _log_to_stderr()
    if not getattr(args, 'trust_config', False):
        return run_tool(lambda: COMMANDS[args.command](args))
    from altair.config_data import TRUST_ENV
    before = os.environ.get(TRUST_ENV)
    os.environ[TRUST_ENV] = '1'  # for this command and the worker processes it starts
    try:
        return run_tool(lambda: COMMANDS[args.command](args))
    finally:
        if before is None:
            os.environ.pop(TRUST_ENV, None)
        else:
            os.environ[TRUST_ENV] = before


if __name__ == '__main__':
    sys.exit(main())
