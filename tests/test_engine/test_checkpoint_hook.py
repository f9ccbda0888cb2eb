"""LaterBestCheckpointHook: of equal validation scores the later checkpoint
is kept as the best; a better score still wins, a worse one never."""
import os

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import METRICS
from mmengine.runner import Runner

import oeem_mmseg  # noqa: F401  (registers LaterBestCheckpointHook)


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(score=0.0)] * len(inputs)


@METRICS.register_module(force=True)
class ScriptedScore(BaseMetric):
    """Scores ``scores[k]`` at the k-th validation."""

    def __init__(self, scores=()):
        super().__init__()
        self.scores = list(scores)
        self.round = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.round += 1
        return dict(mIoU=self.scores[self.round - 1])


def best_checkpoint(tmp_path, scores, rule='greater'):
    """The best_*.pth that the hook keeps when the validations after
    iterations 1, 2, ... score ``scores``."""
    data = [dict(inputs=torch.zeros(1))] * 2
    runner = Runner(
        model=Toy(),
        work_dir=str(tmp_path),
        train_dataloader=dict(dataset=data, batch_size=1,
                              sampler=dict(type='DefaultSampler')),
        val_dataloader=dict(dataset=data, batch_size=2,
                            sampler=dict(type='DefaultSampler',
                                         shuffle=False)),
        val_evaluator=dict(type='ScriptedScore', scores=scores),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=len(scores),
                       val_interval=1),
        val_cfg=dict(),
        default_hooks=dict(checkpoint=dict(
            type='LaterBestCheckpointHook', by_epoch=False, interval=100,
            save_best='mIoU', rule=rule)),
        default_scope='mmengine')
    runner.train()
    best = [name for name in os.listdir(tmp_path) if name.startswith('best')]
    assert len(best) == 1
    return best[0]


@pytest.mark.parametrize('scores, rule, kept', [
    ([40.0, 40.0, 40.0], 'greater', 3),  # MMEngine's hook keeps iter 1
    ([40.0, 50.0, 40.0], 'greater', 2),
    ([40.0, 50.0, 50.0, 30.0], 'greater', 3),
    ([0.5, 0.5, 0.7], 'less', 2),
])
def test_ties_go_to_the_later_checkpoint(tmp_path, scores, rule, kept):
    assert best_checkpoint(tmp_path, scores,
                           rule) == f'best_mIoU_iter_{kept}.pth'
