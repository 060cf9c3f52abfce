"""AltairRunner: a config section built with keys its class does not take is one line naming
the section (mmengine raises a TypeError from deep inside the build)."""
from __future__ import annotations

import pytest

from altair.engine.runner import ConfigBuildError, naming_the_section


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


def test_switching_the_optim_wrapper_type_by_cfg_options_is_one_line(cli, small_bluemarble,
                                                                     tmp_path):
    data = [f'{s}_dataloader.dataset.data_root={small_bluemarble}' for s in ('train', 'val')]
    proc = cli('train', 'configs/pspnet.py', '--work-dir', tmp_path / 'w', '--runs-root',
               tmp_path, '--cfg-options', 'optim_wrapper.type=OptimWrapper',
               'train_cfg.max_iters=1', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
               'val_dataloader.persistent_workers=False', *data)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: config optim_wrapper: ') and \
        "OptimWrapper.__init__() got an unexpected keyword argument 'dtype'" in last, last
    assert 'Traceback' not in proc.stderr
    assert not list((tmp_path / 'w').glob('*.pth'))
