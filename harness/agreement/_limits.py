"""Limits shared by the statistics and the command line (no numpy: read at start-up)."""

#: At most this many bootstrap resamples (the fast kernels hold a B x items array).
MAX_RESAMPLES = 100_000
