from .hooks import SegPredictionWriterHook
from .model_wrappers import CPUDistributedDataParallel

__all__ = ['CPUDistributedDataParallel', 'SegPredictionWriterHook']
