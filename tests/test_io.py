import json

import pytest

from higgs_pyhf._io import atomic_path, write_json


def test_write_json_is_deterministic_and_atomic(tmp_path):
    p = write_json(tmp_path / "a" / "x.json", {"b": 1, "a": [1.5, 2]})
    assert p.read_text() == '{\n    "a": [\n        1.5,\n        2\n    ],\n    "b": 1\n}\n'
    assert json.loads(p.read_text()) == {"a": [1.5, 2], "b": 1}


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"

    def write_then_fail():
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            msg = "boom"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
