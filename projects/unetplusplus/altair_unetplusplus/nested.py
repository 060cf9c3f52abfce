"""The wiring of UNet++'s nested skip pathways, as plain data.

Zhou et al., "UNet++: A Nested U-Net Architecture for Medical Image Segmentation", DLMIA 2018
(arXiv:1807.10165). Node ``(i, j)`` sits at depth ``i`` (resolution of backbone level ``i``) and
column ``j``; column 0 holds the backbone features. For ``j >= 1`` a node convolves the
concatenation of every earlier node of its row, ``(i, 0) .. (i, j-1)``, and the upsampled node
``(i+1, j-1)`` below it.
"""
from __future__ import annotations


def nested_nodes(num_levels: int) -> list[tuple[int, int]]:
    """Decoder nodes ``(i, j)``, ``j >= 1``, in an order where every input comes first.

    Args:
        num_levels: backbone levels used (``L >= 2``).

    Returns:
        ``L * (L - 1) / 2`` nodes, column by column; the last is ``(0, L - 1)``, the output.
    """
    if num_levels < 2:
        raise ValueError(f'UNet++ needs at least 2 backbone levels, got {num_levels}')
    return [(i, j) for j in range(1, num_levels) for i in range(num_levels - j)]


def node_inputs(i: int, j: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Inputs of node ``(i, j)``: its row's earlier nodes (same resolution) and the node
    below to upsample."""
    if j < 1:
        raise ValueError(f'node ({i}, {j}) is a backbone feature, not a decoder node')
    return [(i, k) for k in range(j)], (i + 1, j - 1)


def node_in_channels(i: int, j: int, in_channels: list[int], widths: list[int]) -> int:
    """Channels entering node ``(i, j)``: backbone features in column 0, ``widths`` after."""
    same_row, below = node_inputs(i, j)
    width = lambda node: in_channels[node[0]] if node[1] == 0 else widths[node[0]]  # noqa: E731
    return sum(width(n) for n in same_row) + width(below)
