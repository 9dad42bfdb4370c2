# The agency image: client, plus agency-gen to write synthetic agency files.
# Build from the repository root:  docker build -f compose/client.Dockerfile -t client:latest .
# No config and no data inside: config.yaml is bind-mounted at /app/config.yaml and the agency's
# CSV file at /data/agency.csv (see generar-compose.sh).

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
 && useradd --system --user-group --no-create-home --home-dir /app tp0 \
 && install -d -o tp0 -g tp0 -m 0755 /app \
 && install -d -o tp0 -g tp0 -m 0755 /data
# /data is the agency's: its bets file is bind-mounted there, and the client keeps its winners
# beside it (winners-<id>.csv; docker cp clientN:/data/winners-N.csv . brings them out).
COPY --from=build /src/build/bin/client /src/build/bin/agency-gen /usr/local/bin/
USER tp0
WORKDIR /app
# Exec form: client is PID 1 and receives docker stop's SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/client"]
