"""toymodels: a trainable, toy-scale simulator of emergent abilities.

Small decoder-only transformers are trained from scratch on synthetic arithmetic; exact-match and
continuous metrics are logged against training FLOPs, and a report turns a sweep of model sizes into
the emergence figure, the "mirage" figure and a fitted compute threshold.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`toymodels.load`, imported on first use: loading a run needs torch, and `import toymodels` stays light
    (the analysis side and the report must not pay for torch). The import sits inside this function so that
    the package's top does not import toymodels.inside statically (the layers in .importlinter)."""
    if name == "load":
        from toymodels.inside.load import load

        return load
    raise AttributeError(f"module 'toymodels' has no attribute {name!r}")
