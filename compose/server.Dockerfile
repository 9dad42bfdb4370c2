# The server image: supervisor (PID 1) and its siblings storage and acceptor, in one folder.
# Build from the repository root:  docker build -f compose/server.Dockerfile -t server:latest .
# No config and no data inside: config.ini is bind-mounted at /srv/tp0/config.ini (see
# generar-compose.sh) and bets.csv is written beside it.

# The build stage is identical in both Dockerfiles, so the second image reuses its cached layers.
FROM debian:trixie-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libnng-dev libyaml-dev libinih-dev zlib1g-dev libsodium-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j2 all && strip build/bin/*

FROM debian:trixie-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnng1 libyaml-0-2 libinih1 zlib1g libsodium23 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --no-create-home --home-dir /srv/tp0 tp0 \
 && install -d -o tp0 -g tp0 -m 0755 /srv/tp0
# supervisor starts storage and acceptor from the folder of its own executable.
COPY --from=build /src/build/bin/supervisor /src/build/bin/storage /src/build/bin/acceptor \
     /usr/local/libexec/tp0/
USER tp0
WORKDIR /srv/tp0
EXPOSE 12345
# Exec form: supervisor is PID 1 and receives docker stop's SIGTERM itself.
ENTRYPOINT ["/usr/local/libexec/tp0/supervisor"]
