"""The eval engine: render prompts, call models (cached, budgeted, resumable), grade, aggregate, record."""
