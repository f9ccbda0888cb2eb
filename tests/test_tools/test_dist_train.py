"""tools/dist_train.sh: distributed training on two CPU processes."""
import glob
import os
import os.path as osp
import subprocess

from tests.helpers import REPO, TINY_SEG, data_root_options


def test_distributed_training_on_two_cpu_processes(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PORT='29517', CUDA_VISIBLE_DEVICES='',
               OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), TINY_SEG, '2',
         '--work-dir', work_dir] + data_root_options(glas_prepared),
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    logs = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert 'world_size: 2' in logs or 'Distributed launcher: pytorch' in logs
