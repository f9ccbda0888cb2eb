"""Segment new images of any size with a trained segmentor.

    python tools/infer.py configs/oeem/pspnet_r38_glas_oeem.py CKPT slides/*.png --out results/
"""
import argparse

from oeem_mmseg.apis.inference import infer_images, init_model
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.cli import add_cfg_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment images')
    parser.add_argument('config', help='segmentation config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', help='image files or folders')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument(
        '--aug-test', action='store_true',
        help="the paper's tiled multi-scale + flip inference")
    parser.add_argument(
        '--block-size', type=int, default=2048,
        help='larger images are segmented in blocks of this side (pixels)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, args.device,
                       args.aug_test, args.cfg_options)
    summary = infer_images(model, args.inputs, args.out, args.block_size)
    print(f'{summary["done"]} segmented, {summary["skipped"]} already done; '
          f'results in {args.out}')
    return summary


if __name__ == '__main__':
    main()
