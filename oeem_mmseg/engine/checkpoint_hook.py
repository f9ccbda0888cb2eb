"""Best-checkpoint selection in which a tie goes to the later checkpoint."""
import operator

from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class LaterBestCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` whose ``save_best`` keeps, among equal
    scores, the LATER checkpoint (MMEngine keeps the first).

    On a few validation images many rounds tie (e.g. every early segmentor
    scores the all-non-gland mIoU); the first of them is the least trained
    network. Rule ``'greater'`` here means "not worse" (``>=``), ``'less'``
    means ``<=``; every other argument is ``CheckpointHook``'s.
    """

    rule_map = {'greater': operator.ge, 'less': operator.le}
