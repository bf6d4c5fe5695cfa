"""`inherit=True` carries moment buffers in the receiving optimizer's units.

After ``H`` updates by optimizer A, the first update by optimizer B (with A's buffers carried over)
must be of the same order as the update B itself takes after the same history of its own, i.e. after
``H`` updates on the same gradients: within a factor ``BOUND`` in norm. Before the fix, SGDM -> Adam
stepped ~100x too far.
"""

import itertools

import pytest
import torch
from torch import nn

import doit
from doit import optimizers

KINDS = ("sgdm", "adam", "adamw", "nadam", "adamax", "rmsprop", "adagrad")
LR = {
    "sgdm": 0.01,
    "adam": 1e-3,
    "adamw": 1e-3,
    "nadam": 2e-3,
    "adamax": 2e-3,
    "rmsprop": 1e-3,
    "adagrad": 0.01,
}
H = 20
BOUND = 8.0  # Adamax holds a running max of |g|, carried in as an RMS: ~5x smaller in this test


def batches(n):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 1, generator=g)
    for _ in range(n):
        x = torch.randn(32, 8, generator=g)
        yield x, x @ w + 0.3 * torch.randn(32, 1, generator=g)


def norm(tensors):
    return torch.cat([t.reshape(-1) for t in tensors]).norm()


def switch_step(sender, receiver):
    """Gradients of H + 1 steps of a DOIT run sender -> receiver, and the norm of the receiver's first update."""
    torch.manual_seed(0)
    model = nn.Linear(8, 1)
    space = {sender: {"lr": [LR[sender]]}, receiver: {"lr": [LR[receiver]]}}
    opt = doit.DOIT(model.parameters(), space=space, tau=H, strategy="cyclical", inherit=True)
    grads = []
    for x, y in batches(H + 1):
        before = [p.detach().clone() for p in model.parameters()]
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        opt.step(loss=loss.detach())
    assert opt.current.optimizer == receiver
    return grads, norm([p.detach() - b for p, b in zip(model.parameters(), before, strict=True)])


def own_step(receiver, grads):
    """The norm of the receiver's update H + 1 after it took the same H gradients itself."""
    params = [torch.zeros_like(g) for g in grads[0]]
    opt = optimizers.create(receiver, params, lr=LR[receiver])
    for step in grads:
        before = [p.clone() for p in params]
        for p, g in zip(params, step, strict=True):
            p.grad = g
        opt.step()
    return norm([p - b for p, b in zip(params, before, strict=True)])


@pytest.mark.parametrize("sender, receiver", list(itertools.permutations(KINDS, 2)))
def test_first_step_after_a_switch_has_the_receivers_size(sender, receiver):
    grads, carried = switch_step(sender, receiver)
    own = own_step(receiver, grads)
    assert own / BOUND <= carried <= own * BOUND, f"{sender} -> {receiver}: {carried:.3g} vs own {own:.3g}"
