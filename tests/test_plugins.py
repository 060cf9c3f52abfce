"""Plugins: entry-point discovery, broken plugins, name collisions, `altair plugins`, and the
example plugin installed into (and removed from) a virtual environment with pip."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import altair.models  # noqa: F401  (the core is registered before collisions are tried)
from altair import introspect, plugins
from altair.registry import MODELS, NameCollisionError

ROOT = Path(__file__).resolve().parents[1]

HEAD = '''
from mmseg.models.decode_heads import PSPHead
from altair.registry import MODELS


@MODELS.register_module()
class {name}(PSPHead):
    pass
'''


def fake_dist(root: Path, *, dist: str, entry: str, module: str, source: str) -> Path:
    """A minimal installed distribution on ``root``: a module and a dist-info whose
    entry_points.txt declares ``entry = module`` in the altair.plugins group."""
    (root / f'{module}.py').write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir(parents=True)
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n')
    (info / 'entry_points.txt').write_text(f'[altair.plugins]\n{entry} = {module}\n')
    return root


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != plugins.DISABLE_ENV}
    env.update(extra)
    return env


def test_installed_reads_the_entry_point_group(tmp_path, monkeypatch, fresh_plugins):
    fake_dist(tmp_path, dist='acme-heads', entry='acme', module='acme_heads',
              source=HEAD.format(name='AcmeHead'))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = [p for p in plugins.installed() if p.name == 'acme']
    assert found == [plugins.Plugin('acme', 'acme_heads', 'acme-heads', '0.3.1')]
    assert plugins.load_plugins() == ['acme']
    assert [c.name for c in introspect.components('acme_heads')] == ['AcmeHead']
    assert MODELS.get('AcmeHead').__module__ == 'acme_heads'


@pytest.mark.extended
def test_a_registry_lookup_loads_installed_plugins_without_custom_imports(tmp_path):
    fake_dist(tmp_path, dist='acme-heads', entry='acme', module='acme_heads',
              source=HEAD.format(name='AcmeHead'))
    code = ("from mmengine.registry import DefaultScope\n"
            "from altair.config import load_config\n"
            "from altair.registry import MODELS\n"
            "cfg = load_config('configs/pspnet.py')\n"
            "cfg.model.decode_head.type = 'AcmeHead'\n"
            "with DefaultScope.overwrite_default_scope('altair'):\n"
            "    model = MODELS.build(cfg.model)\n"
            "print(type(model.decode_head).__module__)\n")
    ok = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                        env=_env(PYTHONPATH=str(tmp_path)))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.split()[-1] == 'acme_heads'
    off = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, env=_env(PYTHONPATH=str(tmp_path), ALTAIR_DISABLE_PLUGINS='acme'))
    assert off.returncode != 0 and 'AcmeHead is not in the altair::model registry' in off.stderr


def test_a_broken_plugin_is_reported_by_name_every_time(tmp_path, monkeypatch, fresh_plugins):
    fake_dist(tmp_path, dist='broken-plugin', entry='broken', module='broken_plugin',
              source="raise RuntimeError('ACME_LICENCE is not set')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    expected = ("Altair plugin 'broken' (broken_plugin, from broken-plugin 0.3.1) failed to "
                'import: RuntimeError: ACME_LICENCE is not set. Fix it, uninstall it (pip '
                'uninstall broken-plugin) or skip it with ALTAIR_DISABLE_PLUGINS=broken')
    for _ in range(2):  # not skipped silently after the first failure
        with pytest.raises(plugins.PluginImportError) as info:
            MODELS.get('PSPHead')
        assert str(info.value) == expected
    monkeypatch.setenv(plugins.DISABLE_ENV, 'broken')
    assert MODELS.get('PSPHead').__name__ == 'PSPHead'


def test_cli_lists_plugins_and_reports_broken_ones(tmp_path):
    fake_dist(tmp_path, dist='acme-heads', entry='acme', module='acme_heads',
              source=HEAD.format(name='AcmeHead'))
    fake_dist(tmp_path, dist='broken-plugin', entry='broken', module='broken_plugin',
              source="import not_installed_dependency\n")
    out = subprocess.run([sys.executable, '-m', 'altair', 'plugins'], cwd=ROOT,
                         capture_output=True, text=True, env=_env(PYTHONPATH=str(tmp_path)))
    assert out.returncode == 1, out.stderr[-2000:]
    assert out.stdout.splitlines() == [
        'acme  acme-heads 0.3.1  (module acme_heads)',
        '  altair model: AcmeHead',
        'broken  broken-plugin 0.3.1  (module broken_plugin)',
        "  error: ModuleNotFoundError: No module named 'not_installed_dependency'"]
    # the same broken plugin stops `altair train` with one line and exit code 2
    train = subprocess.run([sys.executable, '-m', 'altair', 'train', 'configs/pspnet.py'],
                           cwd=ROOT, capture_output=True, text=True,
                           env=_env(PYTHONPATH=str(tmp_path), ALTAIR_HOME=str(tmp_path)))
    assert train.returncode == 2
    assert "error: Altair plugin 'broken' (broken_plugin, from broken-plugin 0.3.1) failed" \
        in train.stderr


def test_cli_without_plugins(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'altair', 'plugins'], cwd=tmp_path,
                         capture_output=True, text=True, env=_env())
    assert out.returncode == 0
    assert out.stdout.startswith("no Altair plugins installed (no package declares the "
                                 "'altair.plugins' entry point")


def _class(name: str, module: str) -> type:
    return type(name, (), {'__module__': module, '__qualname__': name})


def test_a_plugin_name_shadowing_mmseg_is_refused(fresh_plugins):
    with pytest.raises(NameCollisionError) as info:
        MODELS.register_module()(_class('PSPHead', 'my_plugin.heads'))
    assert str(info.value) == (
        "cannot register my_plugin.heads.PSPHead as 'PSPHead' in altair's model registry: it "
        "would shadow mmseg's 'PSPHead' (mmseg.models.decode_heads.psp_head.PSPHead); pick "
        "another name, e.g. 'MyPluginPSPHead'")
    assert MODELS.get('PSPHead').__module__.startswith('mmseg.')


@pytest.mark.parametrize('force', [False, True])
def test_a_plugin_name_taken_by_altair_is_refused(fresh_plugins, force):
    with pytest.raises(NameCollisionError, match=(
            "cannot register my_plugin.seg.AltairEncoderDecoder as 'AltairEncoderDecoder' in "
            "altair's model registry: altair.models.segmentor.AltairEncoderDecoder already has "
            'that name; pick another name')):
        MODELS.register_module(force=force)(_class('AltairEncoderDecoder', 'my_plugin.seg'))
    assert MODELS.get('AltairEncoderDecoder').__module__ == 'altair.models.segmentor'


def test_two_plugins_with_one_name_are_refused(fresh_plugins):
    MODELS.register_module()(_class('SharedNameHead', 'plugin_a.heads'))
    with pytest.raises(NameCollisionError, match="plugin_a.heads.SharedNameHead already has"):
        MODELS.register_module()(_class('SharedNameHead', 'plugin_b.heads'))


def test_the_same_module_through_two_import_paths_registers_once(fresh_plugins):
    first = _class('TwoPathHead', 'my_plugin.heads')
    MODELS.register_module()(first)
    MODELS.register_module()(_class('TwoPathHead', 'projects.my_plugin.my_plugin.heads'))
    assert MODELS.get('TwoPathHead') is first


@pytest.mark.slow
@pytest.mark.extended
def test_pip_install_and_uninstall_of_the_example_plugin(tmp_path):
    """`pip install projects/unetplusplus` into a virtual environment makes UNetPlusPlusHead
    resolvable with no custom_imports; `pip uninstall` removes it."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    py = venv / 'bin' / 'python'
    site = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                          capture_output=True, text=True, check=True).stdout.strip()
    import sysconfig
    # the new environment sees this one's packages (torch, mmseg, ...) and the altair checkout
    Path(site, '_altair_parent.pth').write_text(f"{sysconfig.get_path('purelib')}\n{ROOT}\n")
    src = shutil.copytree(ROOT / 'projects' / 'unetplusplus', tmp_path / 'unetplusplus',
                          ignore=shutil.ignore_patterns('__pycache__'))
    pip = [sys.executable, '-m', 'pip', '--python', str(py), '--disable-pip-version-check']
    subprocess.run(pip + ['install', '--no-deps', '--no-build-isolation', '--no-index', '-q',
                          str(src)], check=True, capture_output=True)
    build = ("from mmengine.registry import DefaultScope\n"
             "from altair.registry import MODELS\n"
             "with DefaultScope.overwrite_default_scope('altair'):\n"
             "    head = MODELS.build(dict(type='UNetPlusPlusHead', in_channels=[4, 8],\n"
             "                             in_index=[0, 1], channels=4, num_classes=2))\n"
             "print(type(head).__module__)\n")
    run = dict(cwd=tmp_path, capture_output=True, text=True, env=_env())
    out = subprocess.run([str(py), '-c', build], **run)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == 'altair_unetplusplus.head'
    listed = subprocess.run([str(py), '-m', 'altair', 'plugins'], **run)
    assert listed.stdout.splitlines()[:2] == [
        'unetplusplus  altair-unetplusplus 0.1.0  (module altair_unetplusplus)',
        '  altair model: UNetPlusPlusHead']
    # the checkout's config (custom_imports of projects.unetplusplus...) builds beside the
    # installed copy: the same classes through two import paths register once
    cfg = ROOT / 'projects/unetplusplus/configs/unetpp_r18-ds_1xb8-600it_bluemarble-256x256.py'
    both = ("import sys; sys.path.insert(0, %r)\n" % str(ROOT)
            + "from mmengine.registry import DefaultScope\n"
            "from altair.config import load_config\n"
            "from altair.registry import MODELS\n"
            f"cfg = load_config({str(cfg)!r})\n"
            "with DefaultScope.overwrite_default_scope('altair'):\n"
            "    print(type(MODELS.build(cfg.model).decode_head).__name__)\n")
    out = subprocess.run([str(py), '-c', both], **run)
    assert out.returncode == 0 and out.stdout.split()[-1] == 'UNetPlusPlusHead', out.stderr[-2000:]

    subprocess.run(pip + ['uninstall', '-y', '-q', 'altair-unetplusplus'], check=True,
                   capture_output=True)
    gone = subprocess.run([str(py), '-c', build], **run)
    assert gone.returncode != 0
    assert 'UNetPlusPlusHead is not in the altair::model registry' in gone.stderr
    assert subprocess.run([str(py), '-m', 'altair', 'plugins'], **run).stdout.startswith(
        'no Altair plugins installed')
