import platform

import numpy as np

from recsys.evaluation import environment
from recsys.evaluation.environment import describe_versions, package_versions


def test_versions_are_the_installed_ones() -> None:
    versions = package_versions()
    assert versions["python"] == platform.python_version()
    assert versions["numpy"] == np.__version__
    assert list(versions)[1:] == list(environment.RESULT_PACKAGES)


def test_a_missing_package_is_named_not_fatal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(environment, "RESULT_PACKAGES", ("numpy", "no-such-package-xyz"))
    versions = package_versions()
    assert versions["no-such-package-xyz"] == "not installed"
    assert describe_versions(versions).endswith(", no-such-package-xyz not installed")
    assert describe_versions({"python": "3.12.0", "numpy": "2.0"}) == "python 3.12.0, numpy 2.0"
