"""GlaS evaluation: the paper's two-class mIoU plus the official GlaS
object-level metrics (Sirinukunwattana et al., MedIA 2017)."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable
from scipy import ndimage

from mmseg.registry import METRICS

CLASS_NAMES = ('non-gland', 'gland')
SPLIT_PREFIXES = ('testA', 'testB')
OTHER_SPLIT = 'other'
EIGHT_CONNECTIVITY = np.ones((3, 3), dtype=bool)


def image_split(img_path: str) -> str:
    """Split of an image from its file name: ``'testA'``, ``'testB'`` (names
    starting with them, as in the official release) or ``'other'``."""
    name = osp.splitext(osp.basename(img_path))[0]
    for prefix in SPLIT_PREFIXES:
        if name.startswith(prefix):
            return prefix
    return OTHER_SPLIT


def glands(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """Glands of a binary mask: its 8-connected components.

    Returns:
        tuple: The instance map (H, W), int32, 0 = background, 1..n = glands,
        and the number n of glands.
    """
    instances, num = ndimage.label(mask, structure=EIGHT_CONNECTIVITY)
    return instances, num


def object_boxes(instances: np.ndarray) -> np.ndarray:
    """Bounding boxes of the objects 1..n of an instance map, shape (n, 4),
    rows ``(top, left, bottom, right)`` with the end rows/columns excluded."""
    return np.array([(rows.start, cols.start, rows.stop, cols.stop)
                     for rows, cols in ndimage.find_objects(instances)],
                    dtype=np.int64).reshape(-1, 4)


def hausdorff_distance(instances_a: np.ndarray, id_a: int, box_a: np.ndarray,
                       instances_b: np.ndarray, id_b: int,
                       box_b: np.ndarray) -> float:
    """Hausdorff distance in pixels between two non-empty objects.

    Object ``id_a`` of ``instances_a`` (bounding box ``box_a``, a row of
    :func:`object_boxes`) against object ``id_b`` of ``instances_b``, over
    all their pixels (Euclidean). The distance maps are computed on the union
    of the two bounding boxes, which holds both objects, so they are exact.
    """
    top, left = np.minimum(box_a[:2], box_b[:2])
    bottom, right = np.maximum(box_a[2:], box_b[2:])
    object_a = instances_a[top:bottom, left:right] == id_a
    object_b = instances_b[top:bottom, left:right] == id_b
    a_to_b = ndimage.distance_transform_edt(~object_b)[object_a].max()
    b_to_a = ndimage.distance_transform_edt(~object_a)[object_b].max()
    return float(max(a_to_b, b_to_a))


def _box_distance(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Euclidean distance between boxes (``(top, left, bottom, right)``,
    ends included), broadcast over the leading axes."""
    row_gap = np.maximum(
        np.maximum(boxes_b[..., 0] - boxes_a[..., 2],
                   boxes_a[..., 0] - boxes_b[..., 2]), 0)
    col_gap = np.maximum(
        np.maximum(boxes_b[..., 1] - boxes_a[..., 3],
                   boxes_a[..., 1] - boxes_b[..., 3]), 0)
    return np.hypot(row_gap, col_gap)


def _box_sides(boxes: np.ndarray) -> np.ndarray:
    """The four sides (top, bottom, left, right) of boxes with ends included,
    as degenerate boxes: shape (..., 4, 4)."""
    top, left, bottom, right = np.moveaxis(boxes, -1, 0)
    sides = [(top, left, top, right), (bottom, left, bottom, right),
             (top, left, bottom, left), (top, right, bottom, right)]
    return np.stack([np.stack(side, axis=-1) for side in sides], axis=-2)


def _hausdorff_lower_bounds(box: np.ndarray,
                            other_boxes: np.ndarray) -> np.ndarray:
    """Lower bounds (m,) of the Hausdorff distance between an object with
    bounding box ``box`` and objects with ``other_boxes`` (m, 4).

    Every side of an object's bounding box holds a pixel of the object, so
    the distance from that side to the other object's box cannot exceed the
    Hausdorff distance.
    """
    closed = box - np.array([0, 0, 1, 1])
    other_closed = other_boxes - np.array([0, 0, 1, 1])
    from_sides = _box_distance(
        _box_sides(closed)[:, None], other_closed[None]).max(axis=0)
    to_sides = _box_distance(_box_sides(other_closed),
                             closed[None, None]).max(axis=1)
    return np.maximum(from_sides, to_sides)


def _nearest_object_distance(instances: np.ndarray, object_id: int,
                             box: np.ndarray, other_instances: np.ndarray,
                             other_boxes: np.ndarray) -> float:
    """Smallest Hausdorff distance from an object to the objects of the other
    set (the challenge's rule for an object that overlaps none).

    Candidates are visited by increasing lower bound, stopping once the bound
    reaches the best distance found.
    """
    lower_bounds = _hausdorff_lower_bounds(box, other_boxes)
    best = np.inf
    for candidate in np.argsort(lower_bounds, kind='stable'):
        if lower_bounds[candidate] >= best:
            break
        best = min(
            best,
            hausdorff_distance(instances, object_id, box, other_instances,
                               candidate + 1, other_boxes[candidate]))
    return best


def _object_dice_and_hausdorff(
        overlap: np.ndarray, instances: np.ndarray,
        other_instances: np.ndarray) -> Tuple[float, float]:
    """One half of the object Dice and object Hausdorff sums.

    For every object of ``instances`` (rows of ``overlap``), weighted by its
    share of the total object area: the Dice and Hausdorff distance with the
    object of ``other_instances`` (columns) it overlaps most; with none, Dice
    0 and the distance to the nearest object.

    Args:
        overlap (np.ndarray): Pixel counts (n + 1, m + 1) of each pair of
            labels, row/column 0 the background.
    """
    areas = overlap[1:].sum(axis=1)
    other_areas = overlap[:, 1:].sum(axis=0)
    shares = areas / areas.sum()
    pair_overlap = overlap[1:, 1:]
    partners = pair_overlap.argmax(axis=1)
    boxes = object_boxes(instances)
    other_boxes = object_boxes(other_instances)
    dice = 0.0
    hausdorff = 0.0
    for index, (partner, share) in enumerate(zip(partners, shares)):
        common = pair_overlap[index, partner]
        if common > 0:
            dice += share * 2 * common / (areas[index] + other_areas[partner])
            hausdorff += share * hausdorff_distance(
                instances, index + 1, boxes[index], other_instances,
                partner + 1, other_boxes[partner])
        else:
            hausdorff += share * _nearest_object_distance(
                instances, index + 1, boxes[index], other_instances,
                other_boxes)
    return dice, hausdorff


def object_statistics(pred_instances: np.ndarray, num_pred: int,
                      gt_instances: np.ndarray,
                      num_gt: int) -> Dict[str, float]:
    """GlaS object-level statistics of one image.

    Args:
        pred_instances (np.ndarray): Segmented objects (H, W), 0 background,
            1..num_pred objects.
        num_pred (int): Number of segmented objects.
        gt_instances (np.ndarray): Ground-truth glands (H, W), 0 background,
            1..num_gt glands.
        num_gt (int): Number of ground-truth glands.

    Returns:
        dict: ``tp``, ``fp``, ``fn`` (object counts for the F1 score: a
        segmented object is a true positive when it covers more than 50 % of
        the area of the ground-truth gland it overlaps most, as in the
        official code, so a gland is matched at most once), ``dice`` (object
        Dice, 0-1) and ``hausdorff`` (object Hausdorff, pixels). With no
        object on either side Dice is 1 and Hausdorff 0; with objects on one
        side only Dice is 0 and Hausdorff the image diagonal (the largest
        distance in the image; the official code is undefined there).
    """
    if num_pred == 0 or num_gt == 0:
        both_empty = num_pred == num_gt
        return dict(
            tp=0,
            fp=num_pred,
            fn=num_gt,
            dice=float(both_empty),
            hausdorff=0.0 if both_empty else float(
                np.hypot(*pred_instances.shape)))
    overlap = np.bincount(
        (pred_instances.astype(np.int64) * (num_gt + 1) +
         gt_instances).ravel(),
        minlength=(num_pred + 1) * (num_gt + 1)).reshape(
            num_pred + 1, num_gt + 1)
    pred_overlap = overlap[1:, 1:]
    gt_areas = overlap[:, 1:].sum(axis=0)
    best_gt = pred_overlap.argmax(axis=1)
    covered = pred_overlap[np.arange(num_pred), best_gt] / gt_areas[best_gt]
    tp = int((covered > 0.5).sum())
    pred_dice, pred_hausdorff = _object_dice_and_hausdorff(
        overlap, pred_instances, gt_instances)
    gt_dice, gt_hausdorff = _object_dice_and_hausdorff(overlap.T, gt_instances,
                                                       pred_instances)
    return dict(
        tp=tp,
        fp=num_pred - tp,
        fn=num_gt - tp,
        dice=float(pred_dice + gt_dice) / 2,
        hausdorff=float(pred_hausdorff + gt_hausdorff) / 2)


@METRICS.register_module()
class GlaSMetric(BaseMetric):
    """Pixel and object-level metrics for GlaS gland segmentation.

    Classes: 0 non-gland, 1 gland; ``ignore_index`` pixels of the ground
    truth are left out of the pixel counts and count as background for the
    objects. Glands are the 8-connected components of the binary prediction
    and of the binary ground truth.

    Keys of the returned dict (pixel values in percent, distances in pixels,
    all rounded to 2 decimals):

    - ``mIoU``: mean over the two classes of the IoU accumulated over all
      pixels of all images (the paper's metric); ``IoU.non-gland``,
      ``IoU.gland``: the two IoUs;
    - ``Dice_from_mIoU``: ``2 m / (1 + m)`` for ``m = mIoU`` (the paper's
      "Dice" column, not a measured Dice);
    - ``Dice.gland``: pixel Dice (= pixel F1) of the gland class accumulated
      over all pixels; ``imgDice.gland``: the mean over images of each
      image's gland pixel Dice (1 for an image where neither prediction nor
      ground truth has gland; likewise an IoU whose union is empty is 1);
    - ``objF1``, ``objDice``, ``objHausdorff`` (only when
      ``object_metrics``): the GlaS challenge metrics; F1 from the true and
      false positives and false negatives summed over the images, object
      Dice and Hausdorff averaged over the images (see
      :func:`object_statistics`).

    Images named ``testA*`` / ``testB*`` form the splits ``testA`` /
    ``testB``, any other name the split ``other``. When the images span more
    than one split, every key is also reported per split with the suffix
    ``.<split>`` (e.g. ``mIoU.testA``, ``objF1.testB``).

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
                ``pred_sem_seg.data`` and ``gt_sem_seg.data`` (1, H, W) and
                ``img_path``.
        """
        for data_sample in data_samples:
            pred = data_sample['pred_sem_seg']['data'].squeeze().cpu().numpy()
            gt = data_sample['gt_sem_seg']['data'].squeeze().cpu().numpy()
            self.results.append(
                self.image_statistics(pred, gt,
                                      image_split(data_sample['img_path'])))

    def image_statistics(self, pred: np.ndarray, gt: np.ndarray,
                         split: str) -> dict:
        """Pixel (and object) statistics of one image.

        Args:
            pred (np.ndarray): Predicted classes (H, W).
            gt (np.ndarray): Ground-truth classes (H, W), may hold
                ``ignore_index``.
            split (str): The image's split.

        Returns:
            dict: ``split``; ``intersect``, ``union``, ``pred_area``,
            ``gt_area`` (pixel counts per class, shape (2,)); with object
            metrics also the keys of :func:`object_statistics`.
        """
        valid = gt != self.ignore_index
        pred_gland = (pred == 1) & valid
        gt_gland = (gt == 1) & valid
        num_valid = np.count_nonzero(valid)
        num_pred = np.count_nonzero(pred_gland)
        num_gt = np.count_nonzero(gt_gland)
        num_both = np.count_nonzero(pred_gland & gt_gland)
        pred_area = np.array([num_valid - num_pred, num_pred])
        gt_area = np.array([num_valid - num_gt, num_gt])
        intersect = np.array(
            [num_valid - num_pred - num_gt + num_both, num_both])
        statistics = dict(
            split=split,
            intersect=intersect,
            union=pred_area + gt_area - intersect,
            pred_area=pred_area,
            gt_area=gt_area)
        if self.object_metrics:
            statistics.update(
                object_statistics(*glands(pred_gland), *glands(gt_gland)))
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
        intersect = sum(result['intersect'] for result in results)
        union = sum(result['union'] for result in results)
        pred_area = sum(result['pred_area'] for result in results)
        gt_area = sum(result['gt_area'] for result in results)
        iou = np.array([_score(*pair) for pair in zip(intersect, union)])
        mean_iou = iou.mean()
        image_dice = [
            _score(2 * result['intersect'][1],
                   result['pred_area'][1] + result['gt_area'][1])
            for result in results
        ]
        metrics = OrderedDict(mIoU=mean_iou)
        for name, class_iou in zip(CLASS_NAMES, iou):
            metrics[f'IoU.{name}'] = class_iou
        metrics['Dice_from_mIoU'] = 2 * mean_iou / (1 + mean_iou)
        metrics['Dice.gland'] = _score(2 * intersect[1],
                                       pred_area[1] + gt_area[1])
        metrics['imgDice.gland'] = np.mean(image_dice)
        metrics = OrderedDict((key, round(float(value) * 100, 2))
                              for key, value in metrics.items())
        if self.object_metrics:
            tp, fp, fn = (
                sum(result[key] for result in results)
                for key in ('tp', 'fp', 'fn'))
            metrics['objF1'] = round(100 * _score(2 * tp, 2 * tp + fp + fn), 2)
            metrics['objDice'] = round(
                100 * float(np.mean([result['dice'] for result in results])),
                2)
            metrics['objHausdorff'] = round(
                float(np.mean([result['hausdorff'] for result in results])), 2)
        return metrics


def _score(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` for a ratio of counts such as IoU, Dice
    or F1; 1 when the denominator is 0 (nothing to find, nothing found)."""
    return 1.0 if denominator == 0 else float(numerator / denominator)
