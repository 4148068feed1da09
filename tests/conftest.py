"""Test set-up: Triton runs on the CPU through its interpreter when there is no GPU. The variable must be
set before triton or the kernels are imported, so it is set here, before any test module loads.

Every test starts with torch's global generator seeded from a fresh random seed (or DREAM3D_TEST_SEED),
and a failing test's report prints it: tests that draw their inputs from torch's generator can be
replayed exactly. DREAM3D_REQUIRE_EXTENSION=1 makes a compiled extension that does not load an error."""
import os
import secrets

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_sessionstart(session):
    if os.environ.get("DREAM3D_REQUIRE_EXTENSION") == "1":
        from dream3d.ops import _extension

        if not _extension.load():
            raise pytest.UsageError("DREAM3D_REQUIRE_EXTENSION=1 but the compiled extension did not load "
                                    "(see the warning above): every cpu-backend test would be skipped")


@pytest.fixture(autouse=True)
def torch_seed(request):
    """Seeds torch's global generator for this test and records the seed for the report."""
    seed = int(os.environ.get("DREAM3D_TEST_SEED") or secrets.randbelow(2**31))
    request.node.dream3d_seed = seed
    torch.manual_seed(seed)
    return seed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    seed = getattr(item, "dream3d_seed", None)
    if report.failed and seed is not None:
        report.sections.append(("torch seed", f"DREAM3D_TEST_SEED={seed} replays this test's torch draws"))
