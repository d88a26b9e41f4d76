# Every task a person runs. `make help` lists them.
SERVICES := auth cotos cotonomas mailer live graph archive
# The services with a database of their own, hence migrations (live reads Redis streams only).
MIGRATED := auth cotos cotonomas mailer graph archive
PYTHON := .venv/bin/python
PYTEST := $(PYTHON) -m pytest -p no:cacheprovider --timeout=300

.DEFAULT_GOAL := help
# `make up REPLICAS=2`: instances of each service (default: as running, else 1).
REPLICAS ?=
# `make up IMAGES=1`: each service and the gateway run from its image (`make images`) with podman.
IMAGES_ON = $(filter 1 yes true,$(IMAGES))

.PHONY: help install images test-images up down restart status logs backup restore test test-common test-e2e bench lint lint-python lint-web $(addprefix test-,$(SERVICES)) \
	$(addprefix rollout-,$(SERVICES))

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9%_ -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/: .*## /\t/' | expand -t 18

install: ## install what the stack needs (venv, nginx, maildev), skipping what is there
	@tools/install.sh

up: install ## start everything on this machine; web at http://127.0.0.1:8000 (REPLICAS=2: two of each service; IMAGES=1: from the images, with podman)
	@$(if $(IMAGES_ON),tools/install.sh --images && tools/images.sh $(SERVICES) gateway)
	@$(PYTHON) -m cotoami_stack up $(if $(REPLICAS),--replicas $(REPLICAS)) $(if $(IMAGES_ON),--images)

images: ## build every service's and the gateway's image with podman (bases pulled, else made from Debian's packages)
	@tools/install.sh --images
	@tools/images.sh $(SERVICES) gateway

down: ## stop everything `make up` started
	@if [ -x $(PYTHON) ]; then $(PYTHON) -m cotoami_stack down; fi

restart: ## run changed service code: migrate, then restart the services (all at once)
	@$(PYTHON) -m cotoami_stack restart

rollout-auth rollout-cotos rollout-cotonomas rollout-mailer rollout-live rollout-graph rollout-archive: rollout-%: ## replace one service's processes with new code, one instance at a time, no request lost
	@$(PYTHON) -m cotoami_stack rollout $*

status: ## what runs and whether it is ready
	@$(PYTHON) -m cotoami_stack status

logs: ## follow every process's log
	@$(PYTHON) -m cotoami_stack logs

backup: ## every service's database with pg_dump into backups/<UTC time>/ (a manifest with checksums beside)
	@$(PYTHON) -m cotoami_stack backup

# `make restore FROM=backups/2026-12-07T212600Z`; without FROM, the newest backup.
FROM ?=

restore: ## replace every service's database with a backup's (FROM=folder, default the newest); what was there is backed up first
	@$(PYTHON) -m cotoami_stack restore $(if $(FROM),--from $(FROM))

# mypy runs once per service (their tests/ folders would otherwise clash by module name);
# app code is checked strictly, tests with untyped test functions allowed.
MYPY := $(CURDIR)/.venv/bin/mypy --config-file $(CURDIR)/pyproject.toml
MYPY_TESTS := --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls
PYTHON_PACKAGES := common:cotoami_common auth:auth cotos:cotos cotonomas:cotonomas mailer:mailer live:live graph:graph archive:archive

lint: lint-python lint-web ## every linter and type check: ruff, mypy, and the web client's tsc and ESLint

lint-python: install ## ruff (lint and format check) and mypy over the Python
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	@set -e; for entry in $(PYTHON_PACKAGES); do dir=services/$${entry%%:*}; package=$${entry##*:}; \
	  echo "mypy $$dir"; (cd $$dir && $(MYPY) $$package && $(MYPY) $(MYPY_TESTS) tests); done
	cd services/testing && $(MYPY) cotoami_testing
	$(MYPY) tools/cotoami_stack bench
	$(MYPY) $(MYPY_TESTS) tests

lint-web: install ## the web client's type check (tsc) and ESLint
	node_modules/.bin/tsc --noEmit -p gateway/tsconfig.json
	node_modules/.bin/eslint gateway/web eslint.config.js

test: ## run every test: each service's, then end to end and in a browser
	@tools/install.sh --tests
	@$(PYTHON) -m cotoami_stack backing
	@$(MAKE) --no-print-directory test-common $(addprefix test-,$(SERVICES)) test-e2e test-images

test-common: ## the shared package's tests
	cd services/common && ../../$(PYTEST) tests

test-auth test-cotos test-cotonomas test-mailer test-live test-graph test-archive: test-%: ## one service's tests alone
	cd services/$* && ../../$(PYTEST) tests

test-e2e: ## through the gateway of a stack the tests start, with a real browser
	$(PYTEST) tests --ignore=tests/images

test-images: images ## the stack run from the images, and the manifests played with podman (tests/images)
	$(PYTEST) tests/images

# `make bench QUICK=1`: a tenth of the data and short runs, a minute or two (see BENCHMARKS.md).
QUICK ?=

bench: ## seed a stack of its own with a million cotos, load it through its gateway with wrk, write BENCHMARKS.md (QUICK=1: a minute or two)
	@tools/install.sh --bench
	@$(PYTHON) bench/run.py $(if $(filter 1 yes true,$(QUICK)),--quick)

# --- Delivery: images and Kubernetes (README, "Operations") -------------------
# Each target prints every command before running it; DRY_RUN=1 prints only.
IMAGES := $(SERVICES) gateway
VERSION := 0.1.0
REGISTRY ?= cotoami
OVERLAY ?= minikube
NAMESPACE := cotoami
KUBECTL ?= kubectl
ROLLOUT_TIMEOUT ?= 300s
MIGRATE_TIMEOUT ?= 300s
DRY := $(filter 1 yes true,$(DRY_RUN))
IMAGE_TAG = $(or $(TAG),$(VERSION))
# Services are built from services/ (they share services/common), the gateway from gateway/.
context = $(if $(filter gateway,$(1)),gateway,services)
dockerfile = $(if $(filter gateway,$(1)),gateway/Dockerfile,services/$(1)/Dockerfile)

# $(call run,COMMAND): print COMMAND, then run it unless DRY_RUN=1.
define run
@echo '$(1)'
$(if $(DRY),,@$(1))
endef

# $(call migrate,SVC): run SVC's migration Job from the overlay, with the new image, to completion
# (k8s/migration_job.py picks that Job out of the render with PyYAML, from the dev venv).
define migrate
$(call run,$(KUBECTL) -n $(NAMESPACE) delete job $(1)-migrate --ignore-not-found)
$(call run,$(KUBECTL) kustomize k8s/overlays/$(OVERLAY) | $(PYTHON) k8s/migration_job.py $(1) $(REGISTRY)/$(1):$(TAG) | $(KUBECTL) apply -f -)
$(call run,$(KUBECTL) -n $(NAMESPACE) wait --for=condition=complete job/$(1)-migrate --timeout=$(MIGRATE_TIMEOUT))
endef

.PHONY: all-in-one build-all push-all $(foreach t,build push deploy rollback,$(addprefix $(t)-,$(IMAGES)))

all-in-one: ## render the minikube overlay into k8s/all-in-one.yaml (commit it)
	$(call run,$(KUBECTL) kustomize k8s/overlays/minikube > k8s/all-in-one.yaml)

build-all: $(addprefix build-,$(IMAGES)) ## build every image

push-all: $(addprefix push-,$(IMAGES)) ## push every image

build-auth build-cotos build-cotonomas build-mailer build-live build-graph build-archive build-gateway: build-%: ## build one image: REGISTRY/SVC:TAG (TAG defaults to VERSION)
	$(call run,docker build -f $(call dockerfile,$*) -t $(REGISTRY)/$*:$(IMAGE_TAG) $(call context,$*))

push-auth push-cotos push-cotonomas push-mailer push-live push-graph push-archive push-gateway: push-%: ## push one image to REGISTRY
	$(call run,docker push $(REGISTRY)/$*:$(IMAGE_TAG))

# pipefail: a failed render must stop the migration, not apply nothing.
$(addprefix deploy-,$(IMAGES)): SHELL := /bin/bash
$(addprefix deploy-,$(IMAGES)): .SHELLFLAGS := -o pipefail -c
deploy-auth deploy-cotos deploy-cotonomas deploy-mailer deploy-live deploy-graph deploy-archive deploy-gateway: deploy-%: ## TAG=x.y.z: migrate (if it has a database), then roll out that one service (OVERLAY=minikube|production)
	$(if $(TAG),,$(error deploy-$*: TAG is required, as in make deploy-$* TAG=$(VERSION)))
	$(if $(filter $*,$(MIGRATED)),$(call migrate,$*))
	$(call run,$(KUBECTL) -n $(NAMESPACE) set image deployment/$* $*=$(REGISTRY)/$*:$(TAG))
	$(call run,$(KUBECTL) -n $(NAMESPACE) rollout status deployment/$* --timeout=$(ROLLOUT_TIMEOUT))

rollback-auth rollback-cotos rollback-cotonomas rollback-mailer rollback-live rollback-graph rollback-archive rollback-gateway: rollback-%: ## roll that one service back to its previous image
	$(call run,$(KUBECTL) -n $(NAMESPACE) rollout undo deployment/$*)
	$(call run,$(KUBECTL) -n $(NAMESPACE) rollout status deployment/$* --timeout=$(ROLLOUT_TIMEOUT))
