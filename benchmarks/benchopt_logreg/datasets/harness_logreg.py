"""The harness's ``logreg`` data (training part), exported once by
``benchmarks/benchopt_side_by_side.py`` as ``logreg_n{n}_X.npy`` / ``_y.npy`` into the folder
named by ``$HARNESS_BENCHOPT_DATA``: the same arrays, bit for bit, on both sides."""

import os
from pathlib import Path

import numpy as np
from benchopt import BaseDataset


class Dataset(BaseDataset):
    name = "harness-logreg"
    parameters = {"n": [2000]}

    def get_data(self):
        folder = Path(os.environ["HARNESS_BENCHOPT_DATA"])
        X = np.load(folder / f"logreg_n{self.n}_X.npy")
        y = np.load(folder / f"logreg_n{self.n}_y.npy")
        return dict(X=X, y=y)
