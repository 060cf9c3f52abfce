#!/usr/bin/env python
"""Write a folder of image and label volumes (one channel) as an nnU-Net raw dataset:
DST/imagesTr/<case>_0000.nii.gz, DST/labelsTr/<case>.nii.gz and DST/dataset.json."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from altair.datasets.nnunet import write_nnunet

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('src', help='the volumes folder (one `altair init` reads as volumes)')
    p.add_argument('dst', help='the nnU-Net dataset folder to write (new or empty)')
    p.add_argument('--channel-name', default='image',
                   help="the channel's name in dataset.json; CT gets a dataset-wide window "
                        '(default: %(default)s)')
    p.add_argument('--link', action='store_true',
                   help='symbolic links to the source files instead of copies')
    args = p.parse_args(argv)
    dst = write_nnunet(args.src, args.dst, channel_names=[args.channel_name], link=args.link)
    print(f'wrote {dst} (dataset.json, imagesTr/, labelsTr/)')
    return 0


if __name__ == '__main__':
    from altair.cli import run_tool
    sys.exit(run_tool(main))
