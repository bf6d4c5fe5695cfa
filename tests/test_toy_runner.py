"""``python -m runners.toys``: strict-JSON files of the toy-function paths (Figures 1, 4, 7(a))."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from doit.toys import FUNCTIONS
from runners import toys

TINY = {
    "fig1": {
        "functions": ["rosenbrock"],
        "optimizers": {"sgd": [1e-4, 1e-3], "adam": [1e-2, 1e-1]},
        "runs": 2,
        "steps": 4,
        "seed": 0,
    },
    "fig4": {
        "functions": ["himmelblau", "rosenbrock"],
        "optimizers": {"sgd": 1.0, "adam": 0.05},
        "steps": 40,
    },
    "fig7a": {
        "functions": ["three_hump_camel"],
        "optimizers": {"sgd": 1e-2, "adam": 0.05},
        "steps": 12,
        "doit": {"tau": 3, "n_ini": 2, "seed": 0},
    },
}


def _strict(path):
    def reject(token):
        raise AssertionError(f"bare {token} in {path}")

    return json.loads(path.read_text(), parse_constant=reject)


def test_settings_paper_and_embedded():
    paper, embedded = toys.SETTINGS["paper"], toys.SETTINGS["embedded"]
    assert paper["fig1"]["runs"] == 200 and embedded["fig1"]["runs"] == 20
    assert embedded["fig1"]["functions"] == paper["fig1"]["functions"]
    assert (
        embedded["fig7a"]["doit"] == paper["fig7a"]["doit"]
        and embedded["fig7a"]["steps"] < paper["fig7a"]["steps"]
    )
    assert {f for s in paper.values() for f in s["functions"]} <= set(FUNCTIONS)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    pytest.importorskip("doit.controller")
    out = tmp_path_factory.mktemp("toys")
    return out, toys.run(TINY, out, "embedded")


def test_one_strict_json_file_per_function(written):
    out, paths = written
    assert sorted(p.name for p in paths) == ["himmelblau.json", "rosenbrock.json", "three_hump_camel.json"]
    data = _strict(out / "rosenbrock.json")
    assert (data["schema"], data["scale"], data["function"]) == (toys.SCHEMA, "embedded", "rosenbrock")
    assert data["start"] == list(FUNCTIONS["rosenbrock"].start)
    assert set(data["figures"]) == {"fig1", "fig4"} and data["figures"]["fig4"]["panel"] == 1
    fig1 = data["figures"]["fig1"]["paths"]
    assert [(p["optimizer"], p["run"]) for p in fig1] == [("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)]
    assert all(1e-4 <= p["lr"] <= 1e-3 for p in fig1[:2]) and all(len(p["points"]) == 5 for p in fig1)
    z = np.asarray(data["contour"]["z"])
    assert z.shape == (toys.CONTOUR_POINTS, toys.CONTOUR_POINTS) and np.isfinite(z).all()


def test_a_diverging_path_is_cut_at_the_first_non_finite_point(written):
    out, _ = written
    sgd = _strict(out / "rosenbrock.json")["figures"]["fig4"]["paths"][0]
    assert sgd["optimizer"] == "sgd" and sgd["lr"] == 1.0  # SGD at lr 1 explodes on Rosenbrock
    assert sgd["diverged_step"] is not None and len(sgd["points"]) == sgd["diverged_step"] < 41
    adam = _strict(out / "himmelblau.json")["figures"]["fig4"]["paths"][1]
    assert adam["diverged_step"] is None and len(adam["points"]) == 41


def test_doit_path_and_its_switches(written):
    out, _ = written
    paths = _strict(out / "three_hump_camel.json")["figures"]["fig7a"]["paths"]
    assert [p["optimizer"] for p in paths] == ["sgd", "adam", "doit"]
    doit = paths[-1]
    assert len(doit["points"]) == 13 and doit["lr"] is None
    assert [s["step"] for s in doit["switches"]] == [0, 3, 6, 9]
    assert all(s["config"].split("(")[0] in ("sgd", "adam") for s in doit["switches"])


def test_command_line(tmp_path, monkeypatch):
    monkeypatch.setitem(toys.SETTINGS, "embedded", TINY)
    assert toys.main(["--scale", "embedded", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.json"))) == 3 and not list(tmp_path.glob("*.tmp"))
    bad = subprocess.run(
        [sys.executable, "-m", "runners.toys", "--scale", "huge"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "invalid choice: 'huge'" in bad.stderr
