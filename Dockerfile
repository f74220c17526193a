# syntax=docker/dockerfile:1
#
# The Caldera scheduler image: one static binary on a distroless base, running as non-root.
#
#   docker build -t caldera:0.1.0 .
#
# On an arm64 machine, build natively with
#   docker build --build-arg RUST_TARGET=aarch64-unknown-linux-musl -t caldera:0.1.0 .
# The cache mounts below need BuildKit (the default builder of current Docker; podman and
# buildah support them too).

# ---- build: a fully static binary (musl, no dynamic loader, no libc needed at run time) ----
FROM rust:1-bookworm AS build
ARG RUST_TARGET=x86_64-unknown-linux-musl
# musl-gcc compiles the C and assembly parts of `ring` (TLS) and mimalloc (the allocator; musl's own
# is far slower) for the musl target.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add "${RUST_TARGET}"
WORKDIR /src
COPY . .
# --locked: build exactly what Cargo.lock pins. The registry and target directories are cache
# mounts, so a rebuild after a source change does not recompile every dependency; the binary is
# copied out of the cached target directory in the same step. The release profile keeps line
# tables for profiling; the image does without them (about 100 MB less) but keeps the symbols,
# so a backtrace still names functions.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p caldera --target "${RUST_TARGET}" \
 && mkdir -p /out \
 && strip --strip-debug -o /out/caldera "target/${RUST_TARGET}/release/caldera" \
 && chmod 0755 /out/caldera \
 && if readelf -l /out/caldera | grep -q 'program interpreter'; then \
      echo "caldera is dynamically linked; the runtime image has no libc" >&2; exit 1; \
    fi \
 && /out/caldera --version

# ---- runtime: nothing but the binary (plus CA certificates and a passwd entry for nonroot) ----
FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="caldera" \
      org.opencontainers.image.description="Caldera, a gang scheduler for Kubernetes compatible with Volcano" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/caldera /caldera
# 65532 is distroless's "nonroot"; manifests/deployment.yaml runs with the same id.
USER 65532:65532
# The admin server: /healthz, /readyz, /metrics, /debug/snapshot.
EXPOSE 8080
ENTRYPOINT ["/caldera"]
CMD ["run"]
