"""Installation script of mmmtcp."""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    version_file = osp.join(osp.dirname(__file__), 'mmmtcp', 'version.py')
    namespace = {}
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirement file, skipping comments and ``-r`` includes."""
    reqs = []
    with open(osp.join(osp.dirname(__file__), fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


if __name__ == '__main__':
    setup(
        name='mmmtcp',
        version=get_version(),
        description='Multi-task dense prediction (MT-CP and contrastive '
        'multi-task regularization) for OpenMMLab',
        long_description=open('README.md', encoding='utf-8').read()
        if osp.exists('README.md') else '',
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
        },
        zip_safe=False)
