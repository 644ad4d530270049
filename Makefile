# ragbot: `make run` opens the REPL over the bundled sample article; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install run test bot bench clean

install: $(VENV)/.installed

# torch==2.13.0 (CPU) goes in first: any other torch pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	touch $@

run: install
	$(VENV)/bin/ragbot repl

test: install
	$(PY) -m pytest -q

bot: install
	$(VENV)/bin/ragbot bot

clean:
	rm -rf $(VENV) .ragbot .pytest_cache
