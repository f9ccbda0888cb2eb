"""The quick patch-label recipe learns on data it was not tuned on: a
LUAD-HistoSeg-style folder of 224 px patches with planted tissue colours
(1-3 classes each, labels in the names), the shipped
configs/oeem/cls_r38_luad_histoseg_quick.py trained with tools/train.py and
its pseudo-masks made with tools/make_pseudo_masks.py, as the README's "Your
own patches" says. A classifier that learns only the label prior gives each
patch one class (the one-class floor below); this one must beat the best
one-class pseudo-masks by 10 points of pixel agreement and give most
several-class patches several classes."""
import glob
import os.path as osp
from typing import Dict

import numpy as np

from tests.helpers import REPO, load_tool, write_tissue_patches
from oeem_mmseg.utils.io import read_label

QUICK_CLS = osp.join(REPO, 'configs', 'oeem', 'cls_r38_luad_histoseg_quick.py')
TISSUE = 4  # mask values below this are tissue classes, 4 is background


def planted_scores(root: str, pseudo_dir: str) -> Dict[str, float]:
    """Pseudo-masks of ``root/training`` against the planted masks
    (``root/training_masks``), over tissue pixels: ``agreement`` (percent of
    pixels whose class is right), ``floor`` (the same for the best one-class
    pseudo-mask of each patch: its largest class everywhere), ``multi``
    (patches with several classes) and ``multi_split`` (those whose
    pseudo-mask holds several classes)."""
    agree = best_one = total = multi = multi_split = 0
    for path in sorted(glob.glob(osp.join(root, 'training_masks', '*.png'))):
        planted = read_label(path)
        pseudo = read_label(osp.join(pseudo_dir, osp.basename(path)))
        tissue = planted < TISSUE
        classes, counts = np.unique(planted[tissue], return_counts=True)
        agree += int((pseudo == planted)[tissue].sum())
        best_one += int(counts.max())
        total += int(tissue.sum())
        if len(classes) > 1:
            multi += 1
            multi_split += len(set(np.unique(pseudo[tissue])) - {255}) > 1
    return dict(agreement=100 * agree / total, floor=100 * best_one / total,
                multi=multi, multi_split=multi_split)


def run_quick_recipe(root: str, work: str, seed: int = 0) -> Dict[str, float]:
    """Train the quick classifier on ``root`` (tools/train.py, training seed
    ``seed``), make the pseudo-masks of its training patches with the
    checkpoint it selected (tools/make_pseudo_masks.py) and score them
    (:func:`planted_scores`)."""
    data = [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]
    load_tool('train.py').main([
        QUICK_CLS, '--work-dir', osp.join(work, 'cls'), '--cfg-options',
        f'randomness.seed={seed}', *data])
    checkpoint, = glob.glob(osp.join(work, 'cls', 'best_*.pth'))
    out = osp.join(work, 'pseudo_masks')
    load_tool('make_pseudo_masks.py').main(
        [QUICK_CLS, checkpoint, '--out', out, '--cfg-options', *data])
    return planted_scores(root, out)


def test_quick_patch_label_recipe_learns_planted_tissue(tmp_path):
    # the issue's folder size; a data seed the recipe was not measured on
    # (seeds 0-2)
    root = write_tissue_patches(tmp_path / 'data', training=96, val=8,
                                test=0, side=224, seed=3,
                                training_masks=True)
    scores = run_quick_recipe(root, str(tmp_path / 'work'))
    assert scores['agreement'] >= scores['floor'] + 10, scores
    assert scores['multi_split'] >= 0.75 * scores['multi'], scores
