# make demo | make test | make install | make bench | make lint
# Set-up never pulls a CUDA build of torch onto a CPU-only machine: torch is installed first, on
# its own, from TORCH_INDEX when given (GPU users: docs/scale-out.md, "Installing on a GPU machine").
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS ?= plot,wandb,tensorboard,launchers,dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || \
	  $(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	@$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: install
	$(BIN)/toymodels-demo

# One test worker per core (pytest-xdist), each on one thread; a file's tests stay on one worker.
test: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: install
	$(BIN)/python scripts/bench.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) outputs multirun
