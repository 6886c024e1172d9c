"""Fine-tuning backends behind one Protocol (`base.Backend`) and one registry dict (`registry.BACKENDS`)."""
