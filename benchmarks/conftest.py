"""Benchmark plumbing: every test runs once per (device, backend) and records what report.py needs."""
import pytest
import torch

import workload


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "large: the bigger workloads; `-m 'not large'` (report.py --quick) skips them")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        pairs = [(device, backend) for device in workload.devices() for backend in workload.backends(device)]
        metafunc.parametrize("device,backend", pairs, ids=[f"{d}-{b}" for d, b in pairs])


@pytest.fixture
def bench(benchmark, device, backend):
    """bench(fn, op=..., workload=..., unit=..., count=...) times fn() and records, in extra_info, the
    op, workload, device, backend and the ``count`` of ``unit`` (samples, points, voxels, images) one call does."""

    def run(fn, *, op: str, workload: str, unit: str, count: int):
        benchmark.group = f"{op} | {workload} | {device}"
        benchmark.extra_info.update(op=op, workload=workload, device=device, backend=backend, unit=unit,
                                    count=count)
        timed = fn
        if device == "cuda":
            def timed():
                fn()
                torch.cuda.synchronize()

            timed()  # warm-up outside the timing: Triton compiles, the caching allocator fills
        benchmark(timed)

    return run
