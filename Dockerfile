# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a minimal image with only the binary,
# the default rules and the example configuration. (Not buildable on the development machine,
# which has no Docker engine; checked by reading.)

FROM rust:1.95-bookworm AS build
# The shipped binary is the profile-guided build (scripts/build-pgo.sh): an instrumented build
# trained on loopback with OWASP CRS and varied traffic, then rebuilt with the profile —
# about a fifth less CPU per WAF-inspected request than the plain release build.
ARG CRS_VERSION=4.28.0
RUN rustup component add llvm-tools \
 && mkdir -p /opt/crs \
 && curl -fsSL "https://github.com/coreruleset/coreruleset/archive/refs/tags/v${CRS_VERSION}.tar.gz" \
    | tar -xz -C /opt/crs --strip-components=1
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY benches ./benches
COPY third_party ./third_party
COPY config ./config
COPY scripts/build-pgo.sh ./scripts/
RUN CRS_DIR=/opt/crs scripts/build-pgo.sh \
 && strip target/pgo/portcullis

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/pgo/portcullis /usr/local/bin/portcullis
# deploy/25-configmap.yaml (mounted at /etc/portcullis/kube) finds the rules here through
# `waf.builtin_dir: ../rules`; crates/portcullis/tests/deploy_config.rs checks the two agree.
COPY rules /etc/portcullis/rules
COPY config /etc/portcullis/config
USER 65532:65532
EXPOSE 8080 8443 9180
ENTRYPOINT ["/usr/local/bin/portcullis"]
# The example config binds loopback (for a laptop); in a container listen on all interfaces.
# In Kubernetes the Deployment in deploy/ overrides these args: kube mode, with the config file
# of the ConfigMap in deploy/25-configmap.yaml.
CMD ["run", "--config", "/etc/portcullis/config/portcullis.yaml", "--manifests", "/etc/portcullis/config/manifests", \
     "--http-addr", "0.0.0.0:8080", "--https-addr", "0.0.0.0:8443", "--admin-addr", "0.0.0.0:9180"]
