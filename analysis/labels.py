"""What the tables and figures call things: display names of methods, ablations and rows, and what each
scale's columns are (every table caption says it)."""

from __future__ import annotations

# What each scale's columns are (below it every caption lists each recorded setting that differs from the
# experiment's paper setting: analysis.settings).
SCALE_NOTES = {
    "paper": "the experiment configs' paper settings unless the runs overrode them",
    "gpu": "ResNet18 on the real MNIST on one GPU, a few epochs, ImageNet weights where cached, else from "
    "scratch (conf/scale/gpu.yaml)",
    "embedded": "scikit-learn digits 5-9, small CNN/MLP pre-trained on digits 0-4, 6 epochs by default "
    "(conf/scale/embedded.yaml)",
    "mnist": "real MNIST (24,000-example training subset, 4 epochs by default), the small CNN pre-trained on "
    "scikit-learn digits resized to 28x28, not the paper's ImageNet ResNet18 (conf/scale/mnist.yaml)",
}
# Display names of row keys (a method, an ablation, a table's own row key); an unlisted key shows as it is.
LABELS = {
    "sgd": "SGD",
    "sgdm": "SGDM",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "swats": "SWATS",
    "padam": "Padam",
    "adabound": "AdaBound",
    "agd": "AGD",
    "asgd": "ASGD",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "adamax": "Adamax",
    "sgdm_steplr": "SGDM+StepLR",
    "sgdm_coslr": "SGDM+CosLR",
    "doit": "DOIT (ours)",
    "random": "random",
    "cyclical": "cyclical",
    "no_transfer": "w/o omega_t",
    "no_halving": "w/o halve",
    "halve": "eq. 7 read as halving (ambiguity 1)",
    "one_lr": "DOIT, one lr per optimizer",
    "prodigy": "Prodigy",
    "doit_plus": "DOIT+ (beyond the paper)",
    "doit_plus2": "DOIT+2 (round 2: warm-up on the most conservative candidate)",
    "bandit": "bandit (discounted UCB + backtracking)",
    "plus_no_inherit": "DOIT+ w/o inherit",
    "plus_no_rollback": "DOIT+ w/o rollback",
    "plus_no_thompson": "DOIT+ w/o Thompson (argmax)",
    "plus_no_context": "DOIT+ w/o context input",
    "pca": "PCA",
    "umap": "UMAP",
    "adam_default": "Adam, lr 0.001",
    "adam_coslr": "Adam + cosine decay, lr 0.001",
    "prodigy_default": "Prodigy, lr multiplier 1",
    "schedulefree_adamw": "Schedule-free AdamW",
    "schedulefree_sgd": "Schedule-free SGD",
    "dadapt_adam": "D-Adaptation Adam",
}


def label(key: str) -> str:
    """The display name of ``key``."""
    return LABELS.get(key, key)
