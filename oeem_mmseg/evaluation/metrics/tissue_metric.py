"""Pixel metrics of tissue segmentation with any number of classes, as the
weakly-supervised tissue segmentation papers (LUAD-HistoSeg, BCSS-WSSS)
report them: IoU per class, mIoU, frequency-weighted IoU, pixel accuracy."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...utils.errors import OEEMInputError
from ..functional import intersect_and_union, iou_summary


@METRICS.register_module()
class TissueMetric(BaseMetric):
    """``mIoU``, ``FWIoU``, ``aAcc`` and ``IoU.<class>`` (percent, rounded
    to 2 decimals) accumulated over all pixels of all images; class names
    from ``dataset_meta``.

    ``FWIoU`` weights each class's IoU by its share of the ground-truth
    pixels; ``aAcc`` is the share of ground-truth pixels predicted right.
    ``ignore_index`` pixels of the ground truth are left out; a class neither
    predicted nor present has IoU 100 (as in :class:`GlaSMetric`).

    Args:
        ignore_index (int): Ground-truth value left out. Defaults to 255.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store the pixel counts of each image of a batch (data samples
        with ``pred_sem_seg.data`` and ``gt_sem_seg.data``, (1, H, W))."""
        num_classes = len(self.class_names)
        for data_sample in data_samples:
            pred = data_sample['pred_sem_seg']['data'].squeeze().cpu().numpy()
            gt = data_sample['gt_sem_seg']['data'].squeeze().cpu().numpy()
            self.results.append(
                intersect_and_union(pred, gt, num_classes, self.ignore_index))

    @property
    def class_names(self) -> Sequence[str]:
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise OEEMInputError(
                'TissueMetric: the dataset gives no class names (metainfo)')
        return self.dataset_meta['classes']

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The metrics of all images, printed as a table."""
        metrics = OrderedDict(
            (key, round(100 * value, 2))
            for key, value in iou_summary(results, self.class_names).items())
        table = PrettyTable()
        table.field_names = list(metrics)
        table.add_row(list(metrics.values()))
        logger: MMLogger = MMLogger.get_current_instance()
        print_log('tissue segmentation results:\n' + table.get_string(),
                  logger=logger)
        return dict(metrics)
