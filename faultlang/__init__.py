"""faultlang: a textbook REPL and scenario language for Linux page faults (modelled on 6.18)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
