"""Logs: streaming readers (files, COS, CLS), classification, error signatures and the trace chain."""
