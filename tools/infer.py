"""Segment new images of any size, and whole slides, with a trained
segmentor.

    python tools/infer.py configs/oeem/pspnet_r38_glas_oeem.py CKPT slides/*.png --out results/
    python tools/infer.py configs/oeem/pspnet_r38_glas_oeem.py CKPT slide.svs --out results/

Whole slides (.svs, .ndpi, .mrxs, pyramidal .tif, ...) give NAME_mask.tif,
NAME_overlay.png, NAME.geojson (QuPath annotations) and NAME_areas.json/.csv;
see oeem_mmseg/apis/slide_inference.py.
"""
import argparse
import sys

from oeem_mmseg.apis.inference import infer_images, init_model
from oeem_mmseg.apis.slide_inference import SlideOptions
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.cli import add_cfg_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment images and slides')
    parser.add_argument('config', help='segmentation config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+',
                        help='image or slide files, or folders')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument(
        '--aug-test', action='store_true',
        help="the paper's multi-scale + flip inference on test tiles")
    parser.add_argument(
        '--batch-size', type=int,
        help='windows per forward pass (default: the config\'s '
        'model.test_cfg.batch_size)')
    parser.add_argument(
        '--block-size', type=int, default=2048,
        help='images larger than this are segmented in blocks of this side '
        '(pixels)')
    slides = parser.add_argument_group('whole slides')
    resolution = slides.add_mutually_exclusive_group()
    resolution.add_argument(
        '--level', type=int,
        help="segment this slide level as it is (default: the config's "
        "slide_cfg.mpp, the training data's scale: a level within 5%% of it, "
        'else the next finer level resized)')
    resolution.add_argument(
        '--mpp', type=float,
        help='segment at this many microns per pixel (needs the slide\'s '
        'own, from its metadata or --slide-mpp)')
    slides.add_argument(
        '--slide-mpp', type=float,
        help='microns per level-0 pixel of the slides, when their metadata '
        'lacks them')
    slides.add_argument(
        '--no-tissue-mask', dest='tissue_mask', action='store_false',
        help='segment every slide tile, glass included')
    slides.add_argument(
        '--tile-size', type=int, default=1024,
        help='slide tile side at the inference resolution (multiple of 16): '
        'unit of work, of resuming and of the mask TIFF')
    slides.add_argument(
        '--simplify', type=float, default=1.0,
        help='GeoJSON polygon simplification tolerance (inference pixels)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg_options = dict(args.cfg_options or {})
    if args.batch_size is not None:
        cfg_options['model.test_cfg.batch_size'] = args.batch_size
    model = init_model(args.config, args.checkpoint, args.device,
                       args.aug_test, cfg_options)
    slide_options = SlideOptions(
        level=args.level, mpp=args.mpp, slide_mpp=args.slide_mpp,
        tissue_mask=args.tissue_mask, tile_size=args.tile_size,
        simplify=args.simplify)
    summary = infer_images(model, args.inputs, args.out, args.block_size,
                           slide_options)
    print(f'{summary["done"]} segmented, {summary["skipped"]} already done; '
          f'results in {args.out}')
    failed = summary['failed']
    if failed:
        print('error: ' + (failed[0] if len(failed) == 1 else
                           f'{len(failed)} inputs could not be segmented '
                           f'(the others were): {"; ".join(failed)}'),
              file=sys.stderr)
        sys.exit(2)
    return summary


if __name__ == '__main__':
    main()
