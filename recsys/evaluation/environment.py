"""What a result was measured with: the interpreter, the numeric packages, the BLAS kernels and
the CPU.

Ranking figures move with all of them. The same commit read two_stage 0.1372 and, after a fresh
install, 0.1323 temporal NDCG@10 on ml-latest-small, and the first install's versions were not
recorded. With the very same install, forcing OpenBLAS onto another kernel
(``OPENBLAS_CORETYPE=Prescott`` instead of the Haswell one it picks on this machine) moved
two_stage from 0.1261 to 0.1177 while ALS and EASE kept every digit: the booster's split
thresholds turn last-bit differences in its inputs into different trees. OpenBLAS picks its kernel
by CPU, so one commit and one set of versions can read differently on another machine. A figure
can only be reproduced next to all of these, so every report carries them.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

RESULT_PACKAGES = ("numpy", "scipy", "pandas", "implicit", "lightgbm", "feast")


def measurement_environment() -> dict[str, str]:
    """``{"python": "3.11.7", "numpy": "2.4.6", …, "blas": "openblas 0.3.31 Haswell",
    "cpu": "x86_64 AMD EPYC"}``; "not installed" for a missing package."""
    versions = {"python": platform.python_version()}
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["blas"] = blas_kernels()
    versions["cpu"] = cpu_model()
    return versions


def blas_kernels() -> str:
    """The BLAS libraries numpy and scipy run on, with the kernel each chose for this CPU
    (``openblas 0.3.31 Haswell + openblas 0.3.30 Haswell``); "unknown" if none is loaded."""
    import numpy  # noqa: F401  (loads numpy's BLAS)
    import scipy.linalg  # noqa: F401  (loads scipy's, which implicit and EASE run on)
    from threadpoolctl import threadpool_info

    seen: list[str] = []
    for library in threadpool_info():
        if library.get("user_api") != "blas":
            continue
        parts = (library.get("internal_api"), library.get("version"), library.get("architecture"))
        described = " ".join(str(p) for p in parts if p)
        if described not in seen:
            seen.append(described)
    return " + ".join(sorted(seen)) or "unknown"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Machine architecture and CPU model name (``x86_64 AMD EPYC``), as far as they are known."""
    model = platform.processor()
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return " ".join(part for part in (platform.machine(), model) if part) or "unknown"


def describe_environment(environment: dict[str, str] | None = None) -> str:
    """One line for a table's caption: ``python 3.11.7, numpy 2.4.6, …, cpu x86_64 AMD EPYC``."""
    return ", ".join(
        f"{name} {value}" for name, value in (environment or measurement_environment()).items()
    )
