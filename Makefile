# One entry point for the environment, the tests and the demo.
#   make env    create or reuse the virtual environment (linked as .venv)
#   make test   set up the environment, then run the whole test suite
#   make demo   set up the environment, then run the end-to-end demo
PYTHON := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: env test demo

env:
	bash tools/setup_env.sh > /dev/null

test: env
	$(PYTHON) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

demo: env
	$(PYTHON) tools/demo.py $(DEMO_ARGS)
