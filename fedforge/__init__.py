"""FedForge: a reproducible, local-first federated-learning pipeline for medical imaging."""

__version__ = "0.1.0"
