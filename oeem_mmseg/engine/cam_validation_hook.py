"""Classifier selection by the quality of its pseudo-masks on the
validation images (as the authors' release selected its classifier)."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..cam import build_cam, checked_cam_cfg, item_pseudo_mask
from ..evaluation import intersect_and_union, mask_scores


@HOOKS.register_module()
class CAMValidationHook(Hook):
    """Add the CAM and pseudo-mask mIoU (percent) of the validation images to
    the validation metrics, as ``cam/mIoU`` and ``pseudo_mask/mIoU``.

    After each validation epoch of the classifier, the CAM step
    (:mod:`oeem_mmseg.cam`, the config's ``cam_cfg``) runs on every image of
    ``val_dataloader.dataset`` that has a ground truth (e.g. a
    ``GlaSPatchDataset``: patch labels from its masks) and its maps are
    compared with it. The hook runs
    before ``CheckpointHook`` and the logger, so
    ``save_best='pseudo_mask/mIoU'`` keeps the classifier whose pseudo-masks
    are best, and the log shows both.

    Args:
        batch_size: Crops per forward pass.
    """

    priority = 'NORMAL'  # before the logger and CheckpointHook read metrics

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if metrics is None:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        dataset = runner.val_dataloader.dataset
        class_names = dataset.metainfo['classes']
        cam_cfg = checked_cam_cfg(runner.cfg)
        generator = build_cam(model, cam_cfg, dataset.patch_size,
                              dataset.patch_stride, self.batch_size)
        counts = dict(cam=[], pseudo_mask=[])
        was_training = model.training
        model.eval()
        for item in dataset.image_patches():
            gt = dataset.ground_truth(item)
            if gt is None:
                continue
            _, result = item_pseudo_mask(generator, item, gt, cam_cfg)
            for key, pred in (('cam', result.cam),
                              ('pseudo_mask', result.pseudo)):
                counts[key].append(
                    intersect_and_union(pred, gt, len(class_names)))
        model.train(was_training)
        for key, image_counts in counts.items():
            value = round(mask_scores(image_counts, class_names)['mIoU'], 2)
            # CheckpointHook reads ``metrics``; the logger the message hub,
            # which RuntimeInfoHook filled before this hook ran
            metrics[f'{key}/mIoU'] = value
            runner.message_hub.update_scalar(f'val/{key}/mIoU', value)
