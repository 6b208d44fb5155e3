"""Everything is configured in pyproject.toml except the package list, which a static table
cannot express: the discovered packages plus two that map the repository's top-level
``scenes/`` and ``assets/avatars/`` (the product's layout, not moved) into the wheel as
``immersion._shipped.scenes`` and ``immersion._shipped.avatars`` (see immersion/_shipped)."""

from setuptools import find_namespace_packages, setup

SHIPPED = {"immersion._shipped.scenes": "scenes", "immersion._shipped.avatars": "assets/avatars"}

setup(
    packages=[*find_namespace_packages(include=["immersion*", "capture*"]), *SHIPPED],
    package_dir=SHIPPED,
)
