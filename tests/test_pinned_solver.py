"""Pinned values for the mutants bench/mutate.py found unguarded (issue 13).

Symbols: K classes, n per class, N = Kn, c/d block correlations, λ ``lam``, η
corruption rate, t fits (t = 1 teacher), T[c, j] = P(given j | true c) (rows =
true class), u = 1/K.

Every expected value is computed independently of the code under test: closed
forms, exact fractions, plain NumPy, or the independent mpmath solver
``labelavg._mp.solve_mp`` for block-solver behaviours.
"""
