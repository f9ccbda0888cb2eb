"""tools/run_pipeline.sh: usage and relative paths."""
import os.path as osp
import subprocess

from tests.helpers import REPO


def test_run_pipeline_usage_and_relative_paths(tmp_path):
    script = osp.join(REPO, 'tools', 'run_pipeline.sh')
    result = subprocess.run(['bash', script], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('usage: bash tools/run_pipeline.sh SRC')
    assert 'unbound' not in result.stderr
    # SRC relative to the caller's directory, not the repository's
    result = subprocess.run(['bash', script, 'no_such_src', 'work'],
                            cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert (f'error: {tmp_path}/no_such_src: source folder not found'
            in result.stderr)
