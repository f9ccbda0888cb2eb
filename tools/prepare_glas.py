"""Convert a GlaS folder (official release or glas_subset-like) into the
project layout: OUT/images, OUT/masks (0/1), OUT/splits/*.txt.

    python tools/prepare_glas.py "data/Warwick QU Dataset (Released 2016_07_08)" \
        data/glas
    python tools/prepare_glas.py /work/shared/data/glas_subset data/glas_subset

Re-running on a finished OUT skips the images already converted.
"""
import argparse

from oeem_mmseg.datasets.prepare_glas import prepare_glas
from oeem_mmseg.utils import exit_on_user_error


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Prepare GlaS')
    parser.add_argument('src', help='GlaS folder (images, *_anno masks, '
                        'optional Grade.csv)')
    parser.add_argument('out', help='output folder')
    parser.add_argument(
        '--val-fraction', type=float, default=0.2,
        help='fraction of the train_* images held out for validation, by '
        'patient when Grade.csv is there (default 0.2; 0 = none)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the validation draw')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> None:
    args = parse_args(argv)
    summary = prepare_glas(args.src, args.out, args.val_fraction, args.seed)
    print(f"prepared {args.out}: train {summary['train']}, val "
          f"{summary['val']} (by {summary['val_by']}), testA "
          f"{summary['testA']}, testB {summary['testB']}, test "
          f"{summary['test']}; {summary['converted']} images converted, "
          f"{summary['skipped']} already done")


if __name__ == '__main__':
    main()
