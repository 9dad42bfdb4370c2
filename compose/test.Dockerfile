# The unit and integration tests on Debian 13, whose nng (1.10.1) is the one the images run;
# the host's `make check` covers Debian 12's (1.5.2). The build fails if a test fails.
#   docker build -f compose/test.Dockerfile -t tp0-test:trixie .    (or: make check-debian13)
FROM debian:trixie-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libnng-dev libyaml-dev libinih-dev zlib1g-dev libsodium-dev libcmocka-dev \
      python3 python3-pytest \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j2 all && make check PYTHON=python3
