"""Registry contracts: every Altair registry is a scoped child of mmseg's (of mmengine's where
mmseg has none), and no Altair name shadows an mmseg or mmengine name."""
from __future__ import annotations

import pytest
from mmseg.utils import register_all_modules

import altair.datasets  # noqa: F401
import altair.engine  # noqa: F401
import altair.evaluation  # noqa: F401
import altair.models  # noqa: F401
from altair import registry


def _ancestor_names(reg):
    names = set()
    parent = reg.parent
    while parent is not None:
        parent.import_from_location()
        names |= set(parent.module_dict)
        parent = parent.parent
    return names


@pytest.mark.parametrize('name', sorted(registry.ALL))
def test_registry_is_scoped_child_of_mmseg(name):
    reg = registry.ALL[name]
    assert reg.scope == 'altair'
    # mmseg has no strategy or function registry: those two hang under mmengine's
    parent_scope = 'mmengine' if name in ('STRATEGIES', 'FUNCTIONS') else 'mmseg'
    assert reg.parent is not None and reg.parent.scope == parent_scope


def test_no_altair_name_shadows_mmseg_or_mmengine():
    register_all_modules(init_default_scope=False)
    clashes = {}
    for name, reg in registry.ALL.items():
        reg.import_from_location()
        clash = set(reg.module_dict) & _ancestor_names(reg)
        if clash:
            clashes[name] = sorted(clash)
    assert clashes == {}


def test_registries_hold_the_foundation_components():
    assert 'BlueMarbleDataset' in registry.DATASETS.module_dict
    assert 'AltairRunner' in registry.RUNNERS.module_dict
    assert 'AutocastOptimWrapper' in registry.OPTIM_WRAPPERS.module_dict
    assert 'ClassIoUMetric' in registry.METRICS.module_dict


def test_altair_scope_resolves_mmseg_components():
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('altair'):
        model = registry.MODELS.build(dict(type='FCNHead', in_channels=4, channels=4,
                                           num_classes=3, num_convs=1))
    assert type(model).__name__ == 'FCNHead'
