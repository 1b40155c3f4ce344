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
# # Lab 4: Grokking — emergence in training time
#
# A model trained on a small, fixed set of modular-addition problems fits them early; does it
# generalise to the held-out problems much later (Power et al. 2022)? The lab runs
# `experiment=grokking` as it stands (its task, model, steps and the weight-decay arms) into its own
# folder. Handout: `docs/labs/04-grokking.md`.

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
LAB = "grokking"

# %% [markdown]
# ## 1. Train the two weight-decay arms (2 runs at a time), or load the example

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY)

# %% [markdown]
# ## 2. Train vs held-out over training
#
# `training.png`: exact match on a sample of the training set (dashed) and on held-out problems
# (solid) against compute (optimizer steps on the top axis), the total weight norm on the right axis,
# the grok gap shaded when there is one.

# %%
assert report.main([str(SWEEP)]) == 0
display(Image(filename=str(SWEEP / "training.png")))

# %%
for run in sorted(p for p in SWEEP.iterdir() if (p / "run.json").is_file()):
    info = json.loads((run / "run.json").read_text())
    m = info.get("metrics") or {}
    print(f"{info['name']}: weight decay {info['config']['train']['weight_decay']}, "
          f"train exact match {m.get('train_exact_match', float('nan')):.2f}, "
          f"held-out {m.get('exact_match', float('nan')):.2f}, grok_gap: {info.get('grok_gap')}")
