# Two entry points, both safe on a fresh Python 3.11 machine with no GPU:
#   make demo   set up .venv and render a prompt end to end with the built-in tiny model
#   make test   set up .venv and run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch this project is tested with. Installing it before the
# project keeps pip from resolving `torch>=2.4` to a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test lint bench setup

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# A short conversation through the console bot: two members and a moderator.
DEMO_CHAT := alice: a corgi surfing a wave at sunset --seed 1\nbob: a paper boat on a rainy street --frames 12 --ar 16:9\nalice: /queue\nmod: /mod limit\n

demo: setup
	@printf '$(DEMO_CHAT)' | $(PY) -m bot console --model tiny --mods mod

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
