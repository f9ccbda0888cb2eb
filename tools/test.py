"""Test a checkpoint.

    python tools/test.py configs/oeem/pspnet_r38_glas_oeem.py CKPT --aug-test
    python tools/test.py CONFIG CKPT --out work_dirs/pred --show-dir work_dirs/vis
"""
import argparse

from oeem_mmseg.apis import (LAUNCHERS, configure_test, load_config,
                             set_local_rank, test_model)
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.cli import add_cfg_options, add_launcher_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the metrics are dumped')
    parser.add_argument(
        '--out',
        help='segmentation: folder for the predicted masks (PNG); '
        'classification: a .pkl file of the predictions')
    parser.add_argument(
        '--show-dir', help='folder for painted predictions')
    parser.add_argument(
        '--aug-test',
        action='store_true',
        help="the paper's test: 256/192 tiles, 8 scales x flip, sliding "
        'windows 320/256, softmax average')
    parser.add_argument(
        '--tta', action='store_true',
        help="MMSeg's test-time augmentation (tta_model / tta_pipeline); "
        'not with --aug-test')
    add_cfg_options(parser)
    add_launcher_options(parser, LAUNCHERS)
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    cfg = load_config(args.config, args.work_dir, args.cfg_options,
                      args.launcher)
    configure_test(cfg, args.checkpoint, out=args.out,
                   show_dir=args.show_dir, tta=args.tta,
                   aug_test=args.aug_test)
    return test_model(cfg)


if __name__ == '__main__':
    main()
