"""Theory: the four papers' theorems in sympy, the checker, theory-guided parameters and bound reports."""
