"""Weighted random choice for the demo generator's hot loop."""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate


class Picker:
    """Weighted random choice with precomputed cumulative weights (fast in a hot loop)."""

    def __init__(self, values, weights):
        self.values = list(values)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cum, rng.random() * self.total)]
