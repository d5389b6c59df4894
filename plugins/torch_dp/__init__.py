"""Large-batch data-parallel training (thesis Ch. 4): mNAG, LARS, CLARS on torch."""
