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
# # Lab 6: The forecasting challenge
#
# Can you predict where exact match jumps before you can afford the models that show it? You get a
# compute budget: the whole command's planned training FLOPs must fit `budget.flops` (4e11), checked
# before anything trains. Spend it on small runs, write down your forecast of the threshold (the
# compute where half the seeds reach exact match 0.5), then one larger run — beyond your budget —
# reveals the truth and `toymodels-forecast` scores your forecast against four automatic forecasters.
# Handout: `docs/labs/06-forecast.md`.

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
import math

from IPython.display import Image, display

from toymodels import labs
from toymodels.cli import forecast as forecast_cli
from toymodels.cli import report

TINY = labs.is_tiny()  # TOYMODELS_LAB_TINY=1: a few tiny runs (what the tests execute)
# True: skip training and load the precomputed sweep shipped with the package (automatic without torch).
USE_EXAMPLE = labs.use_example()

LAB = "forecast"
LAB_INFO = labs.get_lab(LAB)

# %% [markdown]
# ## 1. Plan within the budget
#
# Your choice of runs: Hydra overrides of `toymodels-train -m experiment=lab_forecast` (keep the
# recipe: 3-digit reversed addition, 1.5M tokens per size). The default uses the three smallest sizes
# with 3 seeds each (3.4e11 FLOPs). A choice over budget is refused in one line and nothing is written,
# for example adding d32:

# %%
MY_RUNS = ("model=d8,d16,d24",)  # your choice, e.g. ("model=d8,d16,d24,d32", "train.ensemble=1")
if labs.can_train():  # the check composes the configs, which needs the training side installed
    over = labs.run(labs.train_command(LAB, 0, labs.sweep_dir(LAB, TINY), extra=("model=d8,d16,d24,d32",)))
    print("exit code:", over)

# %% [markdown]
# ## 2. Train your runs (or load the example), and look at them

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)  # the example holds the small runs and the larger ones
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY, extra=() if TINY else MY_RUNS)
    assert report.main([str(SWEEP)]) == 0
    display(Image(filename=str(SWEEP / "mirage.png")))

# %% [markdown]
# ## 3. Write down your forecast before you look further
#
# In FLOPs: where will half the seeds reach exact match 0.5? Give an interval too.

# %%
# e.g. {"threshold_flops": 1.5e11, "interval": [8e10, 4e11]}
MY_FORECAST = {"threshold_flops": None, "interval": [None, None]}

# %% [markdown]
# ## 4. The truth: one larger run beyond the budget (the instructor's step), then the score
#
# `toymodels-train -m experiment=lab_forecast model=d32,d48 budget.flops=null`, then
# `toymodels-forecast SWEEP --fit-models d8,d16,d24`: four forecasters fitted on your sizes only,
# each scored against the threshold of the whole sweep.

# %%
if not USE_EXAMPLE:
    labs.train(LAB, 1, SWEEP, tiny=TINY)
assert forecast_cli.main([str(SWEEP), "--fit-models", LAB_INFO.forecast_models]) == 0
display(Image(filename=str(SWEEP / "forecast.png")))

# %%
result = json.loads((SWEEP / "forecast.json").read_text())
truth = result["truth"]["threshold_flops"]
print("truth:", result["truth"]["threshold_text"], "FLOPs")
for name, f in result["forecasters"].items():
    print(f"  {name}: {f['threshold_flops'] if f['threshold_flops'] is None else format(f['threshold_flops'], '.2e')}"
          f" (error {f['error_decades']} decades){'' if f['threshold_flops'] else ': ' + str(f.get('reason'))}")
mine = MY_FORECAST["threshold_flops"]
if mine and truth:
    print(f"your forecast: {mine:.2e}, {abs(math.log10(mine / truth)):.2f} decades from the truth")
else:
    print("your forecast: not written down (or no truth in range)")
