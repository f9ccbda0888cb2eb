"""MMSeg's test-time augmentation model, keeping the image's meta keys."""
from typing import List

from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList

# meta keys that describe one augmented view, not the image
VIEW_KEYS = ('img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'padding_size')


@MODELS.register_module()
class MetaSegTTAModel(SegTTAModel):
    """``SegTTAModel`` (softmax average of the views) whose merged
    prediction keeps the image's meta keys of the first view (all but
    :data:`VIEW_KEYS`): mmseg's keeps only ``img_path``, so ``--tta`` lost
    ``instance_path`` and GlaSMetric counted the connected components of
    the mask instead of the annotated glands."""

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        merged = super().merge_preds(data_samples_list)
        for prediction, views in zip(merged, data_samples_list):
            prediction.set_metainfo({
                key: value
                for key, value in views[0].metainfo.items()
                if key not in VIEW_KEYS and key not in prediction
            })
        return merged
