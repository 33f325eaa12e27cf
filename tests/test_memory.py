"""A worker keeps picture-sized buffers out of glibc's heap (`worker.mmap_threshold_kb`, edge/runtime/memory.py).

glibc's own threshold is dynamic: freeing a mapped 8 MB block raises it to 8 MB, so a 1 MB picture
allocated next comes from the heap. Each check builds the real worker (the demo config, the real
model) in a fresh interpreter, then frees an 8 MB array and asks glibc (`mallinfo2`) whether the
next 1 MB array got a memory map of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge.config import load_config

from conftest import DEMO_CONFIG

PROBE = textwrap.dedent(
    """
    import ctypes, sys
    import numpy as np
    from edge.config import load_config
    from edge.runtime.worker import Worker

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    mallinfo2.restype = MallInfo2
    worker = Worker(load_config(sys.argv[1]))
    big = np.ones(8 << 20, np.uint8)
    del big  # glibc's dynamic threshold now stands at 8 MB
    before = mallinfo2().hblks
    picture = np.ones(1 << 20, np.uint8)
    print(mallinfo2().hblks - before)
    worker.stop()
    """
)


def mapped(tmp_path: Path, threshold_kb: int, env: dict[str, str]) -> bool:
    """Whether a 1 MB array allocated after freeing an 8 MB one gets its own map in a built worker."""
    config = load_config(DEMO_CONFIG).model_dump(mode="json")  # its paths resolved
    config["worker"]["mmap_threshold_kb"] = threshold_kb
    config["storage"] = {"dir": str(tmp_path / "var")}
    path = tmp_path / "edge.yaml"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1]) == 1


@pytest.fixture
def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}


@pytest.mark.parametrize(("threshold_kb", "expected"), [(128, True), (0, False)], ids=["fixed", "glibc-dynamic"])
def test_picture_sized_buffers_get_their_own_map(tmp_path, env, threshold_kb, expected):
    assert mapped(tmp_path, threshold_kb, env) is expected


def test_the_environment_setting_wins(tmp_path, env):
    # 4 MB from the environment: a 1 MB buffer stays in the heap though the config says 128 KB
    assert not mapped(tmp_path, 128, {**env, "MALLOC_MMAP_THRESHOLD_": str(4 << 20)})
