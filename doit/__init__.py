"""DOIT: dynamic interleaving of optimizers (ICLR 2026), as a library.

`doit.DOIT` is a `torch.optim.Optimizer` that needs each batch's loss (a one-line change to a training
loop); the modules hold the paper's pieces: `score` (eq. 2, 3), `acquisition` (eq. 4-7),
`transferability` (LogME, LEEP, eq. 6), `surrogate` (the GP per optimizer type), `compression`
(parameter-state input), `bank` (compressor + GPs), `selection` (Algorithm 1's strategies), `cycle`
(one switch cycle and its rollback), `optimizers` (the registry and its traits), `inherit`, `space`,
`toys`.
"""

from doit.acquisition import Schedule
from doit.compression import Compression
from doit.controller import DOIT
from doit.score import Score, Spread
from doit.selection import Acquirer, Initial, Strategy
from doit.space import Candidate

__all__ = [
    "DOIT",
    "Acquirer",
    "Candidate",
    "Compression",
    "Initial",
    "Schedule",
    "Score",
    "Spread",
    "Strategy",
]
