"""Train a segmentor (mmseg config) or the CAM classifier (mmpretrain config).

    python tools/train.py configs/oeem/pspnet_r38_glas_oeem.py
    python tools/train.py configs/oeem/cls_r38_glas.py --work-dir work_dirs/cls
"""
import argparse

from oeem_mmseg.apis import (LAUNCHERS, configure_train, load_config,
                             set_local_rank, train_model)
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.cli import add_cfg_options, add_launcher_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the latest checkpoint of the work dir, or from '
        'the checkpoint given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision (CUDA)')
    add_cfg_options(parser)
    add_launcher_options(parser, LAUNCHERS)
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> None:
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    cfg = load_config(args.config, args.work_dir, args.cfg_options,
                      args.launcher)
    configure_train(cfg, resume=args.resume, amp=args.amp)
    train_model(cfg)


if __name__ == '__main__':
    main()
