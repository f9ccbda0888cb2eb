from .cam_validation_hook import CAMValidationHook
from .checkpoint_hook import LaterBestCheckpointHook
from .divergence_hook import DivergenceHook, TrainingDiverged
from .hooks import SegPredictionWriterHook
from .model_wrappers import CPUDistributedDataParallel

__all__ = [
    'CAMValidationHook', 'CPUDistributedDataParallel', 'DivergenceHook',
    'LaterBestCheckpointHook', 'SegPredictionWriterHook', 'TrainingDiverged'
]
