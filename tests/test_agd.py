"""doit.agd.AGD against the authors' implementation (atorch 0.2.5, atorch/optimizers/agd.py), step for step,
through golden numbers recorded from their code (tests/golden/authors_agd.py; no network at test time)."""

import io
import json
import sys
from pathlib import Path

import pytest
import torch

from doit.agd import AGD

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from authors_agd import DTYPE, RUNS, net_and_data, step, train  # noqa: E402

RECORDED = json.loads((GOLDEN / "authors_agd.json").read_text())
# ours and the authors' agree to about 1e-15 after 100 float64 steps on the recording machine; the margin
# is for another torch build's rounding
TOL = 1e-9


@pytest.fixture(autouse=True)
def float64_default():
    """Match the recording: float64 as the default dtype (restored afterwards)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    yield
    torch.set_default_dtype(previous)


def test_golden_file_covers_every_case_and_moved():
    """The recording is the one the script makes now, and its comparisons are not vacuous."""
    assert sorted(RECORDED["runs"]) == sorted(RUNS) and RECORDED["steps"] == 100
    assert RECORDED["reference"].startswith("atorch==0.2.5 ")
    for name, run in RECORDED["runs"].items():
        start = torch.cat([p.detach().reshape(-1) for p in net_and_data(RUNS[name][0])[0].parameters()])
        assert len(run["losses"]) == 100, name
        assert (torch.tensor(run["final"]) - start).abs().max() > 1e-3, name
        assert run["losses"][-1] < run["losses"][0], name


@pytest.mark.parametrize("name", sorted(RUNS))
def test_matches_authors_code_step_for_step(name):
    expected = RECORDED["runs"][name]
    got = train(AGD, name)
    for i, (a, b) in enumerate(zip(got["losses"], expected["losses"], strict=True)):
        assert abs(a - b) <= TOL, f"step {i + 1}: loss {a!r} vs the authors' {b!r}"
    for key in ("after_first_step", "final"):
        diff = max(abs(a - b) for a, b in zip(got[key], expected[key], strict=True))
        assert diff <= TOL, f"{key}: max |ours - authors'| = {diff:.3g}"


def test_first_step_is_signed_lr():
    # Step 1: s_1 = m_1/c1 = g, b_1 = (1-beta2) g^2, so the step is lr * sign(g) when |g| is above the switch.
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.0]))
    p.grad = torch.tensor([0.3, -4.0, 0.0])
    AGD([p], lr=0.1).step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.9, -1.9, 0.0]))


def test_state_dict_round_trip_continues_identically():
    net, x, y = net_and_data(2)
    twin, _, _ = net_and_data()
    opt = AGD(net.parameters(), lr=1e-2, amsgrad=True)
    for i in range(5):
        step(net, opt, x, y, i)
    twin.load_state_dict(net.state_dict())
    resumed = AGD(twin.parameters(), lr=1e-2, amsgrad=True)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for i in range(5, 10):
        step(net, opt, x, y, i)
        step(twin, resumed, x, y, i)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "hyper, key",
    [
        ({"lr": 0.0}, "lr"),
        ({"delta": -1.0}, "delta"),
        ({"betas": (0.9, 1.0)}, "betas"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"clip": 0.0}, "clip"),
    ],
)
def test_invalid_hyperparameters(hyper, key):
    with pytest.raises(ValueError, match=key):
        AGD([torch.nn.Parameter(torch.zeros(2))], **hyper)
