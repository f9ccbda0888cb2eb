"""README.md and docs/*.md: every relative link (and its #anchor) resolves,
every config, tool, module and test file they name exists, every registered
component is in the README's registry table, and the README stays short."""
import glob
import itertools
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAGES = ['README.md'] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))
LINK = re.compile(r'\]\(([^)\s]+)\)')
PATH = re.compile(
    r'(?<![\w/.])((?:configs|tools|oeem_mmseg|tests)/[\w/.{},-]+'
    r'\.(?:py|sh))')
CONFIG_NAME = re.compile(
    r'(?<![\w/{,])((?:cls|pspnet)_\w*(?:\{[\w,]*\}\w*)?\.py)')
CITATION = re.compile(r'docs/faithfulness\.md,? "([^"]+)"')
REGISTERED = re.compile(
    r'@\w+\.register_module\(\)\s*\nclass (\w+)|'
    r'\w+\.register_module\(\)\((\w+)\)')


def read(page: str) -> str:
    with open(osp.join(REPO, page), encoding='utf-8') as f:
        return f.read()


def anchors(page: str) -> set:
    """The #anchors GitHub gives the headings of a markdown page."""
    found = set()
    for line in read(page).splitlines():
        if not line.startswith('#'):
            continue
        slug = re.sub(r'[^\w\- ]', '', line.lstrip('#').strip().lower())
        slug = slug.replace(' ', '-')
        for n in itertools.count():
            candidate = slug if n == 0 else f'{slug}-{n}'
            if candidate not in found:
                found.add(candidate)
                break
    return found


def expand(path: str) -> list:
    """``a/{b,c}.py`` -> ``['a/b.py', 'a/c.py']``."""
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    return [
        p for part in match.group(1).split(',')
        for p in expand(path[:match.start()] + part + path[match.end():])
    ]


def test_faithfulness_citations_name_its_sections():
    """Code citing ``docs/faithfulness.md, "<section>"`` names a heading of
    that page (citations may wrap across comment or docstring lines)."""
    headings = {
        line.lstrip('#').strip()
        for line in read('docs/faithfulness.md').splitlines()
        if line.startswith('## ')
    }
    cited = []
    for file in itertools.chain.from_iterable(
            glob.glob(osp.join(REPO, folder, '**', '*.py'), recursive=True)
            for folder in ('oeem_mmseg', 'configs', 'tools', 'tests',
                           'benchmarks')):
        if osp.samefile(file, __file__):
            continue
        with open(file, encoding='utf-8') as f:
            text = re.sub(r'\s*\n\s*#?\s*', ' ', f.read())
        cited += [(osp.relpath(file, REPO), section)
                  for section in CITATION.findall(text)]
    unknown = [c for c in cited if c[1] not in headings]
    assert not unknown, f'citations of no section of faithfulness.md: {unknown}'


def test_readme_is_short():
    assert len(read('README.md').splitlines()) <= 160


def test_docs_pages_exist():
    assert len(PAGES) > 5


@pytest.mark.parametrize('page', PAGES)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(read(page)):
        if re.match(r'[a-z]+:', target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition('#')
        file = osp.normpath(osp.join(osp.dirname(page), path)) if path else page
        if not osp.exists(osp.join(REPO, file)):
            broken.append(target)
        elif anchor and file.endswith('.md') and anchor not in anchors(file):
            broken.append(target)
    assert not broken, f'{page}: broken links {broken}'


@pytest.mark.parametrize('page', PAGES)
def test_named_files_exist(page):
    text = read(page)
    assert 'REFERENCE.md' not in text and '../shared' not in text, page
    missing = [
        path for named in PATH.findall(text) if '*' not in named
        for path in expand(named) if not osp.exists(osp.join(REPO, path))
    ]
    assert not missing, f'{page}: no such files {missing}'


@pytest.mark.parametrize('page', PAGES)
def test_named_configs_exist(page):
    """Config files named without their folder (``cls_r38_glas_quick.py``,
    ``pspnet_r38_glas_{cmax,cdiff}.py``) exist under configs/."""
    known = {
        osp.basename(p)
        for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                           recursive=True)
    }
    missing = [
        name for named in CONFIG_NAME.findall(read(page))
        for name in expand(named) if name not in known
    ]
    assert not missing, f'{page}: no such configs {missing}'


def test_registry_table_lists_every_registered_component():
    names = set()
    for file in glob.glob(osp.join(REPO, 'oeem_mmseg', '**', '*.py'),
                          recursive=True):
        with open(file, encoding='utf-8') as f:
            for a, b in REGISTERED.findall(f.read()):
                names.add(a or b)
    assert names
    readme = read('README.md')
    missing = sorted(n for n in names if f'| `{n}` |' not in readme)
    assert not missing, f'README registry table lacks {missing}'
