"""Deprecated: ``python -m toymodels.train`` (the old module path) still runs the training CLI.

It says so on stderr, then runs ``toymodels.cli.train`` as ``__main__``; nothing is imported from
``toymodels.cli`` statically (nothing in the package imports the entry points).
"""

if __name__ == "__main__":
    import runpy
    import sys

    print("toymodels.train is deprecated; use toymodels-train or python -m toymodels.cli.train", file=sys.stderr,
          flush=True)
    runpy.run_module("toymodels.cli.train", run_name="__main__", alter_sys=True)
