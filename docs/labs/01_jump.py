# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 1: The jump
#
# A family of seven transformers (816 to 222K non-embedding parameters) learns 2-digit addition from
# the same 600,000 training tokens. Scored by exact match, the small ones stay at zero and the large
# ones solve it: where, and how sharply? Handout: `docs/labs/01-jump.md`.

# %%
# Set-up. On Colab, or any Python without toymodels, install it first: set TOYMODELS_PIP to your
# course's copy of the package (a git URL "git+https://.../toymodels.git" or a wheel you uploaded).
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("toymodels") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           os.environ.get("TOYMODELS_PIP", "toymodels[plot,launchers]")])

# %%
import json

from IPython.display import Image, Markdown, display

from toymodels import labs
from toymodels.cli import report

TINY = labs.is_tiny()  # TOYMODELS_LAB_TINY=1: a few tiny runs (what the tests execute)
# True: skip training and load the precomputed sweep shipped with the package (automatic without torch).
USE_EXAMPLE = labs.use_example()
LAB = "jump"

# %% [markdown]
# ## 1. Train the family (about 3 minutes on 2 cores), or load the example
#
# `toymodels-train -m experiment=lab_jump` trains 7 sizes x 3 seeds; each size's seeds train together
# as one stacked model (`train.ensemble=3`). Running the cell again skips the runs already done.

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)  # a fresh copy of the packaged sweep: nothing is trained
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY)

# %% [markdown]
# ## 2. The report: the emergence figure
#
# Left: each run's final exact match against its training compute. Middle: the fraction of seeds that
# solve the task (exact match >= 0.9) and the headline threshold with its interval. Right: the same
# against model size.

# %%
assert report.main([str(SWEEP)]) == 0
display(Image(filename=str(SWEEP / "emergence.png")))

# %% [markdown]
# ## 3. Per size: how many seeds solved it?

# %%
summary = json.loads((SWEEP / "summary.json").read_text())
rows = ["| model | compute (FLOPs) | solved / seeds |", "|---|---|---|"]
rows += [f"| {r['model']} | {r['flops']:.1e} | {r['solved']} / {r['n']} |" for r in summary["solve"]["per_size"]]
display(Markdown("\n".join(rows)))
print("headline threshold:", summary["headline"]["threshold_text"], "FLOPs")

# %% [markdown]
# ## 4. Inside training: the staircase
#
# `curves.png`: per-digit accuracy over training for one seed of each size. Which answer digit is
# learned first?

# %%
display(Image(filename=str(SWEEP / "curves.png")))
