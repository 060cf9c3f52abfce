from pathlib import Path

import pytest

from altair.config import ConfigNotFoundError, load_config
from altair.shipped import configs_dir, shipped_config

ROOT = Path(__file__).resolve().parents[1]


def test_an_editable_install_ships_the_checkouts_configs():
    assert configs_dir() == ROOT / 'configs'  # no altair/.mim in the checkout


@pytest.mark.parametrize('path, found', [
    ('configs/pspnet.py', 'pspnet.py'),
    ('configs/_base_/models/unet_s4-c32.py', '_base_/models/unet_s4-c32.py'),
    ('configs/missing.py', None), ('other/pspnet.py', None), ('pspnet.py', None),
    ('configs', None),
])
def test_shipped_config_maps_configs_paths_only(path, found):
    assert shipped_config(path) == (None if found is None else configs_dir() / found)
    assert shipped_config(ROOT / path) is None  # an absolute path is the user's own


def test_a_configs_path_opens_the_shipped_config_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config('configs/pspnet.py')
    assert Path(cfg.filename) == ROOT / 'configs' / 'pspnet.py'
    assert cfg.model.decode_head.type == 'PSPHead'  # its _base_ files resolved
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'pspnet.py').write_text("model = dict(type='Mine')\n")
    assert load_config('configs/pspnet.py').model.type == 'Mine'  # the user's own first
    with pytest.raises(ConfigNotFoundError, match="'configs/pspnet_r18.py' does not exist"):
        load_config('configs/pspnet_r18.py')
