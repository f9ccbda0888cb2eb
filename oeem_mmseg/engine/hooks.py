"""Hooks used by the test tool."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from ..utils.io import atomic_write_png


@HOOKS.register_module()
class SegPredictionWriterHook(Hook):
    """Write each test prediction as ``out_dir/NAME.png``: the class index
    per pixel (uint8, 0 = non-gland, 1 = gland), with the dataset's palette.

    Args:
        out_dir (str): Output folder (created).
    """

    priority = 'LOW'

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence[SegDataSample]] = None
                        ) -> None:
        palette = runner.test_dataloader.dataset.metainfo.get('palette')
        for sample in outputs or []:
            name = osp.splitext(osp.basename(sample.img_path))[0]
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype('uint8')
            atomic_write_png(
                osp.join(self.out_dir, name + '.png'), mask, palette)
