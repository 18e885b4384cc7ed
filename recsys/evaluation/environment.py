"""The interpreter and numeric packages a result was measured with.

Ranking figures move with them (implicit's BLAS threads, LightGBM's tree building, scipy's
solvers): the same commit read two_stage 0.1372 and, after a fresh install, 0.1323 temporal
NDCG@10, and the first install's versions were not recorded. A figure can only be reproduced
next to these versions, so every report carries them.
"""

from __future__ import annotations

import platform
from importlib import metadata

RESULT_PACKAGES = ("numpy", "scipy", "pandas", "implicit", "lightgbm", "feast")


def package_versions() -> dict[str, str]:
    """``{"python": "3.12.3", "numpy": "2.4.6", ...}``; "not installed" for a missing package."""
    versions = {"python": platform.python_version()}
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_versions(versions: dict[str, str] | None = None) -> str:
    """One line for a table's caption: ``python 3.12.3, numpy 2.4.6, …``."""
    return ", ".join(
        f"{name} {version}" for name, version in (versions or package_versions()).items()
    )
