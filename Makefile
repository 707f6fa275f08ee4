# mlops-stack: every entry point a user or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION      := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' charts/mlops-stack/Chart.yaml)
IMAGE_PREFIX ?= mlops-stack
IMAGE_TAG    ?= $(VERSION)
# The one pinned Debian base every image starts from (see images/README.md).
BASE_IMAGE   ?= $(shell cat images/base-image)
# Optional extra CA bundle (PEM) for HTTPS through a corporate proxy during builds; never kept in an image.
EXTRA_CA_BUNDLE ?=
PYTEST_ARGS  ?=

VENV   := .venv
PYTHON := $(VENV)/bin/python
TOOLS  := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)
export IMAGE_PREFIX IMAGE_TAG BASE_IMAGE EXTRA_CA_BUNDLE

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## ---- set-up
$(PYTHON): pyproject.toml requirements/dev.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip sync --python $(PYTHON) requirements/dev.lock
	$(VENV)/bin/uv pip install --python $(PYTHON) --no-deps -e .
	@touch $(PYTHON)

.PHONY: host-deps
host-deps: ## Debian packages the build and the tests call (docker.io, openssh-server, npm...; skips those present).
	scripts/install-host-deps

.PHONY: venv
venv: $(PYTHON) ## Python virtualenv with the package, its extras and the test tools (from the lock).

.PHONY: lock
lock: ## Re-resolve requirements/dev.lock and images/mlflow/requirements.lock from pyproject.toml.
	scripts/lock-requirements

.PHONY: tools
tools: ## Helm 3 + Helm 4 binaries and checkov into .tools/.
	scripts/get-helm
	scripts/get-checkov

.PHONY: engine
engine: ## Make sure a Docker engine answers (installs docker.io and starts dockerd if needed).
	scripts/docker-engine

.PHONY: base-image
base-image: engine ## Provide BASE_IMAGE: pull it, or build it with debootstrap where no registry answers.
	scripts/base-image "$(BASE_IMAGE)"

.PHONY: images
images: base-image ## Build the mlflow, postgresql, sftp and prefect images (prints sizes and build time).
	scripts/build-images

## ---- the stack
.PHONY: up
up: venv tools ## Deploy: to the configured cluster (helm upgrade --install), else on the local Docker engine.
	scripts/stack-up

.PHONY: down
down: venv ## Stop the local stack; data volumes are kept.
	scripts/stack-down

.PHONY: clean
clean: venv ## Remove the local stack and its data volumes, keeping the backups (asks first; FORCE=1 does not ask; BACKUPS=delete removes them too).
	scripts/stack-clean

.PHONY: backup
backup: venv ## Back up the local stack now (databases, then the SFTP store), as the nightly backup CronJob does.
	scripts/stack-backup

.PHONY: restore
restore: venv ## Restore a backup (SNAPSHOT=latest or an ID): stops MLflow, Prefect and SFTP, restores databases and files, starts them.
	scripts/stack-restore

.PHONY: kind-up
kind-up: images tools ## Create a kind cluster with the images loaded and the chart installed.
	scripts/kind-up

## ---- checks
.PHONY: lint
lint: venv tools ## ruff, helm lint --strict and the CI file schema.
	$(VENV)/bin/ruff check src tests scripts bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	helm lint --strict charts/mlops-stack
	$(VENV)/bin/ruff check charts/mlops-stack/files

.PHONY: docs
docs: venv ## Regenerate the chart README's values table and example values (tests/unit/chart/test_readme.py checks them).
	$(PYTHON) tests/unit/chart/values_doc.py --write

.PHONY: test
test: host-deps venv tools images lint ## Every test: chart, CLI, images, SFTP store, whole stack (kind tests skip without kind).
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests

.PHONY: test-unit
test-unit: venv tools ## Chart rendering and CLI tests only.
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit

.PHONY: test-images
test-images: venv images ## Image and SFTP store tests (real containers).
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/images

.PHONY: test-stack
test-stack: venv tools images ## End-to-end: the whole stack from the rendered chart, a real client workflow.
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/workflow -m stack

.PHONY: test-kind
test-kind: venv tools ## The same workflow suite on a kind cluster (needs KUBECONFIG pointing at it).
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/workflow -m "not stack"

.PHONY: bench
bench: venv images ## Artifact store benchmark (prints a table).
	$(PYTHON) bench/artifacts
