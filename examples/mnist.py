"""MNIST with DOIT: a plain PyTorch training script in the usual shape (argparse, Net, train(), test(), StepLR).

The one change to a script that trains with a single optimizer is the step: DOIT scores each switch cycle
from the training losses (eq. 2), so it needs the batch loss::

    optimizer.step()                      # before
    optimizer.step(loss=loss.detach())    # with DOIT

StepLR wraps DOIT unchanged: the ``lr`` of DOIT's parameter groups is a multiplier (``--lr``, default
1.0) on every candidate's own learning rate, and StepLR decays that multiplier by ``--gamma`` per epoch.

    python examples/mnist.py                     # 14 epochs; MNIST downloaded into --data
    python examples/mnist.py --max-batches 20    # a quick check

Data: ``--data`` (default ``$MNIST_ROOT``, else ``../data``), torchvision's layout ``<data>/MNIST/raw``;
torchvision downloads it there when it is missing and the machine is online.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import StepLR
from torchvision import datasets, transforms

import doit

# The paper's five candidate optimizers (section 5), one usual learning rate each (the suite's
# `one_lr` space; the paper's own `paper15` tries each at 0.1, 0.01 and 0.001).
SPACE = {
    "sgd": {"lr": [0.01]},
    "sgdm": {"lr": [0.01], "momentum": [0.9]},
    "adagrad": {"lr": [0.01]},
    "rmsprop": {"lr": [0.001]},
    "adam": {"lr": [0.001]},
}


class Net(nn.Module):
    """Two convolutions, max pooling, dropout and two linear layers; log-probabilities out."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        if args.max_batches is not None and batch_idx >= args.max_batches:
            break
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step(loss=loss.detach())  # the one change for DOIT (was: optimizer.step())
        if batch_idx % args.log_interval == 0:
            print(
                f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}\t"
                f"optimizer: {optimizer.log[-1]['config']}"
            )


def test(args, model, device, test_loader):
    model.eval()
    test_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for batch_idx, (data, target) in enumerate(test_loader):
            if args.max_batches is not None and batch_idx >= args.max_batches:
                break
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
            seen += len(target)
    test_loss /= seen
    print(
        f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{seen} ({100.0 * correct / seen:.0f}%)\n"
    )
    return correct / seen


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch MNIST example trained with DOIT")
    parser.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="training batch size (default: 64)"
    )
    parser.add_argument(
        "--test-batch-size", type=int, default=1000, metavar="N", help="test batch size (default: 1000)"
    )
    parser.add_argument("--epochs", type=int, default=14, metavar="N", help="epochs to train (default: 14)")
    parser.add_argument(
        "--lr",
        type=float,
        default=1.0,
        metavar="LR",
        help="multiplier on every candidate's learning rate (default: 1.0)",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=0.7,
        metavar="M",
        help="StepLR decay of the multiplier per epoch (default: 0.7)",
    )
    parser.add_argument("--tau", type=int, default=25, help="DOIT: updates per switch cycle (default: 25)")
    parser.add_argument("--n-ini", type=int, default=20, help="DOIT: cold-start cycles (default: 20)")
    parser.add_argument(
        "--no-accel", action="store_true", help="train on the CPU even if an accelerator exists"
    )
    parser.add_argument("--dry-run", action="store_true", help="one batch of training and test, one epoch")
    parser.add_argument(
        "--max-batches",
        type=int,
        default=None,
        metavar="N",
        help="at most N training and N test batches per epoch (quick checks)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
    parser.add_argument(
        "--log-interval",
        type=int,
        default=10,
        metavar="N",
        help="batches between training log lines (default: 10)",
    )
    parser.add_argument(
        "--data",
        default=os.environ.get("MNIST_ROOT", "../data"),
        help="torchvision MNIST root (default: $MNIST_ROOT or ../data)",
    )
    parser.add_argument("--save-model", action="store_true", help="save the model and DOIT's state")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.epochs, args.max_batches = 1, 1
    return args


def device_for(args) -> torch.device:
    accel = getattr(torch, "accelerator", None)
    if not args.no_accel and accel is not None and accel.is_available():
        return accel.current_accelerator()
    if not args.no_accel and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def load_mnist(root: str):
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    try:
        return (
            datasets.MNIST(root, train=True, download=True, transform=transform),
            datasets.MNIST(root, train=False, transform=transform),
        )
    except (RuntimeError, OSError) as err:
        sys.exit(
            f"error: MNIST is not in {os.path.abspath(root)}/MNIST/raw and could not be downloaded "
            f"({type(err).__name__}); copy it there or pass --data /path/to/a/copy"
        )


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = device_for(args)
    loader_kw = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_set, test_set = load_mnist(args.data)
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, **loader_kw
    )
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.test_batch_size, **loader_kw)

    model = Net().to(device)
    optimizer = doit.DOIT(
        model.parameters(),
        space=SPACE,
        tau=args.tau,
        n_ini=args.n_ini,
        seed=args.seed,
        state=[(n, p) for n, p in model.named_parameters() if n.startswith("fc2.")],
    )
    for group in optimizer.param_groups:
        group["lr"] = args.lr  # the multiplier StepLR decays
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(args, model, device, test_loader)
        scheduler.step()

    configs = [record["config"] for record in optimizer.log]  # one record per switch cycle
    share = ", ".join(f"{c} {configs.count(c) / len(configs):.0%}" for c in dict.fromkeys(configs))
    print(f"DOIT: {optimizer.switch_count} switches in {len(configs)} cycles; share: {share}")
    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")
        torch.save(optimizer.state_dict(), "mnist_doit.pt")


if __name__ == "__main__":
    main()
