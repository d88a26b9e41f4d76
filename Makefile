# Every task a person runs. `make help` lists them.
SERVICES := auth cotos cotonomas mailer
PYTHON := .venv/bin/python
PYTEST := $(PYTHON) -m pytest -p no:cacheprovider --timeout=300

.DEFAULT_GOAL := help
.PHONY: help install up down status logs test test-common test-e2e $(addprefix test-,$(SERVICES))

help: ## list the targets
	@grep -hE '^[a-zA-Z%_ -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/: .*## /\t/' | expand -t 18

install: ## install what the stack needs (venv, nginx, maildev), skipping what is there
	@tools/install.sh

up: install ## start everything on this machine; web at http://127.0.0.1:8000
	@$(PYTHON) tools/stack.py up

down: ## stop everything `make up` started
	@if [ -x $(PYTHON) ]; then $(PYTHON) tools/stack.py down; fi

status: ## what runs and whether it is ready
	@$(PYTHON) tools/stack.py status

logs: ## follow every process's log
	@$(PYTHON) tools/stack.py logs

test: ## run every test: each service's, then end to end and in a browser
	@tools/install.sh --tests
	@$(PYTHON) tools/stack.py backing
	@$(MAKE) --no-print-directory test-common $(addprefix test-,$(SERVICES)) test-e2e

test-common: ## the shared package's tests
	cd services/common && ../../$(PYTEST) tests

test-auth test-cotos test-cotonomas test-mailer: test-%: ## one service's tests alone
	cd services/$* && ../../$(PYTEST) tests

test-e2e: ## through the gateway of a stack the tests start, with a real browser
	$(PYTEST) tests
