"""The repository's layout: it cites no file outside itself, the CAM step,
the models and the evaluation import nothing from the APIs or a segmentor
file, and the tests mirror the package, the tools and the benchmarks."""
import ast
import glob
import os
import os.path as osp
from typing import Iterator, List, Tuple

from tests.helpers import REPO

PACKAGE = osp.join(REPO, 'oeem_mmseg')
# written in two pieces so that this file does not name it
OUTSIDE_FILE = 'REFERENCE' + '.md'


def text_files(*folders: str) -> Iterator[str]:
    for folder in folders:
        for root, dirs, files in os.walk(osp.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in files:
                if name.endswith(('.py', '.md', '.sh', '.txt', '.json')):
                    yield osp.join(root, name)


def imported_modules(path: str) -> List[Tuple[int, str]]:
    """``(line, absolute module name)`` of every import of a package file
    (relative imports resolved; ``from a import b`` gives ``a.b``)."""
    package = osp.relpath(osp.dirname(path), REPO).split(os.sep)
    modules = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            modules += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package[:len(package) - node.level + 1]
                base = '.'.join(parent + ([base] if base else []))
            modules += [(node.lineno, f'{base}.{alias.name}')
                        for alias in node.names]
    return modules


def test_no_file_cites_a_file_outside_the_repository():
    citing = [osp.relpath(path, REPO)
              for path in text_files('oeem_mmseg', 'configs', 'tools',
                                     'tests', 'benchmarks')
              if OUTSIDE_FILE in open(path, errors='replace').read()]
    assert citing == []


def test_cam_models_evaluation_import_no_api_and_no_segmentor():
    segmentors = 'oeem_mmseg.models.segmentors'
    wrong = []
    for part in ('cam', 'models', 'evaluation'):
        for path in glob.glob(osp.join(PACKAGE, part, '**', '*.py'),
                              recursive=True):
            relative = osp.relpath(path, REPO)
            # the segmentors themselves, and the models package registering
            # them, may import segmentor files
            may_import_segmentors = (
                relative.startswith(osp.join('oeem_mmseg', 'models',
                                             'segmentors'))
                or relative == osp.join('oeem_mmseg', 'models',
                                        '__init__.py'))
            for line, module in imported_modules(path):
                if module.startswith('oeem_mmseg.apis') or (
                        module.startswith(segmentors)
                        and not may_import_segmentors):
                    wrong.append(f'{relative}:{line}: {module}')
    assert wrong == []


def test_tests_mirror_the_package_and_the_tools():
    """tests/test_<part>/test_<name>.py tests oeem_mmseg/<part>/.../<name>.py,
    tests/test_tools/test_<name>.py the tool tools/.../<name>.py or .sh,
    tests/test_benchmarks/test_<name>.py the script benchmarks/<name>.py."""
    unmatched = []
    for path in glob.glob(osp.join(REPO, 'tests', 'test_*', 'test_*.py')):
        part = osp.basename(osp.dirname(path))[len('test_'):]
        name = osp.basename(path)[len('test_'):-len('.py')]
        if part in ('tools', 'benchmarks'):
            candidates = [osp.join(REPO, part, '**', name + suffix)
                          for suffix in ('.py', '.sh')]
        else:
            candidates = [osp.join(PACKAGE, part, '**', name + '.py')]
        if not any(glob.glob(pattern, recursive=True)
                   for pattern in candidates):
            unmatched.append(osp.relpath(path, REPO))
    assert unmatched == []
    assert not glob.glob(osp.join(REPO, 'tests', '*', '*', 'test_*.py'))
