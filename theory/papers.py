"""The publications the built-in theorems come from (the bibliography of docs/papers.md), and where
what they leave implicit is derived (:func:`derived`: a section of docs/derivations.md)."""

from __future__ import annotations

from .statement import Paper

HUO_THESIS = Paper("Zhouyuan Huo", "Distributed Machine Learning Framework: New Algorithms and Theoretical Foundation",
                   "PhD thesis, University of Pittsburgh", 2020)
ASYSVRG_AAAI = Paper("Zhouyuan Huo & Heng Huang",
                     "Asynchronous Mini-Batch Gradient Descent with Variance Reduction for Non-Convex Optimization",
                     "Proceedings of the AAAI Conference on Artificial Intelligence (AAAI), pp. 2043-2049", 2017)
DFSDCA_ICDM = Paper("Zhouyuan Huo, Xue Jiang & Heng Huang",
                    "Asynchronous Dual Free Stochastic Dual Coordinate Ascent for Distributed Data Mining",
                    "IEEE International Conference on Data Mining (ICDM)", 2018)
DDG_ICML = Paper("Zhouyuan Huo, Bin Gu, Qian Yang & Heng Huang", "Decoupled Parallel Backpropagation with Convergence "
                 "Guarantee", "Proceedings of the 35th International Conference on Machine Learning (ICML)", 2018)
FR_NEURIPS = Paper("Zhouyuan Huo, Bin Gu & Heng Huang", "Training Neural Networks Using Features Replay",
                   "Advances in Neural Information Processing Systems 31 (NeurIPS)", 2018)
LARGE_BATCH = Paper("Zhouyuan Huo, Bin Gu & Heng Huang", "Large Batch Training Does Not Need Warmup",
                    "arXiv:2002.01576", 2020)
MINIBATCH = Paper("Onkar Bhardwaj & Guojing Cong",
                  "Inefficiency of Stochastic Gradient Descent with Larger Mini-Batches (and More Learners)",
                  "ICLR 2017 submission (OpenReview)", 2017)
GROWING_BATCH = Paper("Nhuong V. Nguyen, Toan N. Nguyen, Phuong Ha Nguyen, Quoc Tran-Dinh, Lam M. Nguyen & Marten van Dijk",
                      "Hogwild! over Distributed Local Data Sets with Linearly Increasing Mini-Batch Sizes",
                      "Proceedings of AISTATS 2021, PMLR 130:1207-1215 (the arXiv version is encoded)", 2021)

ALL = (HUO_THESIS, ASYSVRG_AAAI, DFSDCA_ICDM, DDG_ICML, FR_NEURIPS, LARGE_BATCH, MINIBATCH, GROWING_BATCH)


DERIVATIONS = "docs/derivations.md"


def derived(section: str, item: str) -> str:
    """The pointer a theorem's text gives for a fact its paper does not state but this project derives
    from the paper's equations: ``derivation: docs/derivations.md, <section>, '<item>'`` (section: the
    theorem module's section there, item: the heading of the item in it; the tests check both exist)."""
    return f"derivation: {DERIVATIONS}, {section}, '{item}'"
