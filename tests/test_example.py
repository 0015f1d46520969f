import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pyhf
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the whole pipeline and 5000 coverage toys (subprocess)
def test_example_walks_the_public_api(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "example.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    ).stdout
    assert "critical value" in out
    assert "| Poisson likelihood profile |" in out
    ws = tmp_path / "hzz4l_generated.json"
    pyhf.Workspace(json.loads(ws.read_text()))  # schema-valid
    for png in ("postfit.png", "scan_s_s.png", "contour.png", "coverage.png"):
        assert mpimg.imread(tmp_path / png).shape[0] > 100
