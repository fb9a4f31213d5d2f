# Every target bootstraps what it needs from the pinned files in requirements/.
# python3.13 comes from PATH, or from pyenv when it is not the default interpreter.
PYTHON_VERSION ?= 3.13.0
export PYENV_VERSION := $(PYTHON_VERSION)
PY313 ?= $(shell command -v python3.13 2>/dev/null || pyenv which python 2>/dev/null)

VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .tools
SAM    := $(TOOLS)/sam/bin/sam
CFNLINT:= $(TOOLS)/sam/bin/cfn-lint
CHECKOV:= $(TOOLS)/checkov/bin/checkov
# sam build resolves python3.13 from PATH: the project venv provides it.
SAMENV := PATH=$(CURDIR)/$(VENV)/bin:$$PATH SAM_CLI_TELEMETRY=0
PYTEST_ARGS ?=

.PHONY: test lint typecheck unit iac validate cfn-lint build scan security bench chaos fuzz local demo deploy pin clean

test: lint typecheck unit iac security ## the full gate, as CI runs it

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@test -n "$(PY313)" || { echo "python3.13 not found (install it, or pyenv install $(PYTHON_VERSION))"; exit 1; }
	$(PY313) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(TOOLS)/%/.installed: requirements/%.txt
	@test -n "$(PY313)" || { echo "python3.13 not found"; exit 1; }
	$(PY313) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/shared/cio_security local/ciosec
	$(VENV)/bin/mypy --explicit-package-bases functions/webhook/app.py
	$(VENV)/bin/mypy --explicit-package-bases functions/gdpr_deletion/app.py
	$(VENV)/bin/mypy --explicit-package-bases functions/rotation/app.py
	$(VENV)/bin/mypy --explicit-package-bases functions/erasure_verification/app.py

unit: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

iac: validate cfn-lint build scan

validate: $(TOOLS)/sam/.installed
	$(SAMENV) $(SAM) validate --lint --region eu-west-1

cfn-lint: $(TOOLS)/sam/.installed
	$(CFNLINT) template.yaml

build: $(TOOLS)/sam/.installed $(VENV)/.installed
	$(SAMENV) $(SAM) build --parallel
	$(PY) -m ciosec.checks.sam_build .aws-sam/build

scan: $(TOOLS)/checkov/.installed
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f template.yaml

security: $(VENV)/.installed
	$(VENV)/bin/bandit -q -c pyproject.toml --severity-level medium -r layers/shared/cio_security functions local
	$(PY) -m ciosec.checks.secrets_baseline

bench: $(VENV)/.installed
	$(PY) -m benchmarks

chaos: $(VENV)/.installed
	CHAOS_REQUESTS=10000 $(PY) -m pytest -m chaos -s $(PYTEST_ARGS)

# Full-size runs take tens of minutes: no per-test timeout here (make test keeps its 300 s).
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=100000 $(PY) -m pytest -m fuzz --timeout=0 $(PYTEST_ARGS)

local: $(VENV)/.installed
	$(PY) -m ciosec local

demo: $(VENV)/.installed
	$(PY) -m ciosec demo

deploy: build
	$(SAMENV) $(SAM) deploy --guided

pin: ## regenerate requirements/dev.txt from a fresh resolve of requirements/dev.in
	rm -rf $(TOOLS)/pin && $(PY313) -m venv $(TOOLS)/pin
	$(TOOLS)/pin/bin/pip install --quiet -r requirements/dev.in
	{ head -2 requirements/dev.txt; $(TOOLS)/pin/bin/pip freeze --exclude-editable; } > requirements/dev.txt.new
	mv requirements/dev.txt.new requirements/dev.txt

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .mypy_cache .ruff_cache .hypothesis
