"""Convert the MXNet ResNet-38 ImageNet weights to a ``res38d.pth`` state dict.

    python tools/convert_resnet38_mxnet.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params pretrained/res38d.pth

MXNet is not needed. The result loads into the ``ResNet38`` backbone with
``init_cfg=dict(type='Pretrained', checkpoint='pretrained/res38d.pth')``.
"""
import argparse
import sys
from typing import List, Optional

from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.mxnet_params import convert_mxnet_resnet38


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the MXNet ResNet-38 (A1) .params file to the '
        'res38d.pth PyTorch state dict.')
    parser.add_argument('src', help='MXNet .params file')
    parser.add_argument('dst', help='output .pth file (written atomically)')
    parser.add_argument(
        '--keep-classifier', action='store_true',
        help='also keep the ImageNet classifier as linear1000.weight/bias')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    missing = convert_mxnet_resnet38(
        args.src, args.dst, keep_classifier=args.keep_classifier)
    print(f'wrote {args.dst}')
    if missing:
        print(f'warning: {len(missing)} ResNet-38 tensors are not in '
              f'{args.src}: {", ".join(missing)}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
