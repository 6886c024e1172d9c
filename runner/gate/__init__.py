"""The regression gate: paired statistics, the base tree, reports."""
