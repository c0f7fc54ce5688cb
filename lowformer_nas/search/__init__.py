"""The search: settings, the orchestrator, evaluation (latency from ``latency``, accuracy from
``accuracy``), bookkeeping and the Optuna / Ray backends (``backends/``). The run-directory
format, Pareto maths and the B0-B3 rule are in :mod:`lowformer_nas.rundir`.

Heavy dependencies (torch, optuna, ray, plotly) load inside the functions that need them.
"""
