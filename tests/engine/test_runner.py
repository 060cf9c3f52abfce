"""AltairRunner: a config section built with keys its class does not take is one line naming
the section (mmengine raises a TypeError from deep inside the build)."""
from __future__ import annotations

import pytest

from altair.config_checks import ConfigBuildError, naming_the_section


def test_key_mismatches_name_the_section_and_other_errors_pass():
    class Wrapper:
        def __init__(self, optimizer):
            pass
    with pytest.raises(ConfigBuildError, match=r"^config optim_wrapper: .*unexpected keyword "
                                               r"argument 'dtype'\. A --cfg-options value"):
        with naming_the_section('optim_wrapper'):
            Wrapper(optimizer=1, dtype='auto')
    with pytest.raises(ConfigBuildError, match=r"^config model: .*missing 1 required"):
        with naming_the_section('model'):
            Wrapper()
    with pytest.raises(TypeError, match='unsupported operand') as info:
        with naming_the_section('model'):
            1 + 'a'
    assert not isinstance(info.value, ConfigBuildError)


@pytest.mark.parametrize('option, section, culprit', [
    ('optim_wrapper.type=OptimWrapper', 'optim_wrapper',
     "OptimWrapper.__init__() got an unexpected keyword argument 'dtype'"),
    ('train_dataloader.dataset.bogus=1', 'train_dataloader.dataset',
     "unexpected keyword argument 'bogus'"),
    ('train_cfg.bogus=1', 'train_cfg', "unexpected keyword argument 'bogus'"),
    ('val_evaluator.type=DumpResults', 'val_evaluator', 'DumpResults'),
    ('default_hooks.logger.bogus=1', 'default_hooks / custom_hooks',
     "unexpected keyword argument 'bogus'"),
])
def test_a_section_given_keys_its_type_does_not_take_is_one_line(cli, small_bluemarble, tiny,
                                                                  tmp_path, option, section,
                                                                  culprit):
    opts = tiny.cli(tiny.options(small_bluemarble, iters=1))
    proc = cli('train', 'configs/pspnet.py', '--work-dir', tmp_path / 'w', '--runs-root',
               tmp_path, *opts, option)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: config {section}: ') and culprit in last, last
    assert 'Traceback' not in proc.stderr
    assert not list((tmp_path / 'w').glob('*.pth'))


def test_flexible_runner_sections_are_named_too(cli, small_bluemarble, tiny, tmp_path):
    """mmengine's FlexibleRunner (the FSDP / DeepSpeed configs' runner) builds its sections
    itself; the error still names the config key whose type it is about."""
    opts = tiny.cli(tiny.options(small_bluemarble, iters=1))
    proc = cli('train', 'configs/pspnet.py', '--work-dir', tmp_path / 'w', '--runs-root',
               tmp_path, *opts, 'runner_type=FlexibleRunner', 'optim_wrapper.type=OptimWrapper')
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: config optim_wrapper: ') and \
        "unexpected keyword argument 'dtype'" in last, last
    assert 'Traceback' not in proc.stderr


def test_section_of_maps_a_constructor_error_to_its_config_key():
    from altair.config_checks import section_of
    cfg = dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD')),
               train_dataloader=dict(dataset=dict(type='altair.BlueMarbleDataset')),
               custom_hooks=[dict(type='RngStateHook'), dict(type='EMAHook')])
    assert section_of(cfg, TypeError("OptimWrapper.__init__() got an unexpected keyword "
                                     "argument 'dtype'")) == 'optim_wrapper'
    assert section_of(cfg, TypeError("class `BlueMarbleDataset` in altair.datasets: "
                                     "BaseSegDataset.__init__() got an unexpected keyword "
                                     "argument 'x'")) == 'train_dataloader.dataset'
    assert section_of(cfg, TypeError("EMAHook.__init__() missing 1 required positional "
                                     "argument: 'm'")) == 'custom_hooks[1]'
    assert section_of(cfg, TypeError('PSPHead.forward() missing 1 required positional '
                                     'argument')) is None  # not a constructor
    assert section_of(cfg, TypeError('Other.__init__() got an unexpected keyword argument '
                                     "'y'")) is None  # no section of that type

