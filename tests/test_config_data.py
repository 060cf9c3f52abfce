"""altair.config_data: the literal reader against mmengine's executing reader, construct by
construct, and on the dump of every shipped config."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

from altair.config_data import (ConfigDataError, UntrustedConfigError, config_from_data,
                                literal_config_dict, trusted_module)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_every_shipped_config_dump_reads_back_as_data(path):
    """What a checkpoint of each shipped config carries (mmengine's ``pretty_text``) reads
    without executing, to what mmengine's executing reader gives, types included."""
    text = Config.fromfile(str(path)).pretty_text
    ours = literal_config_dict(text, source=str(path))
    theirs = Config.fromstring(text, '.py').to_dict()
    assert repr(sorted(ours.items())) == repr(sorted(theirs.items()))


def test_the_literal_subset():
    text = ("'doc'\nsize = (3, -4)\nm = dict(type='X', size=size, k=dict({1: 'a', 'b-c': None}))"
            "\nother = m\nflags = {True, 1.5e-3}\n")
    got = literal_config_dict(text, source='t')
    assert got == dict(size=(3, -4), m=dict(type='X', size=(3, -4), k={1: 'a', 'b-c': None}),
                       other=dict(type='X', size=(3, -4), k={1: 'a', 'b-c': None}),
                       flags={True, 1.5e-3})
    got['m']['size'] = None  # a name gives a copy, as Python's own binding would not
    assert got['other']['size'] == (3, -4)


@pytest.mark.parametrize('text, construct', [
    ('import os', 'a statement other than `name = value` on line 1'),
    ("x = 1\nx = __import__('os').system('true')",
     "a call of `__import__('os').system` on line 2"),
    ('x = os.path', 'an attribute (`os.path`) on line 1'),
    ('x = 2 ** 100', 'an operator (`2 ** 100`) on line 1'),
    ('x = y', "the name 'y', not assigned before on line 1"),
    ('x = dict(**y)', '`**` unpacking on line 1'),
    ('x = dict([1])', 'dict() of a list on line 1'),
    ('x = (lambda: 1)', 'a lambda (`lambda: 1`) on line 1'),
    ("x = f'{1}'", 'an f-string'),
    ('x, y = 1, 2', 'a statement other than `name = value`'),
    ('x = (', 'is not valid Python source (line 1)'),
])
def test_everything_else_is_refused_naming_the_construct_and_line(text, construct):
    with pytest.raises(UntrustedConfigError) as info:
        config_from_data(text, source='m.pth', trust=False)
    message = str(info.value)
    assert message.startswith("'m.pth': ") and construct in message and '\n' not in message
    assert '--trust-config' in message or 'not valid Python' in message


def test_trust_executes_and_the_environment_variable_is_the_default(monkeypatch):
    text = 'x = 2 ** 3'
    assert config_from_data(text, source='m', trust=True).x == 8
    monkeypatch.setenv('ALTAIR_TRUST_CONFIG', '1')
    assert config_from_data(text, source='m').x == 8
    monkeypatch.setenv('ALTAIR_TRUST_CONFIG', '0')
    with pytest.raises(UntrustedConfigError):
        config_from_data(text, source='m')


def test_custom_imports_only_of_modules_altair_trusts(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert trusted_module('altair.models') and trusted_module('projects.unetplusplus')
    assert not trusted_module('os') and not trusted_module('this')
    assert not trusted_module('altair; import os')
    with pytest.raises(UntrustedConfigError, match="imports 'antigravity'"):
        config_from_data("custom_imports = dict(imports=['antigravity'])", source='m.pth')
    cfg = config_from_data("custom_imports = dict(imports=['altair.models'])", source='m.pth')
    assert cfg.custom_imports.imports == ['altair.models']
    # a run's saved config: any module the environment has, not one it lacks
    text = "custom_imports = dict(imports=['tests.engine.rank_hooks'])"
    with pytest.raises(UntrustedConfigError, match="and it is neither Altair's"):
        config_from_data(text, source='m.pth')
    assert config_from_data(text, source='run/config.py', installed_modules=True)
    with pytest.raises(UntrustedConfigError, match="imports 'no_such_mod' and this "
                                                   'environment has no such module'):
        config_from_data("custom_imports = dict(imports=['no_such_mod'])",
                         source='run/config.py', installed_modules=True)
    with pytest.raises(ConfigDataError, match='imports a module that fails to import'):
        config_from_data("custom_imports = dict(imports=['altair.no_such_mod'])",
                         source='m.pth')


def test_a_projects_package_outside_the_checkout_is_not_trusted(tmp_path, monkeypatch):
    """A ``projects/`` folder that a shared data folder brings along is not the checkout's."""
    (tmp_path / 'projects' / 'evil').mkdir(parents=True)
    (tmp_path / 'projects' / '__init__.py').write_text('')
    (tmp_path / 'projects' / 'evil' / '__init__.py').write_text('')
    monkeypatch.syspath_prepend(str(tmp_path))
    import sys
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k == 'projects' or k.startswith('projects.')}
    try:
        assert not trusted_module('projects.evil')
    finally:
        for k in [k for k in sys.modules if k == 'projects' or k.startswith('projects.')]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_data_that_is_no_config_is_named():
    with pytest.raises(ConfigDataError, match="'h.onnx': the config it carries is a list"):
        config_from_data([1], source='h.onnx')
    with pytest.raises(ConfigDataError, match="'h.onnx': .*cannot be read as a config"):
        config_from_data({'filename': 'x'}, source='h.onnx')
