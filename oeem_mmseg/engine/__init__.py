from .cam_validation_hook import CAMValidationHook
from .checkpoint_hook import LaterBestCheckpointHook
from .hooks import SegPredictionWriterHook
from .model_wrappers import CPUDistributedDataParallel

__all__ = [
    'CAMValidationHook', 'CPUDistributedDataParallel',
    'LaterBestCheckpointHook', 'SegPredictionWriterHook'
]
