"""judgecal: LLM-judge calibration harness."""
