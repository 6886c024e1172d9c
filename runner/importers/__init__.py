"""Importers: suites written for other eval tools, turned into Flywheel specs that validate and run.

One module per source (`oaieval`, `promptfoo`, `openai_evals`), each returning an `Imported` (the files to
write and notes on what could not be carried over); `runner.commands.import_` writes them without overwriting.
"""
