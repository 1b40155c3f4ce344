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
# # Lab 2: The mirage and resolution
#
# Schaeffer et al. (2023): an accuracy below 1/(test-set size) reads 0, so a small test set turns a
# smooth improvement into a jump. Here every run of a family on 3-digit addition is evaluated on
# 10,000 held-out problems; the report re-scores each run's final answers on 100-problem subsets and
# compares them with all 10,000 and with answer_prob (the mean probability of the whole correct
# answer). Handout: `docs/labs/02-mirage.md`.

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
LAB = "mirage"

# %% [markdown]
# ## 1. Train the family (5 sizes x 3 seeds), or load the example

# %%
if USE_EXAMPLE:
    SWEEP = labs.copy_example(LAB)
    print(f"the example sweep is in {SWEEP}")
else:
    SWEEP = labs.sweep_dir(LAB, TINY)
    labs.train(LAB, 0, SWEEP, tiny=TINY)

# %% [markdown]
# ## 2. Three readings of the same models
#
# `--resolution 100`: exact match on 100-problem subsets of each run's held-out problems (the first
# subset, and the range over all disjoint subsets), on all of them, and answer_prob. Left: linear
# scale. Right: log scale, where each test set's resolution 1/size is a line and a reading of 0 sits
# on the bottom line.

# %%
assert report.main([str(SWEEP), "--resolution", "100"]) == 0
display(Image(filename=str(SWEEP / "resolution.png")))

# %%
summary = json.loads((SWEEP / "summary.json").read_text())
res = summary["resolution"]
rows = [f"| run | exact match ({res['n_small']}) | small sets reading 0 | exact match (all {res['n_all']}) | "
        "answer_prob |", "|---|---|---|---|---|"]
rows += [f"| {r['name']} | {r['exact_match_small']:.2f} | {r['small_sets_reading_zero']:.0%} | "
         f"{r['exact_match_all']:.2e} | {r['answer_prob_all']:.2e} |" for r in res["runs"]]
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## 3. The mirage figure: the same runs by six metrics
#
# Exact match against per-digit accuracy, edit distance, log p(answer), token accuracy and
# answer_prob, each with its breakthroughness score.

# %%
display(Image(filename=str(SWEEP / "mirage.png")))
