"""`flywheel report`: one self-contained HTML file (and a CSV) showing what a run, an apply or a gate did."""
