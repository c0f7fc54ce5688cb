"""Accuracy estimation, with the same standing as latency estimation.

Datasets held in memory, zero-cost scores, short proxy training, a ground-truth table of
longer training runs, the proxy audit against it and the surrogate that ranks candidates.
Imports only ``arch``, ``space``, ``errors`` and ``_io``; never ``latency`` or ``search``
(``search`` combines the two). Heavy dependencies load inside the functions that need them.
"""
