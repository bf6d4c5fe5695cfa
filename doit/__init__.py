"""DOIT: dynamic interleaving of optimizers (ICLR 2026), as a library.

`doit.DOIT` is a drop-in `torch.optim.Optimizer`; the modules hold the paper's pieces:
`score` (eq. 2, 3), `acquisition` (eq. 4-7), `transferability` (LogME, LEEP, eq. 6),
`surrogate` (the GP per optimizer type), `compression` (parameter-state input),
`optimizers` (the registry of single and hybrid optimizers), `space`, `toys`.
"""

from doit.controller import DOIT

__all__ = ["DOIT"]
