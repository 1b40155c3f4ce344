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
# # Lab 3: Scratchpad and format — the toy chain of thought
#
# Two arms of one sweep on 3-digit addition: direct answers (`task.format=plain`) and a scratchpad that
# writes the column sums with their carries before the answer (`task.format=scratchpad`). Both arms
# get the same training tokens per size, so they sit at (almost) the same training compute. Does the
# scratchpad help every size? Handout: `docs/labs/03-scratchpad.md`.

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
LAB = "scratchpad"

# %% [markdown]
# ## 1. Train both arms (4 sizes x 2 seeds x 2 formats), or load the example

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY)

# %% [markdown]
# ## 2. One family curve per arm
#
# The report finds the arms (the swept `task.format`), fits each arm's threshold, the shift between
# them (with a paired seed-bootstrap interval) and any crossover — or says "none in range".

# %%
assert report.main([str(SWEEP)]) == 0
display(Image(filename=str(SWEEP / "emergence.png")))

# %%
arms = json.loads((SWEEP / "summary.json").read_text())["arms"]
for label in arms["labels"]:
    print(f"{label}: headline threshold {arms[label]['headline']['threshold_text']} FLOPs")
for shift in arms["shifts"]:
    print("shift:", {k: shift.get(k) for k in ("from", "to", "metric", "shift_decades", "ci", "text") if k in shift})
print("crossovers:", arms["crossovers"] or "none in range")

# %% [markdown]
# ## 3. What a scratchpad row looks like
#
# The same problem in both formats, as the model is trained on it (`;` ends the scratchpad, `$` the answer).

# %%
import numpy as np  # noqa: E402

from toymodels.tasks.arithmetic import Task  # noqa: E402
from toymodels.tasks.vocab import decode  # noqa: E402  (tasks is pure Python and NumPy: no torch)

for fmt in ("plain", "scratchpad"):
    row = Task(name="add", n_digits=3, format=fmt).encode_rows(np.array([456]), np.array([789]))[0]
    print(f"{fmt:>10}: {decode(row)}")
