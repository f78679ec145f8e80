# syntax=docker/dockerfile:1
#
# study-mode-api container image.
#
# Two stages so the shipped image holds only the stripped release binary on
# top of distroless/cc (glibc + libgcc + CA certificates, ~25 MB, no shell):
# target image size is under 100 MB.
#
#   docker build -t study-mode-api .
#   docker run --rm -p 8000:8000 study-mode-api
#
# Needs BuildKit (the default builder since Docker 23) for the RUN cache mounts.

ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS builder

# Nothing is apt-installed: TLS is rustls + ring and SQLite is bundled by
# sqlx, so the gcc + libc6-dev that the slim image already ships are enough.
# (No OpenSSL, no pkg-config.)
WORKDIR /build

# Dependencies are compiled against a stub crate first so that this layer is
# invalidated only by Cargo.toml / Cargo.lock, not by every source edit.
# The compiled deps stay in this layer's target/ on purpose (no cache mount on
# target/): layers survive `--cache-to/--cache-from` exports in CI, cache mounts
# do not, and mounting over target/ later would hide these prebuilt deps.
# The registry *is* a cache mount, so a lockfile bump re-downloads only the
# crates that changed.
# Cargo.toml declares bench targets; their files must exist for the manifest to load, so the
# stub build creates empty ones too.
COPY Cargo.toml Cargo.lock ./
# apalis's queue backends check their SQL at build time from bundled data: never online.
ENV SQLX_OFFLINE=true
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    set -eux; \
    mkdir -p src benches/load; \
    printf '#![forbid(unsafe_code)]\n' > src/lib.rs; \
    printf 'fn main() {}\n' > src/main.rs; \
    printf 'fn main() {}\n' > benches/turns.rs; \
    printf 'fn main() {}\n' > benches/lessons.rs; \
    printf 'fn main() {}\n' > benches/limiter.rs; \
    printf 'fn main() {}\n' > benches/auth.rs; \
    printf 'fn main() {}\n' > benches/progress.rs; \
    printf 'fn main() {}\n' > benches/sync.rs; \
    printf 'fn main() {}\n' > benches/load/main.rs; \
    cargo build --release --locked; \
    rm -rf src benches

# Real sources (migrations live under src/). openapi/ is not needed to build
# the binary; the wildcard makes this COPY a no-op instead of an error when the
# folder is absent (git does not track empty directories).
COPY src ./src
COPY benches ./benches
COPY openapi* ./openapi/

# COPY preserves the build context's mtimes, which can be older than the stub
# build's fingerprints; touching the crate roots forces cargo to recompile our
# crate instead of shipping the stub.
# The binary is copied to /out so nothing downstream depends on target/.
# /out/data becomes the writable SQLite directory in the runtime image
# (distroless has no shell to mkdir/chown there).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    set -eux; \
    touch src/lib.rs src/main.rs; \
    cargo build --release --locked; \
    install -D -m 0755 target/release/study-mode-api /out/study-mode-api; \
    mkdir -p /out/data

# ---------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------
# Same Debian release (bookworm / 12) as the builder, so the glibc the binary
# was linked against is the one it runs on.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="study-mode-api" \
      org.opencontainers.image.description="Production backend of the Study Mode Socratic AI tutor (ChatKit protocol)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

WORKDIR /app

# Binary stays root-owned (read/execute only for the service user).
COPY --from=builder /out/study-mode-api /usr/local/bin/study-mode-api

# Production's default DATABASE_URL is ./data/study-mode.sqlite relative to
# /app, so the directory must exist and be writable by nonroot (65532).
COPY --from=builder --chown=65532:65532 /out/data /app/data

# The allocator (mimalloc) reads its options from the environment before main: commit arena
# memory on first touch instead of up front, and hand freed pages back at once. Together they
# keep idle RSS at glibc's level and an open stream's share of RSS lower (docs/benchmarks.md,
# issue 19).
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MIMALLOC_ARENA_EAGER_COMMIT=0 \
    MIMALLOC_PURGE_DELAY=0

EXPOSE 8000

# nonroot:nonroot, written numerically so Kubernetes `runAsNonRoot` can verify
# it without resolving /etc/passwd.
USER 65532:65532

# No shell or curl in distroless: the binary probes its own /health endpoint
# (http://127.0.0.1:$PORT/health) and exits 0/1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/study-mode-api", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/study-mode-api"]
CMD ["serve"]
