"""Distributed data parallel that also runs on CPU (gloo)."""
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for a model whose parameters live on the
    CPU.

    MMEngine's runner always passes ``device_ids=[LOCAL_RANK]``, which torch
    rejects for a CPU module; this wrapper drops it. The runner helpers in
    :mod:`oeem_mmseg.apis.config` select it when no GPU is present.
    """

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)
