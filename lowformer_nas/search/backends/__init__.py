"""Search backends: Optuna (``optuna.py``) and Ray Tune (``ray.py``) over the same studies
(``storage.py``), sharing recovery, top-k and evaluation (``common.py``)."""
