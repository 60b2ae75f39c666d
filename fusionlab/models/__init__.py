"""Models: encoders + optional refiner + fusion + head (``FusionModel``), and the UDML model."""
from ..rng import seeded_init as seeded
from .fusion_model import ENCODERS, TEMPORAL, Encoder, FusionModel, ModelConfig, ModelOutput, build_model, count_parameters

__all__ = ["ENCODERS", "TEMPORAL", "Encoder", "FusionModel", "ModelConfig", "ModelOutput", "build_model",
           "count_parameters", "seeded"]
