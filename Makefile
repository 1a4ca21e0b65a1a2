# wpam — every entry point an admin or CI uses. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help deps build demo test test-unit bench clean

help: ## this list
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

deps: ## install the Debian packages the build and tests need (apt-get, as root)
	@ci/install-deps.sh

build: deps ## release build of the module: target/release/libpam_wpam.so
	$(CARGO) build --release --locked

demo: deps ## the main job: the module against the bundled development Werbot API, through real libpam
	$(CARGO) build --release --locked --lib
	$(CARGO) run --release --locked --example demo

test-unit: deps ## unit and libpam integration tests (no root needed)
	$(CARGO) test --locked

test: deps test-unit ## every test this machine can run
	@echo "make test: all suites passed"

clean: ## remove build outputs
	$(CARGO) clean
	rm -rf dist build
