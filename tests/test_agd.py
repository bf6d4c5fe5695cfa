"""doit.agd.AGD against the authors' implementation (atorch 0.2.5, atorch/optimizers/agd.py), step for step."""

import importlib.util
import io
import subprocess
import sys
import zipfile

import pytest
import torch

from doit.agd import AGD

ATORCH_WHEEL = "atorch==0.2.5"
REFERENCE_PATH = "atorch/optimizers/agd.py"
STEPS = 100
TOL = 1e-6
# float64 throughout: in float32 the two implementations' different (equally valid) rounding grows
# through the small gradient-difference denominator to ~1e-5 within 100 steps.
DTYPE = torch.float64


@pytest.fixture(autouse=True)
def float64_default():
    """The authors' code keeps its step count in a default-dtype tensor, so its bias corrections
    follow the default dtype: make that float64 too (restored afterwards)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def reference_agd(tmp_path_factory):
    """The authors' AGD class, read out of the atorch wheel (no dependencies installed)."""
    tmp = tmp_path_factory.mktemp("atorch")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        ATORCH_WHEEL,
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(tmp),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip(f"cannot download {ATORCH_WHEEL} from PyPI (timed out): no network?")
    wheels = list(tmp.glob("atorch-*.whl"))
    if done.returncode != 0 or not wheels:
        pytest.skip(f"cannot download {ATORCH_WHEEL} from PyPI (no network?): {done.stderr.strip()[-300:]}")
    source = tmp / "reference_agd.py"
    with zipfile.ZipFile(wheels[0]) as wheel:
        source.write_bytes(wheel.read(REFERENCE_PATH))
    # The file imports only typing and torch, so nothing needs stubbing to load it on its own.
    spec = importlib.util.spec_from_file_location("atorch_reference_agd", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AGD


def _net_and_data(seed=0):
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    x = torch.randn(100, 6, generator=gen)
    y = torch.randint(0, 3, (100,), generator=gen)
    return net, x, y


def _copy(net):
    twin, _, _ = _net_and_data()
    twin.load_state_dict(net.state_dict())
    return twin


def _max_diff(net_a, params_b):
    return max((a - b).abs().max().item() for a, b in zip(net_a.parameters(), params_b, strict=True))


def _step(net, opt, x, y, i):
    batch = slice((i * 20) % 100, (i * 20) % 100 + 20)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
    loss.backward()
    opt.step()
    return loss.item()


CASES = {
    "defaults": {},
    "lr_betas_delta": {"lr": 1e-2, "betas": (0.8, 0.99), "delta": 1e-3},
    "sgd_regime": {"lr": 5e-3, "delta": 0.5},
    "adaptive_regime": {"lr": 2e-3, "delta": 1e-10},
    "decoupled_wd": {"lr": 1e-2, "weight_decay": 0.1},
    "coupled_wd": {"lr": 1e-2, "weight_decay": 0.05, "weight_decouple": False},
    "fixed_decay": {"weight_decay": 1e-3, "fixed_decay": True},
    "amsgrad": {"lr": 1e-2, "amsgrad": True, "betas": (0.9, 0.99)},
    "clip": {"lr": 1e-2, "clip": 0.5, "delta": 1e-8},
}


@pytest.mark.parametrize("hyper", CASES.values(), ids=CASES.keys())
def test_matches_authors_code_step_for_step(reference_agd, hyper):
    ours_net, x, y = _net_and_data()
    ref_net = _copy(ours_net)
    ours = AGD(ours_net.parameters(), **hyper)
    ref = reference_agd(ref_net.parameters(), **hyper)
    start = [p.detach().clone() for p in ours_net.parameters()]
    losses = []
    for i in range(STEPS):
        losses.append(_step(ours_net, ours, x, y, i))
        _step(ref_net, ref, x, y, i)
        diff = _max_diff(ours_net, ref_net.parameters())
        assert diff <= TOL, f"step {i + 1}: max |ours - authors'| = {diff:.3g}"
    moved = _max_diff(ours_net, start)
    assert moved > 100 * TOL  # the comparison is not vacuous
    assert losses[-1] < losses[0]


def test_param_groups_match_authors_code(reference_agd):
    ours_net, x, y = _net_and_data(1)
    ref_net = _copy(ours_net)

    def groups(net):
        return [{"params": net[0].parameters(), "lr": 3e-3, "delta": 1e-4}, {"params": net[2].parameters()}]

    ours, ref = AGD(groups(ours_net), weight_decay=0.01), reference_agd(groups(ref_net), weight_decay=0.01)
    for i in range(STEPS):
        _step(ours_net, ours, x, y, i)
        _step(ref_net, ref, x, y, i)
    diff = _max_diff(ours_net, ref_net.parameters())
    assert diff <= TOL


def test_first_step_is_signed_lr():
    # Step 1: s_1 = m_1/c1 = g, b_1 = (1-beta2) g^2, so the step is lr * sign(g) when |g| is above the switch.
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.0]))
    p.grad = torch.tensor([0.3, -4.0, 0.0])
    AGD([p], lr=0.1).step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.9, -1.9, 0.0]))


def test_state_dict_round_trip_continues_identically():
    net, x, y = _net_and_data(2)
    twin = _copy(net)
    opt = AGD(net.parameters(), lr=1e-2, amsgrad=True)
    for i in range(5):
        _step(net, opt, x, y, i)
    twin.load_state_dict(net.state_dict())
    resumed = AGD(twin.parameters(), lr=1e-2, amsgrad=True)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for i in range(5, 10):
        _step(net, opt, x, y, i)
        _step(twin, resumed, x, y, i)
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
