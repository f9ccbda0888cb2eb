"""Sharing a cohort among processes (oeem_mmseg/apis/cohort.py)."""
import pytest

from oeem_mmseg.apis.cohort import (World, current_world, input_size,
                                    rank_device, share_by_size)
from oeem_mmseg.utils import OEEMInputError
from tests.helpers import write_slide


def test_share_by_size_is_greedy_balanced_and_deterministic():
    paths = [f's{i}' for i in range(6)]
    sizes = [30, 100, 10, 90, 50, 40]
    shares = share_by_size(paths, sizes, 2)
    # largest first onto the least loaded rank (rank 0 on a tie):
    # 100 -> 0, 90 -> 1, 50 -> 1, 40 -> 0, 30 -> 0 (140 = 140), 10 -> 1
    assert shares == [['s0', 's1', 's5'], ['s2', 's3', 's4']]
    assert share_by_size(paths, sizes, 2) == shares
    assert share_by_size(list(reversed(paths)), list(reversed(sizes)),
                         2) == [list(reversed(s)) for s in shares]
    three = share_by_size(paths, sizes, 3)
    assert sorted(p for share in three for p in share) == paths
    assert [sum(sizes[paths.index(p)] for p in share)
            for share in three] == [100, 120, 100]
    assert share_by_size(paths[:1], sizes[:1], 3) == [['s0'], [], []]


def test_world_and_device(monkeypatch):
    for key, value in dict(RANK='3', LOCAL_RANK='1', WORLD_SIZE='4',
                           SLURM_PROCID='5', SLURM_LOCALID='2',
                           SLURM_NTASKS='8').items():
        monkeypatch.setenv(key, value)
    # one process unless a launcher is named (e.g. python inside sbatch)
    assert current_world() == World(0, 0, 1)
    assert current_world('slurm') == World(5, 2, 8)
    world = current_world('pytorch')
    assert world == World(3, 1, 4)
    assert rank_device('cuda', world) == 'cuda:1'
    assert rank_device('cuda:0', world) == 'cuda:1'
    assert rank_device('cpu', world) == 'cpu'
    assert rank_device('cuda:1', World()) == 'cuda:1'
    monkeypatch.delenv('LOCAL_RANK')
    with pytest.raises(OEEMInputError, match='--launcher pytorch: LOCAL_RANK '
                       'not set; start the processes with tools/dist_infer'):
        current_world('pytorch')


def test_input_size(tmp_path):
    slide = write_slide(tmp_path / 'a.tif', (300, 500), mpp=0.5, tile=256)
    assert input_size(slide) == 300 * 500
    broken = tmp_path / 'b.svs'
    broken.write_bytes(b'not a slide')
    assert input_size(str(broken)) == 0
