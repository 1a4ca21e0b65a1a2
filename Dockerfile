# wpam release build image: the same `make` targets as on a Debian 12 host,
# with every tool pinned. Used by ./build-all.sh when a Docker engine answers:
#   docker build -t wpam-build . && docker run --rm -v "$PWD:/src" wpam-build
# Base: Debian 12 at the dated tag matching the apt snapshot (2025-05-20).
FROM debian:bookworm-20250520-slim

ARG RUST_VERSION=1.95.0
# The OpenBSD target is tier 3 (-Zbuild-std): a dated nightly, not "nightly".
ARG RUST_NIGHTLY=nightly-2026-10-29
ARG RUSTUP_VERSION=1.28.2

ENV DEBIAN_FRONTEND=noninteractive \
    RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    WPAM_NIGHTLY=${RUST_NIGHTLY} \
    PIP_BREAK_SYSTEM_PACKAGES=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian packages: the list lives in ci/install-deps.sh (one source of truth);
# versions are fixed by the dated base image's bookworm snapshot.
COPY ci/install-deps.sh /tmp/ci/install-deps.sh
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl make gcc libc6-dev python3 \
 && /tmp/ci/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*

# Rust: pinned rustup-init, stable and the dated nightly (+ rust-src).
RUN curl --proto '=https' --tlsv1.2 -sSf \
      "https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init" \
      -o /tmp/rustup-init \
 && chmod 0755 /tmp/rustup-init \
 && /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain "${RUST_VERSION}" \
 && rm /tmp/rustup-init \
 && rustup toolchain link stable "${RUSTUP_HOME}/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu"

# zig, cargo-zigbuild, hadolint (PyPI), cargo-deb, cargo-generate-rpm
# (crates.io), rustup targets: ci/setup-cross.sh pins every version.
# (+ cargo-auditable, pinned in ci/cargo-tools.sh, which setup-cross.sh runs)
COPY ci/setup-cross.sh ci/cargo-tools.sh /tmp/ci/
RUN /tmp/ci/setup-cross.sh && rm -rf /tmp/ci "${CARGO_HOME}/registry"

WORKDIR /src
CMD ["./build-all.sh", "--no-docker", "--no-setup"]
