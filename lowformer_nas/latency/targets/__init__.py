"""Named targets: the profile format, device and built-in priors, the registry, calibration."""
