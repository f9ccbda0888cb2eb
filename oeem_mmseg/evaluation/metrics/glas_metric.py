"""GlaS evaluation: the paper's mIoU plus the official GlaS object-level
metrics (Sirinukunwattana et al., MedIA 2017).

Pixels are counted by :mod:`oeem_mmseg.evaluation.functional.pixel_counts`
(the one way of this package); the summaries
(:meth:`GlaSMetric.pixel_summary`, :meth:`GlaSMetric.object_summary`) are
static functions of those counts.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...datasets.glas import GlaSDataset
from ...utils.errors import OEEMInputError
from ...utils.io import read_label
from ..functional import (class_iou, glands, intersect_and_union,
                          object_statistics, pooled_object_scores, ratio,
                          total_counts)

SPLIT_PREFIXES = ('testA', 'testB')
OTHER_SPLIT = 'other'


def image_split(img_path: str) -> str:
    """Split of an image from its file name: ``'testA'``, ``'testB'`` (names
    starting with them, as in the official release) or ``'other'``."""
    name = osp.splitext(osp.basename(img_path))[0]
    for prefix in SPLIT_PREFIXES:
        if name.startswith(prefix):
            return prefix
    return OTHER_SPLIT


def read_instances(path: str, shape: Sequence[int]) -> np.ndarray:
    """A ground-truth instance map (H, W) of ``shape``: 0 background, k > 0
    gland k."""
    instances = read_label(path)
    if instances.shape != tuple(shape):
        raise OEEMInputError(
            f'{path}: instance map size {instances.shape[1]}x'
            f'{instances.shape[0]} differs from the mask size {shape[1]}x'
            f'{shape[0]}')
    return instances


def relabel_instances(instances: np.ndarray) -> Tuple[np.ndarray, int]:
    """Instance ids made consecutive: ``(map, n)`` with ids 1..n."""
    ids, consecutive = np.unique(instances, return_inverse=True)
    consecutive = consecutive.reshape(instances.shape)
    if ids[0] != 0:
        consecutive += 1
    return consecutive.astype(np.int32), int(np.count_nonzero(ids))


@METRICS.register_module()
class GlaSMetric(BaseMetric):
    """Pixel and object-level metrics for GlaS gland segmentation.

    Classes: 0 non-gland, 1 gland; ``ignore_index`` pixels of the ground
    truth are left out of the pixel counts and count as background for the
    objects. Predicted glands are the 8-connected components of the
    predicted gland class. Ground-truth glands are the annotated instances
    when the data sample carries ``instance_path`` (an instance map written
    by ``tools/dataset_converters/glas.py`` from the official release: 0
    background, k = gland k), else the 8-connected components of the
    ground-truth mask (then two touching glands count as one); the log says
    which was used.

    Keys of the returned dict (pixel values in percent, distances in pixels,
    all rounded to 2 decimals):

    - ``mIoU``: mean over the two classes of the IoU accumulated over all
      pixels of all images (the paper's metric); ``IoU.non-gland``,
      ``IoU.gland``: the two IoUs;
    - ``Dice_from_mIoU``: ``2 m / (1 + m)`` for ``m = mIoU`` (what the
      paper's "Dice" column is, not a measured Dice);
    - ``Dice.gland``: pixel Dice (= pixel F1) of the gland class accumulated
      over all pixels; ``imgDice.gland``: the mean over images of each
      image's gland pixel Dice (1 for an image where neither prediction nor
      ground truth has gland; likewise an IoU whose union is empty is 1);
    - ``objF1``, ``objDice``, ``objHausdorff`` (only when
      ``object_metrics``): the GlaS challenge metrics as the challenge
      defines them (Sirinukunwattana et al., MedIA 2017) and published
      results report them: F1 from the true and false positives and false
      negatives summed over the images; object Dice and object Hausdorff
      with every object weighted by its area among all objects of all images
      of the part (:func:`pooled_object_scores`);
      ``imgObjDice``, ``imgObjHausdorff``: the per-image object Dice and
      Hausdorff averaged over the images (not the challenge's definition).

    Images named ``testA*`` / ``testB*`` form the splits ``testA`` /
    ``testB``, any other name the split ``other``. When the images span more
    than one split, every key is also reported per split with the suffix
    ``.<split>`` (e.g. ``mIoU.testA``, ``objF1.testB``), the pooled object
    scores pooled within the split.

    Args:
        ignore_index (int): Ground-truth value left out. Defaults to 255.
        object_metrics (bool): Compute the object-level metrics (slower).
            Defaults to True.
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 object_metrics: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.object_metrics = object_metrics

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store the per-image statistics of one batch in ``self.results``.

        Args:
            data_batch (dict): A batch of data from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, each with
                ``pred_sem_seg.data`` and ``gt_sem_seg.data`` (1, H, W),
                ``img_path`` and optionally ``instance_path``.
        """
        for data_sample in data_samples:
            pred = data_sample['pred_sem_seg']['data'].squeeze().cpu().numpy()
            gt = data_sample['gt_sem_seg']['data'].squeeze().cpu().numpy()
            instances = None
            if self.object_metrics and data_sample.get('instance_path'):
                instances = read_instances(data_sample['instance_path'],
                                           gt.shape)
            self.results.append(
                self.image_statistics(pred, gt,
                                      image_split(data_sample['img_path']),
                                      instances))

    @staticmethod
    def pixel_summary(results: Sequence[dict],
                      class_names: Sequence[str]) -> Dict[str, float]:
        """Pixel metrics (fractions in [0, 1], unrounded) of the per-image
        counts of :func:`intersect_and_union`: ``mIoU`` and ``IoU.<class>``
        (accumulated over all pixels), ``Dice_from_mIoU``, and for every
        class but the first (background) ``Dice.<class>`` (over all pixels)
        and ``imgDice.<class>`` (mean over images)."""
        total = total_counts(results)
        iou = class_iou(total)
        metrics = OrderedDict(mIoU=float(iou.mean()))
        for name, iou_of_class in zip(class_names, iou):
            metrics[f'IoU.{name}'] = float(iou_of_class)
        metrics['Dice_from_mIoU'] = 2 * metrics['mIoU'] / (1 + metrics['mIoU'])

        def dice(counts: dict, label: int) -> float:
            return ratio(2 * counts['intersect'][label],
                         counts['pred_area'][label] + counts['gt_area'][label])

        for label, name in enumerate(class_names[1:], start=1):
            metrics[f'Dice.{name}'] = dice(total, label)
            metrics[f'imgDice.{name}'] = float(
                np.mean([dice(result, label) for result in results]))
        return metrics

    @staticmethod
    def object_summary(results: Sequence[dict]) -> Dict[str, float]:
        """GlaS object metrics of the per-image :func:`object_statistics`:
        ``objF1`` (from the summed counts), ``objDice`` (fraction) and
        ``objHausdorff`` (pixels) pooled over the images as the challenge
        defines them, ``imgObjDice`` and ``imgObjHausdorff`` their per-image
        values averaged over the images."""
        tp, fp, fn = (sum(result[key] for result in results)
                      for key in ('tp', 'fp', 'fn'))
        dice, hausdorff = pooled_object_scores(results)
        return OrderedDict(
            objF1=ratio(2 * tp, 2 * tp + fp + fn),
            objDice=dice,
            objHausdorff=hausdorff,
            imgObjDice=float(np.mean([result['dice'] for result in results])),
            imgObjHausdorff=float(
                np.mean([result['hausdorff'] for result in results])))

    @property
    def class_names(self) -> Sequence[str]:
        """Class names from ``dataset_meta`` (GlaS's when there is none)."""
        return (self.dataset_meta or GlaSDataset.METAINFO)['classes']

    def image_statistics(self,
                         pred: np.ndarray,
                         gt: np.ndarray,
                         split: str,
                         gt_instances: Optional[np.ndarray] = None) -> dict:
        """Pixel (and object) statistics of one image.

        Args:
            pred (np.ndarray): Predicted classes (H, W).
            gt (np.ndarray): Ground-truth classes (H, W), may hold
                ``ignore_index``.
            split (str): The image's split.
            gt_instances (np.ndarray, optional): Annotated glands (H, W), 0
                background, k > 0 gland k; None: the connected components of
                ``gt == 1``.

        Returns:
            dict: ``split``; the counts of :func:`intersect_and_union`; with
            object metrics also the keys of :func:`object_statistics`
            (glands: class 1) and ``instances`` (whether annotated instances
            were used).
        """
        statistics = dict(
            split=split,
            **intersect_and_union(pred, gt, len(self.class_names),
                                       self.ignore_index))
        if self.object_metrics:
            valid = gt != self.ignore_index
            if gt_instances is None:
                gt_objects = glands((gt == 1) & valid)
            else:
                gt_objects = relabel_instances(np.where(valid, gt_instances,
                                                        0))
            statistics.update(
                object_statistics(*glands((pred == 1) & valid), *gt_objects),
                instances=gt_instances is not None)
        return statistics

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the metrics of all images, and per split when there are
        several; print them as a table.

        Args:
            results (list): The dicts of :meth:`image_statistics`.

        Returns:
            dict[str, float]: The metrics, keys as in the class docstring.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.object_metrics:
            annotated = sum(result['instances'] for result in results)
            print_log(
                f'GlaS object metrics: ground-truth glands from instance maps '
                f'in {annotated} images, from connected components of the '
                f'mask in {len(results) - annotated}', logger)
        splits = sorted({result['split'] for result in results})
        table_rows = OrderedDict(all=self._summarize(results))
        metrics = dict(table_rows['all'])
        if len(splits) > 1:
            for split in splits:
                row = self._summarize(
                    [result for result in results if result['split'] == split])
                table_rows[split] = row
                metrics.update({
                    f'{key}.{split}': value
                    for key, value in row.items()
                })
        table = PrettyTable()
        table.field_names = ['Split'] + list(table_rows['all'])
        for split, row in table_rows.items():
            table.add_row([split] + list(row.values()))
        print_log('GlaS results:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        return metrics

    def _summarize(self, results: List[dict]) -> Dict[str, float]:
        """Metrics of a group of images (see the class docstring)."""
        metrics = OrderedDict(
            (key, round(100 * value, 2))
            for key, value in self.pixel_summary(results,
                                                 self.class_names).items())
        if self.object_metrics:
            objects = self.object_summary(results)
            metrics['objF1'] = round(100 * objects['objF1'], 2)
            metrics['objDice'] = round(100 * objects['objDice'], 2)
            metrics['objHausdorff'] = round(objects['objHausdorff'], 2)
            metrics['imgObjDice'] = round(100 * objects['imgObjDice'], 2)
            metrics['imgObjHausdorff'] = round(objects['imgObjHausdorff'], 2)
        return metrics
