"""ambience: turns a treatment room into a relaxation environment for a massage session."""

__version__ = "0.1.0"
