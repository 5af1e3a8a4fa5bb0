"""nas: neural architecture search over numerical schemes."""
__version__ = "0.1.0"
