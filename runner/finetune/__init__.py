"""Closed-loop retraining: training data from recipes, validation before spending, backends, promotion."""
