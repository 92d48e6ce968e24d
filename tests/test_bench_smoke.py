"""``python -m bench --quick`` runs end to end: it starts its own services, measures, prints one table and
cleans up. (What the numbers are is the benchmark's business, never a test's: no timing assertions.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_quick_benchmark_prints_each_measure_beside_its_baseline(tmp_path: Path) -> None:
    table = tmp_path / "table.md"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--quick", "--burst", "10"),
            *("generate", "throughput", "render", "--markdown", str(table)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = table.read_text()
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    measures = [row[0].lstrip("| ") for row in rows[1:]]
    assert measures == [
        "`POST /v1/video/generate` p50 / p99, concurrency 1",
        "`POST /v1/video/generate` p50 / p99, concurrency 1: framework floor, a bare FastAPI route making "
        "only that call",
        "`POST /v1/video/generate` p50 / p99, concurrency 32",
        "burst of 10 jobs, one all-roles worker: accepted by the vendor",
        "burst of 10 jobs, one all-roles worker: succeeded",
        "local renderer, 1 s at 720p (1280x720)",
    ]
    for row in rows[1:]:
        ours, baseline, ratio = row[1], row[2], row[3]
        assert re.search(r"\d", ours) and re.search(r"\d", baseline) and re.search(r"\d\.\d\dx", ratio), row
    assert "Machine at start:" in text and "load average" in text
