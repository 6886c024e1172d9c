"""Documents Flywheel writes and reads back: typed models, a version checked on read, lazy item access."""
