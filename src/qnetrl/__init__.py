"""qnetrl: simulate quantum networks and learn how to run them.

Layers (imports point downwards only): ``physics`` -> ``network`` -> ``consensus`` -> ``envs``
-> ``agents`` -> ``experiments`` -> ``cli``. See DESIGN.md.
"""

from qnetrl._validation import InvalidParameterError

__version__ = "0.1.0"

__all__ = ["InvalidParameterError", "__version__"]
