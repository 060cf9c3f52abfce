"""UNet++ for Altair: a nested-skip decode head over any multi-scale backbone.

Importing this package registers ``UNetPlusPlusHead`` into Altair's model registry. Installed
with pip, the ``altair.plugins`` entry point imports it automatically; from a source checkout,
configs pull it in with ``custom_imports`` (see ``projects/README.md``).
"""
from .head import UNetPlusPlusHead
from .nested import node_inputs, nested_nodes

__all__ = ['UNetPlusPlusHead', 'nested_nodes', 'node_inputs']
__version__ = '0.1.0'
