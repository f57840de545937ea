"""A synthetic sequence task with a known answer, for the benchmark's recurrent and Transformer programs: sequences
of LENGTH tokens over VOCAB; tokens 0..3 are markers, the rest noise; the class is the marker that occurs most often
(its count is made strictly the largest, so the Bayes accuracy is 1). Generated from a seed: nothing to download."""

from __future__ import annotations

import os

import torch

VOCAB, LENGTH, CLASSES = 24, 32, 4


def make(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(CLASSES, VOCAB, (n, LENGTH), generator=g)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    counts = torch.randint(0, 4, (n, CLASSES), generator=g)
    counts[torch.arange(n), y] = counts.max(1).values + 1  # the labelled marker strictly the most frequent
    for i in range(n):
        tokens = torch.repeat_interleave(torch.arange(CLASSES), counts[i])
        places = torch.randperm(LENGTH, generator=g)[: len(tokens)]
        x[i, places] = tokens
    return x, y


def load(train: int = 3000, test: int = 1000):
    share = float(os.environ.get("PROGRAMS_FRACTION", 1))  # the benchmark's quick mode (fmnist.py)
    return make(max(int(train * share), 64), seed=0), make(max(int(test * share), 64), seed=1)
