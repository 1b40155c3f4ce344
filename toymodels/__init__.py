"""toymodels: a trainable, toy-scale simulator of emergent abilities.

Small decoder-only transformers are trained from scratch on synthetic arithmetic; exact-match and
continuous metrics are logged against training FLOPs, and a report turns a sweep of model sizes into
the emergence figure, the "mirage" figure and a fitted compute threshold.
"""

__version__ = "0.1.0"
