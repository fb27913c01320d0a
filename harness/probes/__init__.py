"""Bias probes netted against a placebo (``judgecal probe``): see :mod:`._probes`."""

from ._probes import (
    DEFAULT_INJECTION,
    MOVE,
    MUST_PASS,
    PADDING,
    PROBES,
    RERUN_OFFSET,
    ProbeError,
    ProbeReport,
    ProbeResult,
    compare_probe,
    inject,
    pad_output,
    parse_probes,
    probe_gate_reasons,
    reword_rubric,
    run_probes,
)

__all__ = ["DEFAULT_INJECTION", "MOVE", "MUST_PASS", "PADDING", "PROBES", "RERUN_OFFSET",
           "ProbeError", "ProbeReport", "ProbeResult", "compare_probe", "inject",
           "pad_output", "parse_probes", "probe_gate_reasons", "reword_rubric",
           "run_probes"]
