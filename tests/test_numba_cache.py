"""The engine drops its numba caches when any of its sources changes (numba alone does not)."""

from __future__ import annotations

from higgs_pyhf.inference.engine._numba_cache import drop_stale_caches


def test_caches_are_dropped_when_a_source_changes(tmp_path):
    (tmp_path / "kernel.py").write_text("x = 1\n")
    (tmp_path / "interpolation.py").write_text("y = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    files = [cache / "kernel.evaluate-1.py311.nbi", cache / "kernel.evaluate-1.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"old")
    assert drop_stale_caches(tmp_path)  # no stamp yet: unknown sources
    assert not any(f.exists() for f in files)
    for f in files:
        f.write_bytes(b"new")
    assert not drop_stale_caches(tmp_path)  # sources unchanged: caches kept
    assert all(f.exists() for f in files)
    (tmp_path / "interpolation.py").write_text("y = 2\n")  # a callee's file changes
    assert drop_stale_caches(tmp_path)
    assert not any(f.exists() for f in files)
    assert (tmp_path / "kernel.py").read_text() == "x = 1\n"  # sources untouched
