# wpam — every entry point an admin or CI uses. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The test runner of test-unit and test-e2e (per-test time limits in
# .config/nextest.toml); `make nextest` installs this version when missing.
NEXTEST_VERSION := 0.9.143
# Where `cargo install` puts tools when CI keeps them apart (ci/hosted/ci.sh does the same).
ifneq ($(CARGO_INSTALL_ROOT),)
export PATH := $(CARGO_INSTALL_ROOT)/bin:$(PATH)
endif

.PHONY: help deps deps-build build demo install bench clean test test-unit lint-rust lint-ci

help: ## this list
	@awk '/^##@ / { printf "\n%s\n", substr($$0, 5); next } /^[a-zA-Z0-9_.-]+:.*## / { split($$0, a, /:.*## /); printf "  %-22s %s\n", a[1], a[2] }' $(MAKEFILE_LIST)

##@ Use: build, try and install the module

deps: ## install the Debian packages the build and tests need (apt-get, as root), and the pinned Rust (rust-toolchain.toml)
	@ci/install-deps.sh
	@ci/build/rust-toolchain.sh ensure

deps-build: ## only what building the module and `make demo` need (libpam0g-dev, ...)
	@ci/install-deps.sh build
	@ci/build/rust-toolchain.sh ensure

build: deps-build ## release build of the module and the wpam command: target/release/libpam_wpam.so, wpam
	$(CARGO) build --release --locked

demo: deps-build ## the main job: the module against the bundled development Werbot API, through real libpam
	$(CARGO) build --release --locked --lib
	$(CARGO) run --config "target.'cfg(all())'.runner='tests/support/with-test-users.sh'" --release --locked --example demo

install: ## install the built module and the wpam command (make build) into this system's PAM dir and /usr/bin, + /var/log/wpam.log; honours DESTDIR
	@test -f target/release/libpam_wpam.so -o -f target/release/login_-wpam || { echo "run 'make build' first" >&2; exit 1; }
	MODULE=target/release/libpam_wpam.so LOGIN_STYLE=target/release/login_-wpam \
		WPAM_BIN=target/release/wpam MANPAGE=packaging/man/pam_wpam.8 \
		WPAM_MANPAGE=packaging/man/wpam.8 DESTDIR="$(DESTDIR)" packaging/common/install.sh

bench: deps ## benchmark, not a test: module vs bare HTTPS, dlopen, RSS, size, SSH logins/s (table; target/bench.json)
	$(CARGO) build --release --locked --lib
	$(CARGO) build --release --locked --example bench
	tests/support/with-test-users.sh ./target/release/examples/bench

##@ Test (`make test` runs them all; ci/test/)

# The root suites (sshd, su, DNS) run once, in test-dist, against the module
# that ships; test-e2e runs them against the debug build while developing.
test: deps lint-rust lint-ci test-unit demo test-packages test-roots test-selinux test-dist test-reproducible release-dry-run test-ansible test-bsd test-macos ## every test this machine can run
	@echo "make test: all suites passed"

# The test targets run one after another even under `make -j`: the e2e tests
# measure time and add users, and must not share the machine with builds.
.NOTPARALLEL:

lint-rust: ## cargo fmt --check and clippy -D warnings over every target
	@command -v rustup >/dev/null && rustup component add clippy rustfmt >/dev/null 2>&1 || true
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

lint-ci: ## actionlint (+ shellcheck of run: blocks) over the workflows, hadolint over the Dockerfile, shellcheck over every script, ci/test/scripts.sh
	ci/test/lint.sh

test-unit: deps-build nextest ## unit and libpam integration tests (no root needed), each under a time limit (cargo-nextest)
	$(CARGO) nextest run --locked
	$(CARGO) test --locked --doc

.PHONY: test-e2e
test-e2e: deps nextest ## as root: real sshd + ssh client, the setuid su attacks, a nameserver of our own (skips otherwise, fails under CI=true)
	@[ "$$(id -u)" = 0 ] || echo "test-e2e: not root, the end-to-end tests skip themselves (under CI=true they fail)"
	$(CARGO) nextest run --locked --test e2e_sshd --test su --test dns --run-ignored ignored-only --test-threads 1

.PHONY: test-dist
# WPAM_DIST: another dist/ tree, e.g. the release build's artifacts (release.yml).
WPAM_DIST ?= $(CURDIR)/dist
test-dist: deps nextest ## the libpam and lifecycle suites (and that they fail with pam_deny.so / pam_permit.so in its place) and, as root, the setuid su attacks, DNS and the real sshd against the module that ships (dist/linux-amd64/pam_wpam.so, release profile)
	@test -f $(WPAM_DIST)/linux-amd64/pam_wpam.so || { echo "test-dist: no $(WPAM_DIST)/linux-amd64/pam_wpam.so (make build-linux)" >&2; exit 1; }
	WPAM_TEST_MODULE=$(WPAM_DIST)/linux-amd64/pam_wpam.so $(CARGO) nextest run --locked --test pam --test lifecycle
	@# Those suites prove something only if they fail with another module
	@# in wpam's place: pam_deny.so and pam_permit.so.
	ci/test/vacuity-check.sh
	WPAM_TEST_MODULE=$(WPAM_DIST)/linux-amd64/pam_wpam.so $(CARGO) nextest run --locked --test su --test dns --test e2e_sshd --run-ignored ignored-only --test-threads 1
	@# The panic guard on the release profile: the same build with the test
	@# trigger kept (feature test-panic-trigger), which dist/ must not have.
	@grep -A12 '^\[profile.release\]' Cargo.toml | grep -qx 'panic = "unwind"' || { echo 'test-dist: [profile.release] must say panic = "unwind" (the guard catches panics)' >&2; exit 1; }
	@! grep -q 'panic=abort' ci/build/build-target.sh build-all.sh .cargo/config.toml 2>/dev/null || { echo "test-dist: a build script sets panic=abort" >&2; exit 1; }
	@! grep -qa 'debug_panic=1' $(WPAM_DIST)/linux-amd64/pam_wpam.so || { echo "test-dist: the shipped module keeps the debug_panic trigger" >&2; exit 1; }
	$(CARGO) build --release --locked --lib --features test-panic-trigger --target-dir target/panic-trigger
	WPAM_REQUIRE_PANIC_TRIGGER=1 WPAM_TEST_MODULE=$(CURDIR)/target/panic-trigger/release/libpam_wpam.so $(CARGO) nextest run --locked --test pam -E 'test(a_panic_is_system_err_and_prints_nothing_on_stderr)'

.PHONY: test-roots
test-roots: deps nextest ## as root: the e2e sshd suite in a Debian 13 root (OpenSSH 10), pamtester in an arm64 Debian 12 root (qemu) and in an amd64 Debian 12 root without merged /usr (the module named without a path), each with the .deb apt-installed (ci/test/roots.sh)
	ci/test/roots.sh

test-packages: deps ## package checks: lintian, rpmlint, layouts, apt install in a debootstrap root, rpm --root, ELF checks
	ci/test/packages.sh

# --- SELinux (ci/test/selinux.sh; the Fedora/Rocky jobs are ci.yml's selinux-rpm) --
.PHONY: test-selinux
test-selinux: deps ## the SELinux policy module linked into Debian's reference policy in a scratch store: exact rules (sesearch), booleans, labels, with and without sshd_session_t
	ci/test/selinux.sh

# --- the Ansible role (deploy/ansible/, ci/test/ansible.sh) ------------------
.PHONY: test-ansible
test-ansible: deps ## as root: ansible-lint, then the role for real against Debian 12 and 13 debootstrap roots (signed APT repo of release-dry-run, sshd logins, idempotence, rollback)
	ci/test/ansible.sh

# --- macOS (ci/test/macos.sh; the hosted macos job of .github/workflows/ci.yml)
.PHONY: test-macos
test-macos: deps ## the universal macOS module and command read as dyld reads them (slices, exports, dylibs, code signature); lints ci/hosted/macos.sh
	ci/test/macos.sh

# --- the BSDs (ci/test/bsd.sh; the VM jobs are .github/workflows/bsd.yml) -----
.PHONY: test-bsd
test-bsd: deps ## OpenPAM constants, BSD ELF checks, FreeBSD/NetBSD/OpenBSD package formats, login_-wpam protocol; lints bsd.yml and ci/hosted/bsd-vm-*.sh
	ci/test/bsd.sh

.PHONY: test-reproducible
test-reproducible: deps ## the reproducible-check for linux-amd64 (module, wpam, .deb, .rpm, tarball, SHA256SUMS): two builds of HEAD in two directories, byte-compared (ci.yml's reproducible jobs: every target)
	ci/test/reproducible.sh linux-amd64

##@ Build and package (build-all.sh, ci/build/, packaging/)

.PHONY: build-linux build-linux-arm64 build-freebsd build-openbsd build-netbsd build-all \
	deb rpm dist reproducible-check test-packages

build-linux: deps ## linux-amd64 module, glibc 2.17 floor (zig): dist/linux-amd64/pam_wpam.so
	@ci/build/setup-cross.sh
	ci/build/build-target.sh linux-amd64

build-linux-arm64: deps ## linux-arm64 module, glibc 2.17 floor (zig): dist/linux-arm64/pam_wpam.so
	@ci/build/setup-cross.sh
	ci/build/build-target.sh linux-arm64

build-freebsd: deps ## FreeBSD amd64 module: dist/freebsd-amd64/pam_wpam.so
	@ci/build/setup-cross.sh
	ci/build/build-target.sh freebsd-amd64

build-netbsd: deps ## NetBSD amd64 module: dist/netbsd-amd64/pam_wpam.so
	@ci/build/setup-cross.sh
	ci/build/build-target.sh netbsd-amd64

build-openbsd: deps ## OpenBSD amd64 login_-wpam (nightly -Zbuild-std): dist/openbsd-amd64/
	@ci/build/setup-cross.sh
	ci/build/build-target.sh openbsd-amd64

build-all: deps ## every target, .deb/.rpm, tarballs, SHA256SUMS into dist/ + summary table
	./build-all.sh

dist: build-all ## release artifacts in dist/ (same as build-all)

deb: deps ## .deb for amd64 and arm64 (cargo-deb) into dist/
	@ci/build/setup-cross.sh
	ci/build/build-target.sh linux-amd64 && packaging/linux.sh amd64 deb
	ci/build/build-target.sh linux-arm64 && packaging/linux.sh arm64 deb

rpm: deps ## .rpm for x86_64 and aarch64 (rpmbuild, packaging/rpm/wpam.spec.in, gzip payload) into dist/
	@ci/build/setup-cross.sh
	ci/build/build-target.sh linux-amd64 && packaging/linux.sh amd64 rpm
	ci/build/build-target.sh linux-arm64 && packaging/linux.sh arm64 rpm

reproducible-check: deps ## build twice in two directories and compare modules, .deb, .rpm, tarballs byte for byte (all six targets; REPRO_TARGETS=... for fewer)
	ci/test/reproducible.sh $(REPRO_TARGETS)

##@ Release (ci/release/)

.PHONY: release-dry-run

release-dry-run: deps ## the release job minus publishing (throwaway key), then it verifies its output; reuses dist/, builds it if incomplete
	ci/release/release.sh --dry-run

##@ Long runs, not part of `make test`

# --- mutation testing (cargo-mutants, .cargo/mutants.toml) -------------------
# Not part of `make test` (hours on 2 cores): ci.yml's mutants jobs run it in
# shards. MUTANTS_SHARD=k/n runs one shard; MUTANTS_ARGS adds options.
.PHONY: mutants
mutants: deps nextest ## mutation testing of the decision core against the unit and libpam suites; fails on a survivor that mutants/accepted.txt does not explain (ci/test/mutants.sh)
	ci/test/mutants.sh $(if $(MUTANTS_SHARD),--shard $(MUTANTS_SHARD)) $(MUTANTS_ARGS)

# --- fuzzing (fuzz/, cargo-fuzz + libFuzzer) ----------------------------------
# Not part of `make test` (a minute per target); ci.yml's `fuzz` job runs it.
# The stable replay of fuzz/corpus and fuzz/regressions is tests/fuzz_corpus.rs,
# which `make test` runs. libFuzzer's sanitizer flags need a nightly: the dated
# one of the OpenBSD build (WPAM_NIGHTLY in ci/build/setup-cross.sh).
.PHONY: fuzz
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECONDS ?= 60
FUZZ_NIGHTLY ?= $(shell sed -n 's/^WPAM_NIGHTLY=$${WPAM_NIGHTLY:-\(nightly-[0-9-]*\)}$$/\1/p' ci/build/setup-cross.sh)
FUZZ_TARGETS := wire config input pamstack bsdauth connect_answer
fuzz: deps-build ## each fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS (default 60) from the checked-in corpus; fails on a crash, a panic, a hang (5 s) or OOM (cargo-fuzz, pinned)
	@test -n "$(FUZZ_NIGHTLY)" || { echo "fuzz: no WPAM_NIGHTLY in ci/build/setup-cross.sh" >&2; exit 1; }
	@rustup run $(FUZZ_NIGHTLY) rustc --version >/dev/null 2>&1 || rustup toolchain install $(FUZZ_NIGHTLY) --profile minimal
	@$(CARGO) fuzz --version 2>/dev/null | grep -qx 'cargo-fuzz $(CARGO_FUZZ_VERSION)' || { \
		echo "fuzz: installing cargo-fuzz $(CARGO_FUZZ_VERSION) (cargo install --locked)"; \
		$(CARGO) install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION); }
	$(CARGO) +$(FUZZ_NIGHTLY) fuzz build
	@# libFuzzer adds what it finds to its first corpus directory: a copy, so
	@# that fuzz/corpus stays the seeds. A crash is saved under fuzz/artifacts/.
	@set -e; for t in $(FUZZ_TARGETS); do \
		run=fuzz/target/run-corpus/$$t; rm -rf "$$run"; mkdir -p "$$run"; \
		seeds=(fuzz/corpus/$$t); [ ! -d fuzz/regressions/$$t ] || seeds+=(fuzz/regressions/$$t); \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(CARGO) +$(FUZZ_NIGHTLY) fuzz run $$t "$$run" "$${seeds[@]}" -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
			|| { echo "fuzz: $$t FAILED: the input is in fuzz/artifacts/$$t/; fix, then add it to fuzz/regressions/$$t/" >&2; exit 1; }; \
	done
	@echo "fuzz: every target ran $(FUZZ_SECONDS) s without a crash"

# --- CI on a brand-new machine (ci/test/fresh-root.sh, docs/fresh-root.md) -------
# Not part of `make test`: it runs `make test` itself, in another root.
.PHONY: ci-fresh-root
ci-fresh-root: ## as root: `.ci/run` in a new Debian 12 root with only a new CI machine's packages and toolchain (COMMIT=..., default HEAD; 30-60 min; docs/fresh-root.md)
	ci/test/fresh-root.sh $(COMMIT)

##@ Maintenance

.PHONY: nextest
nextest: ## cargo-nextest (pinned, cargo install --locked) unless `cargo nextest` already runs
	@$(CARGO) nextest --version >/dev/null 2>&1 || { \
		echo "nextest: installing cargo-nextest $(NEXTEST_VERSION) (cargo install --locked)"; \
		$(CARGO) install --locked cargo-nextest --version $(NEXTEST_VERSION); }

clean: ## remove build outputs
	$(CARGO) clean
	rm -rf dist build
