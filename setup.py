"""Install the spacemine_ros package (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'spacemine_ros'

# One console script per node (the executables launch files start), plus the tools.
NODES = {
    'rig_sim': 'spacemine_ros.nodes.rig_sim:main',
    'anchoring': 'spacemine_ros.nodes.anchoring:main',
    'drill': 'spacemine_ros.nodes.drill:main',
    'scraper': 'spacemine_ros.nodes.scraper:main',
    'material_handling': 'spacemine_ros.nodes.material_handling:main',
    'smelter': 'spacemine_ros.nodes.smelter:main',
    'field_bus': 'spacemine_ros.nodes.field_bus:main',
    'supervisor': 'spacemine_ros.nodes.supervisor:main',
    'recorder': 'spacemine_ros.nodes.recorder:main',
}
TOOLS = {
    'spacemine-rig': 'spacemine_ros.launcher:main',
    'spacemine-shift': 'spacemine_ros.shift:main',
    'spacemine-ports': 'spacemine_ros.hardware.ports:main',
    'spacemine-preflight': 'spacemine_ros.preflight:main',
    'spacemine-command': 'spacemine_ros.command:main',
    'spacemine-keys': 'spacemine_ros.keys:main',
    'spacemine-report': 'spacemine_ros.report:main',
    'spacemine-campaign': 'spacemine_ros.campaign:main',
    'spacemine-campaign-report': 'spacemine_ros.campaign_report:main',
    'spacemine-targets': 'spacemine_ros.targets:main',
}

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/config/rigs', glob('config/rigs/*.yaml')),
        ('share/' + PACKAGE + '/config/plans', glob('config/plans/*.yaml')),
        ('share/' + PACKAGE + '/config/campaigns', glob('config/campaigns/*.yaml')),
        ('share/' + PACKAGE + '/urdf', glob('urdf/*')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='spacemine_ros maintainers',
    maintainer_email='maintainers@spacemine.dev',
    description='Control software for robotic mining rigs on low-gravity bodies.',
    license='Apache-2.0',
    extras_require={'test': ['pytest', 'hypothesis']},
    entry_points={
        'console_scripts': [f'{name} = {target}' for name, target in {**NODES, **TOOLS}.items()],
    },
)
