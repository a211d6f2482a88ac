"""Learning from outcomes: training and registering models, later drift and retraining."""
