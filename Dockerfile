# The headless API server, without the desktop workbench (no GUI libraries).
#   docker build -t keystroke-workbench .
#   docker run -p 5000:5000 -v kw-models:/data/user_models keystroke-workbench

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY vendor vendor
COPY crates crates
COPY src src
COPY benches benches
COPY examples examples
RUN cargo build --release --locked --no-default-features --bin keystroke-workbench

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home kw \
    && mkdir -p /data/user_models \
    && chown -R kw:kw /data
COPY --from=build /src/target/release/keystroke-workbench /usr/local/bin/keystroke-workbench
USER 10001:10001
WORKDIR /data
ENV KW_HOST=0.0.0.0 \
    KW_PORT=5000 \
    KW_MODELS_DIR=/data/user_models \
    KW_LOG=info
EXPOSE 5000
VOLUME ["/data/user_models"]
# SIGTERM: the server finishes the requests in flight, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["keystroke-workbench", "serve"]
