"""Graders: one module per grader type, all meeting `runner.graders.base.Grader`, looked up in `registry`."""
