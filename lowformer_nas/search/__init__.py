"""The search: settings, evaluation (latency from ``latency``, accuracy from ``accuracy``),
Pareto maths, the B0-B3 family and the Optuna / Ray backends.

Heavy dependencies (torch, optuna, ray, plotly) load inside the functions that need them.
"""
