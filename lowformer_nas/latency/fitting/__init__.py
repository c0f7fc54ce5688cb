"""The latency predictor and its fits: calibration, few-shot, intervals, adaptive, refit."""
