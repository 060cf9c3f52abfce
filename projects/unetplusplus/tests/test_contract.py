"""The plugin contract of altair.testing, over this plugin and its configs."""
from __future__ import annotations

import pytest

from altair.testing import plugin_checks

PACKAGE = 'projects.unetplusplus.altair_unetplusplus'  # as the configs' custom_imports name it
CHECKS = plugin_checks(PACKAGE, configs='configs')


def test_contract_covers_the_head_and_both_configs():
    assert {c.id for c in CHECKS} == {
        'registers', 'no-shadowing', 'build:model.UNetPlusPlusHead',
        'config:unetpp_convnext-atto_1xb8-600it_bluemarble-256x256.py',
        'config:unetpp_r18-ds_1xb8-600it_bluemarble-256x256.py'}


@pytest.mark.parametrize('check', CHECKS, ids=str)
def test_plugin_contract(check):
    check()
