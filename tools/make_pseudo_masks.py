"""Pseudo-masks of the training images (or patches) from a trained CAM
classifier.

    python tools/make_pseudo_masks.py configs/oeem/cls_r38_glas.py \
        work_dirs/cls_r38_glas/best.pth --out data/glas/pseudo_masks
    python tools/make_pseudo_masks.py configs/oeem/cls_r38_luad_histoseg.py \
        CKPT --out data/luad_histoseg/pseudo_masks

Writes OUT/NAME.png (class per pixel) and OUT/cam/NAME.png (CAM argmax) per
training image or patch, skipping those already done, and prints the CAM
and pseudo-mask mIoU against the ground truth where there is some (see
oeem_mmseg.apis.pseudo_masks). ``--cfg-options cam_cfg.mode=fast`` for the
fast CAM mode.
"""
import argparse

from oeem_mmseg.apis.pseudo_masks import make_pseudo_masks
from oeem_mmseg.utils.device import AMP_DTYPES
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.cli import add_cfg_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Make pseudo-masks from the CAMs of a classifier')
    parser.add_argument('config', help='classification config file')
    parser.add_argument('checkpoint', help='classifier checkpoint')
    parser.add_argument('--out', required=True,
                        help='output folder of the pseudo-masks')
    parser.add_argument('--device', default='cpu',
                        help='cpu or cuda[:N] (default: cpu)')
    parser.add_argument('--batch-size', type=int, default=64,
                        help='crops per forward pass (default: 64)')
    parser.add_argument(
        '--amp', choices=sorted(AMP_DTYPES),
        help='autocast dtype: bf16 (CPU or CUDA) or fp16 (CUDA)')
    parser.add_argument('--show-dir',
                        help='folder for overlay pictures of each image')
    add_cfg_options(parser)
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    return make_pseudo_masks(
        args.config,
        args.checkpoint,
        args.out,
        device=args.device,
        batch_size=args.batch_size,
        amp=args.amp,
        show_dir=args.show_dir,
        cfg_options=args.cfg_options)


if __name__ == '__main__':
    main()
