from setuptools import find_packages, setup


def read_requirements(path: str) -> list:
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip()]


setup(
    name='oeem-mmseg',
    version='0.1.0',
    description='Online Easy Example Mining (MICCAI 2022) for weakly-supervised '
    'gland segmentation, as an MMSegmentation 1.x plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['oeem_mmseg', 'oeem_mmseg.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('requirements/runtime.txt') + [
        'torch', 'torchvision', 'mmcv==2.1.0'
    ],
    extras_require={'tests': read_requirements('requirements/tests.txt')},
    license='MIT',
)
