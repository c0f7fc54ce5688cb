"""Timing models on this machine: the measuring protocol, allocator regime, host, worker."""
