"""ModelCard: what every loader writes and prediction reads, in one typed record."""
from __future__ import annotations

from torch import nn

from altair.models.card import ModelCard, attach_card, card_of


def test_a_loader_attaches_one_card_from_the_model_meta():
    net = nn.Conv2d(3, 2, 1)
    net.dataset_meta = dict(classes=['water', 'land'], palette=[[0, 0, 255], [0, 255, 0]])
    attach_card(net, train_crop=[256, 320], raster=dict(bands=[3, 2, 1], nodata=0),
                source=dict(checkpoint='x'))
    card = card_of(net)
    assert card == ModelCard(classes=('water', 'land'), palette=((0, 0, 255), (0, 255, 0)),
                             train_crop=(256, 320), raster=dict(bands=[3, 2, 1], nodata=0),
                             source=dict(checkpoint='x'))


def test_a_hand_built_model_gets_a_card_from_its_meta_alone():
    net = nn.Conv2d(3, 2, 1)
    assert card_of(net) == ModelCard(source='Conv2d')
    net.dataset_meta = dict(classes=['a', 'b'])
    assert card_of(net).classes == ('a', 'b') and card_of(net).palette is None
