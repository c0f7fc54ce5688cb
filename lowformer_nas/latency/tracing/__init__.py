"""The kernels a model runs: records, analytic enumeration, torch tracing, runtime traits."""
