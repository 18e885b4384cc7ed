import os
import platform
import subprocess
import sys

import numpy as np

from recsys.evaluation import environment
from recsys.evaluation.environment import (
    blas_kernels,
    cpu_model,
    describe_environment,
    measurement_environment,
)


def test_versions_are_the_installed_ones() -> None:
    measured = measurement_environment()
    assert measured["python"] == platform.python_version()
    assert measured["numpy"] == np.__version__
    assert list(measured) == ["python", *environment.RESULT_PACKAGES, "blas", "cpu"]


def test_a_missing_package_is_named_not_fatal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(environment, "RESULT_PACKAGES", ("numpy", "no-such-package-xyz"))
    measured = measurement_environment()
    assert measured["no-such-package-xyz"] == "not installed"
    assert ", no-such-package-xyz not installed, blas " in describe_environment(measured)
    assert describe_environment({"python": "3.12.0", "numpy": "2.0"}) == "python 3.12.0, numpy 2.0"


def _kernels_under(env: dict[str, str]) -> str:
    code = "from recsys.evaluation.environment import blas_kernels; print(blas_kernels())"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


def test_the_blas_kernel_is_the_one_in_use() -> None:
    # numpy's wheels ship OpenBLAS built for every x86 CPU, choosing a kernel at start-up by
    # CPU or by OPENBLAS_CORETYPE (which some machines set); a forced older kernel must show up,
    # since it changes the last bits of every result.
    here = blas_kernels()
    assert here and here != "unknown"
    assert _kernels_under(dict(os.environ)) == here
    if not (here.startswith("openblas ") and platform.machine() in ("x86_64", "AMD64")):
        return  # MKL, Accelerate or an Arm OpenBLAS: no x86 kernel to force
    forced = _kernels_under({**os.environ, "OPENBLAS_CORETYPE": "Prescott"})
    assert forced.startswith("openblas ") and forced != here


def test_the_cpu_is_named_from_cpuinfo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Example CPU 9000\n")
    assert cpu_model(cpuinfo) == f"{platform.machine()} Example CPU 9000"
    assert cpu_model(tmp_path / "missing").startswith(platform.machine())
