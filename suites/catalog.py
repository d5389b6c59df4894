"""The finite-sum workloads shipped with the harness (entry point ``harness.workloads``)."""

from harness.api import Param, WorkloadSpec

from .datasets import DATASETS

# what FiniteSumWorkload.constants() provides (harness check-theorem: a run map reads only these)
CONSTANTS = ("L", "L_max", "L_mean", "mu", "lam", "n", "d", "dim", "density", "f_star", "f0_minus_fstar", "dist0_sq")

_generated = (
    Param("n", 2000, "int", low=2, doc="training samples"),
    Param("d", 50, "int", low=1, doc="features"),
    Param("cond", 100.0, "float", low=1.0, doc="condition number of the feature covariance (dense)"),
    Param("sparse", False, "bool", doc="scipy CSR features with the given density, unit-norm rows"),
    Param("density", 0.01, "float", low=0.0, high=1.0, open_low=True, doc="fraction of nonzeros (sparse)"),
    Param("lam", 1e-3, "float", low=0.0, open_low=True, doc="l2 regularisation; mu = lam"),
    Param("noise", 0.1, "float", low=0.0, doc="label noise"),
    Param("test_fraction", 0.2, "float", low=0.0, high=0.9, doc="held-out share"),
    Param("seed", 0, "int", low=0, doc="data seed"),
)

WORKLOADS = [
    WorkloadSpec("logreg", "finite-sum", "harness.suites.linear:LogReg", _generated,
                 "l2-regularised logistic regression on generated data (dense or sparse CSR)", constants=CONSTANTS),
    WorkloadSpec("ridge", "finite-sum", "harness.suites.linear:Ridge", _generated,
                 "least squares + l2 on generated data; w* in closed form", constants=CONSTANTS),
    WorkloadSpec("probe", "finite-sum", "harness.suites.linear:Probe", (
        Param("n", 64, "int", low=1, doc="identical points"),
        Param("lam", 0.0, "float", low=0.0, doc="l2 weight (0: none)"),
    ), "f(w) = (w - 1)^2/2 in one dimension from n identical points: each read's staleness is observable "
       "from two consecutive objectives (a worked example of staleness; the audits use the ordinary workloads)",
       constants=CONSTANTS),
    WorkloadSpec("digits", "finite-sum", "harness.suites.linear:Digits", (
        Param("binary", False, "bool", doc="even vs odd with the logistic loss (else 10-class multinomial)"),
        Param("lam", 1e-3, "float", low=0.0, open_low=True),
        Param("test_fraction", 0.25, "float", low=0.0, high=0.9),
        Param("seed", 0, "int", low=0, doc="split seed"),
    ), "scikit-learn's handwritten digits (real data shipped with the package)", needs=("sklearn",),
       constants=CONSTANTS),
    WorkloadSpec("libsvm", "finite-sum", "harness.suites.linear:LibSVM", (
        Param("path", "", "str", doc="a LIBSVM-format file (ijcnn1, covtype, rcv1, ...)"),
        Param("dataset", "none", "choice", choices=("none", *DATASETS),
              doc="a paper's dataset by name, downloaded into the cache on first use (instead of path)"),
        Param("loss", "logistic", "choice", choices=("logistic", "squared")),
        Param("lam", 1e-4, "float", low=0.0, open_low=True),
        Param("test_fraction", 0.0, "float", low=0.0, high=0.9),
        Param("normalize", False, "bool", doc="scale rows to unit norm"),
        Param("max_rows", 0, "int", low=0, doc="read at most this many rows (0 = all)"),
        Param("zero_based", "auto", "choice", choices=("auto", "true", "false"),
              doc="index base: auto = 1-based unless an index 0 appears (scikit-learn's rule)"),
        Param("seed", 0, "int", low=0),
    ), "a LIBSVM-format file the user brings, or a paper's dataset by name (dataset=rcv1, ...)", constants=CONSTANTS),
]
