#!/bin/sh
# validar-echo-server.sh: checks that the container named `server` on the compose network answers
# a line with the same line. Runs netcat from a throwaway busybox container on that network, so
# nothing needs installing on the host and the server's port stays unpublished.
#
#   ./validar-echo-server.sh        (or: sh validar-echo-server.sh)
#
# Prints exactly one verdict line and exits 0 (success) or 1 (fail):
#   action: test_echo_server | result: success
#   action: test_echo_server | result: fail
# The port is SERVER_PORT from the environment, else from supervisor/config.ini beside this script,
# else 12345. ECHO_NETWORK (tp0_testing_net), ECHO_HOST (server), ECHO_IMAGE (busybox:latest) and
# ECHO_TIMEOUT (seconds, 10) may be overridden.
# POSIX sh.

here=$(dirname "$0")
config="$here/supervisor/config.ini"
network=${ECHO_NETWORK:-tp0_testing_net}
host=${ECHO_HOST:-server}
image=${ECHO_IMAGE:-busybox:latest}
limit=${ECHO_TIMEOUT:-10}
case $limit in '' | *[!0-9]*) limit=10 ;; esac

verdict() {
	echo "action: test_echo_server | result: $1"
	[ "$1" = success ]
	exit
}

# SERVER_PORT from the [DEFAULT] section: "SERVER_PORT = 12345" (spaces and a ; or # comment
# allowed). The last assignment wins, as for an ini parser.
config_port() {
	[ -r "$config" ] || return 0
	sed -n -e '/^[[:space:]]*\[/{' -e 'h' -e 'd' -e '}' \
		-e 'x' -e '/^[[:space:]]*\[DEFAULT\]/!{' -e 'x' -e 'd' -e '}' -e 'x' \
		-e 's/^[[:space:]]*SERVER_PORT[[:space:]]*[=:][[:space:]]*\([0-9][0-9]*\).*/\1/p' \
		"$config" | tail -n 1
}

port=${SERVER_PORT:-}
[ -n "$port" ] || port=$(config_port)
[ -n "$port" ] || port=12345
case $port in
'' | *[!0-9]*)
	echo "validar-echo-server: invalid SERVER_PORT '$port'" >&2
	verdict fail
	;;
esac

# Unique per run, and never starting with the protocol's 0xFE byte.
message="tp0-echo-check $(date +%s)-$$"

# Three bounds, so a server that accepts and never answers cannot hang the check: busybox's
# timeout inside the container, the host's timeout around docker run (-k: docker run forwards
# SIGTERM to the container instead of exiting), and docker rm -f of the named container after.
name="tp0-echo-check-$$"
inner=$((limit > 2 ? limit - 2 : 1))
# timeout(1) is not POSIX: without it, busybox's timeout inside the container still bounds nc.
guard=
command -v timeout >/dev/null 2>&1 && guard="timeout -k 3 $limit"
errors=$(mktemp) || verdict fail
# shellcheck disable=SC2086,SC2016 # $guard: empty or a command; $1..$4: the container's shell
reply=$($guard docker run --rm --name "$name" --network "$network" "$image" \
	sh -c 'echo "$1" | timeout "$4" nc "$2" "$3"' echo-check "$message" "$host" "$port" "$inner" \
	2>"$errors")
[ "$reply" = "$message" ] || sed 's/^/validar-echo-server: /' "$errors" >&2
rm -f "$errors"
docker rm -f "$name" >/dev/null 2>&1

if [ "$reply" = "$message" ]; then
	verdict success
fi
verdict fail
