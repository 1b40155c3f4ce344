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
# # Lab 5: Data scaling — emergence in the amount of data
#
# One model size, finite training sets of N distinct 2-digit additions, the same number of steps for
# every N (small sets are seen for many epochs and memorised). Held-out exact match against N, for
# answers written reversed (least significant digit first) and plain (Lee et al. 2023).
# Handout: `docs/labs/05-data_scaling.md`.

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

from IPython.display import Image, display

from toymodels import labs
from toymodels.cli import report

TINY = labs.is_tiny()  # TOYMODELS_LAB_TINY=1: a few tiny runs (what the tests execute)
# True: skip training and load the precomputed sweep shipped with the package (automatic without torch).
USE_EXAMPLE = labs.use_example()
LAB = "data_scaling"

# %% [markdown]
# ## 1. Train N = 64, 250, 1000, 4000 x 2 formats x 2 seeds (2 runs at a time), or load the example

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY)

# %% [markdown]
# ## 2. Held-out exact match against N
#
# Per format: each seed's final held-out exact match, the median, and a sigmoid fitted in log10 N
# whose midpoint is the format's data threshold.

# %%
assert report.main([str(SWEEP)]) == 0
display(Image(filename=str(SWEEP / "data_scaling.png")))

# %%
scaling = json.loads((SWEEP / "summary.json").read_text())["data_scaling"]
for label, series in scaling["series"].items():
    print(f"{label}: data threshold {series['threshold_text']}")

# %% [markdown]
# ## 3. Memorising vs generalising
#
# `training.png`: training-sample (dashed) against held-out (solid) exact match over training, per
# series of runs.

# %%
display(Image(filename=str(SWEEP / "training.png")))
