#!/usr/bin/env bash
# generar-compose.sh: writes the docker compose file for one server and N agencies, or with
# --swarm the stack file for `docker stack deploy -c <output.yaml> tp0` (see "Swarm" below).
#
#   ./generar-compose.sh [--swarm] <output.yaml> <clients> [mode]
#
#   clients  whole number 0..9999: services client1..clientN (the server gets AGENCIES=N, or 1
#            when N is 0, since a draw needs at least one agency)
#   mode     echo | bet | lottery (default: $CLIENT_MODE, else lottery)
#
# The bind-mounted files are written as paths relative to the output file's folder (that is where
# docker compose resolves them), so the file may be written anywhere; it stops working if moved.
# Environment overrides (used by the e2e tests), each a path to an existing file or folder:
#   TP0_SERVER_CONFIG  default <repo>/supervisor/config.ini
#   TP0_CLIENT_CONFIG  default <repo>/client/config.yaml
#   TP0_DATA_DIR       default <repo>/.data (mode lottery: agency-N.csv is mounted into clientN)
#   TP0_KEYS_DIR       default <TP0_DATA_DIR>/keys: the agencies' keys (below)
#
# Agency keys: agency N's key is TP0_KEYS_DIR/agency-N.key (64 hex digits), made from
# /dev/urandom when missing and kept after that; TP0_KEYS_DIR/agency-keys, the server's file
# (one N:key line per agency of the draw), is written again from them on every run. Both reach
# the containers as compose secrets (/run/secrets/agency_keys for the server, AGENCY_KEYS;
# /run/secrets/agency_key for clientN, CLI_AUTH_KEY_FILE), so every agency proves its key. The
# folder is 0700; the files are 0644, since a compose secret is a bind mount and the programs
# run as their image's user, not as the files' owner.
#
# Swarm (--swarm): the same services, server and client1..N, for a swarm of one or more machines.
# The config files become swarm configs (the CLI reads them at deploy time, so no node needs the
# repo; each config's name carries a hash of its content, so a redeploy after an edit makes a new
# one instead of failing on the old, immutable one). The server keeps its files on the named
# volume server_data (the stack's tp0_server_data, on the node that runs it) and is restarted on
# failure; an agency that failed is run again at most 3 times, one that finished (exit 0) never.
# Agency N reads its CSV from the disk of the node that runs it, through a bind mount:
#   TP0_SWARM_DATA_DIR  absolute path, on every agency's node, of the folder with agency-N.csv
#                       (default: TP0_DATA_DIR made absolute, else <repo>/.data)
#   TP0_SWARM_LABELS    which node labels to place by, as a list: "server" places the server on
#                       the node labelled tp0.server=true, a number N places agency N on the node
#                       labelled tp0.agency=N (make swarm-up fills it from the labels the swarm's
#                       nodes have). Whatever it does not name is placed on a manager. A constraint
#                       no node meets leaves the task pending, so name only labels that exist.
# Needs bash and coreutils only.
set -euo pipefail

prog=${0##*/}

usage() {
	echo "usage: $prog [--swarm] <output.yaml> <clients> [echo|bet|lottery]" >&2
	echo "       clients: whole number 0..9999; mode defaults to \$CLIENT_MODE, else lottery" >&2
	exit 2
}

fail() {
	echo "$prog: $*" >&2
	exit 2
}

swarm=0
if [[ ${1-} == --swarm ]]; then
	swarm=1
	shift
fi
(($# >= 2 && $# <= 3)) || usage
output=$1
clients_arg=$2
mode=${3:-${CLIENT_MODE:-lottery}}

[[ -n $output ]] || usage
[[ $clients_arg =~ ^[0-9]+$ ]] || fail "clients must be a whole number >= 0, got '$clients_arg'"
# Strip leading zeros before the size check so bash never sees an octal or an overflow.
digits=${clients_arg#"${clients_arg%%[!0]*}"}
((${#digits} <= 4)) || fail "clients must be at most 9999, got '$clients_arg'"
clients=$((10#${digits:-0}))
case $mode in
echo | bet | lottery) ;;
*) fail "mode must be echo, bet or lottery, got '$mode'" ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
server_config=${TP0_SERVER_CONFIG:-$repo/supervisor/config.ini}
client_config=${TP0_CLIENT_CONFIG:-$repo/client/config.yaml}
data_dir=${TP0_DATA_DIR:-$repo/.data}
keys_dir=${TP0_KEYS_DIR:-$data_dir/keys}

[[ -d $output || $output == */ ]] && fail "output must be a file, not a directory: '$output'"
out_dir=$(dirname -- "$output")
mkdir -p -- "$out_dir"
out_dir=$(cd -- "$out_dir" && pwd -P)

# A path as docker compose should see it from the output's folder: "./x" or "../x".
rel() {
	local r
	r=$(realpath -m --relative-to="$out_dir" -- "$1")
	case $r in
	/* | ./* | ../*) printf '%s' "$r" ;;
	..) printf '..' ;;
	*) printf './%s' "$r" ;;
	esac
}

# One read-only bind mount, long syntax: with create_host_path false a missing file is an error
# at `up` instead of an empty directory that docker creates in its place.
mount() { # $1 = host path, $2 = container path
	local source
	source=$(rel "$1") || fail "cannot make '$1' relative to '$out_dir' (needs GNU realpath)"
	printf '      - type: bind\n'
	printf '        source: %s\n' "$(q "$source")"
	printf '        target: %s\n' "$(q "$2")"
	printf '        read_only: true\n'
	printf '        bind:\n'
	printf '          create_host_path: false\n'
}

# YAML double-quoted scalar (paths could hold spaces or colons).
q() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# The keys of agencies 1..$1: each made when missing, then the server's file from them all.
make_keys() { # $1 = agencies
	local n key tmp_keys

	mkdir -p -- "$keys_dir" && chmod 0700 -- "$keys_dir" || fail "cannot make '$keys_dir'"
	for ((n = 1; n <= $1; n++)); do
		[[ -s $keys_dir/agency-$n.key ]] && continue
		key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') || fail "cannot read /dev/urandom"
		[[ ${#key} == 64 ]] || fail "short read from /dev/urandom"
		printf '%s\n' "$key" >"$keys_dir/.agency-$n.key.tmp" &&
			chmod 0644 -- "$keys_dir/.agency-$n.key.tmp" &&
			mv -f -- "$keys_dir/.agency-$n.key.tmp" "$keys_dir/agency-$n.key" ||
			fail "cannot write '$keys_dir/agency-$n.key'"
	done
	tmp_keys=$(mktemp "$keys_dir/.agency-keys.XXXXXX") || fail "cannot write in '$keys_dir'"
	for ((n = 1; n <= $1; n++)); do
		printf '%d:%s\n' "$n" "$(tr -d ' \n' <"$keys_dir/agency-$n.key")"
	done >"$tmp_keys" && chmod 0644 -- "$tmp_keys" && mv -f -- "$tmp_keys" "$keys_dir/agency-keys" ||
		fail "cannot write '$keys_dir/agency-keys'"
}

# A secret given to a service, and the variable that tells the program where it is.
secret() { # $1 = secret's key in the file, $2 = its name under /run/secrets
	printf '    secrets:\n'
	printf '      - source: %s\n' "$1"
	printf '        target: %s\n' "$2"
}

# Deterministic, distinct bet fields per agency for mode bet.
first_names=(Santiago Valentina Mateo Camila Benjamin Martina Lautaro Sofia Thiago Lucia)
last_names=(Lorca Zambrano Rivera Gomez Fernandez Lopez Diaz Martinez Perez Romero)

# Agency n's environment, the same for compose and swarm: its id, its mode, and its file (mode
# lottery) or its one bet (mode bet).
client_environment() { # $1 = n
	local n=$1

	printf '    environment:\n'
	printf '      CLI_ID: "%d"\n' "$n"
	printf '      CLI_MODE: "%s"\n' "$mode"
	printf '      CLI_AUTH_KEY_FILE: "/run/secrets/agency_key"\n'
	case $mode in
	lottery)
		printf '      CLI_BETS_FILE: "/data/agency.csv"\n'
		;;
	bet)
		printf '      NOMBRE: "%s"\n' "${first_names[(n - 1) % ${#first_names[@]}]}"
		printf '      APELLIDO: "%s"\n' "${last_names[(n - 1) * 3 % ${#last_names[@]}]}"
		printf '      DOCUMENTO: "%d"\n' $((30000000 + n))
		printf '      NACIMIENTO: "%04d-%02d-%02d"\n' $((1960 + n % 40)) $((1 + n % 12)) $((1 + n % 28))
		printf '      NUMERO: "%d"\n' $(((n * 7919 + 1000) % 10000))
		;;
	esac
}

emit() {
	local n

	printf '# Generated by %s %s %s %s; edit the generator, not this file.\n' \
		"$prog" "$output" "$clients" "$mode"
	printf 'name: tp0\n'
	printf 'services:\n'
	printf '  server:\n'
	printf '    container_name: server\n'
	printf '    image: server:latest\n'
	printf '    environment:\n'
	printf '      AGENCIES: "%d"\n' $((clients > 0 ? clients : 1))
	printf '      AGENCY_KEYS: "/run/secrets/agency_keys"\n'
	secret agency_keys agency_keys
	printf '    volumes:\n'
	mount "$server_config" /srv/tp0/config.ini
	printf '    networks:\n'
	printf '      - testing_net\n'
	printf '    stop_grace_period: 10s\n'
	# A crashed server comes back in the same container, so with the same files in its own
	# layer, and resumes the draw; a clean stop (exit 0) stays stopped. down + up makes a new
	# container: a fresh draw, never a stale one (a named volume would resume it).
	printf '    restart: on-failure\n'

	for ((n = 1; n <= clients; n++)); do
		printf '\n'
		printf '  client%d:\n' "$n"
		printf '    container_name: client%d\n' "$n"
		printf '    image: client:latest\n'
		client_environment "$n"
		secret "agency_key_$n" agency_key
		printf '    volumes:\n'
		mount "$client_config" /app/config.yaml
		if [[ $mode == lottery ]]; then
			mount "$data_dir/agency-$n.csv" /data/agency.csv
		fi
		printf '    networks:\n'
		printf '      - testing_net\n'
		printf '    depends_on:\n'
		printf '      - server\n'
		printf '    stop_grace_period: 10s\n'
	done

	printf '\n'
	printf 'networks:\n'
	printf '  testing_net:\n'
	printf '    ipam:\n'
	printf '      driver: default\n'
	printf '      config:\n'
	printf '        - subnet: 172.25.125.0/24\n'
	printf '\n'
	printf 'secrets:\n'
	printf '  agency_keys:\n'
	printf '    file: %s\n' "$(q "$(rel "$keys_dir/agency-keys")")"
	for ((n = 1; n <= clients; n++)); do
		printf '  agency_key_%d:\n' "$n"
		printf '    file: %s\n' "$(q "$(rel "$keys_dir/agency-$n.key")")"
	done
}

# ---------------------------------------------------------------------------------------------
# --swarm

if ((swarm)); then
	# A bind mount's source is a path on the node that runs the task: absolute, and never
	# resolved here (this machine's symlinks say nothing about another node's disk).
	if [[ -n ${TP0_SWARM_DATA_DIR-} ]]; then
		swarm_data_dir=$TP0_SWARM_DATA_DIR
		[[ $swarm_data_dir == /* ]] || fail "TP0_SWARM_DATA_DIR must be an absolute path, got '$swarm_data_dir'"
	else
		swarm_data_dir=$(realpath -m -- "$data_dir") || fail "cannot make '$data_dir' absolute"
	fi
	swarm_data_dir=${swarm_data_dir%/}

	declare -A labelled=()
	read -r -a words <<<"${TP0_SWARM_LABELS-}"
	for word in ${words[@]+"${words[@]}"}; do
		if [[ $word == server ]]; then
			labelled[server]=1
		elif [[ $word =~ ^[0-9]{1,4}$ ]] && ((10#$word >= 1)); then
			labelled[$((10#$word))]=1
		else
			fail "TP0_SWARM_LABELS: 'server' or agency numbers 1..9999, got '$word'"
		fi
	done

	# The config's name carries its content's hash: swarm configs cannot be changed, and a
	# redeploy with an edited file then makes a new config (and restarts the services using it).
	hash_of() {
		local h
		[[ -f $1 && -r $1 ]] || fail "cannot read '$1' (it is shipped as a swarm config)"
		h=$(sha256sum -- "$1") || fail "cannot hash '$1'"
		printf '%s' "${h:0:12}"
	}
	server_config_key=server_config_$(hash_of "$server_config")
	client_config_key=client_config_$(hash_of "$client_config")
fi

# $1 = constraint
placement() {
	printf '      placement:\n'
	printf '        constraints:\n'
	printf '          - %s\n' "$(q "$1")"
}

emit_swarm() {
	local n

	printf '# Generated by %s --swarm %s %s %s; edit the generator, not this file.\n' \
		"$prog" "$output" "$clients" "$mode"
	printf '# docker stack deploy --resolve-image never -c %s tp0\n' "${output##*/}"
	# docker stack deploy (Docker 20.10) needs a version and knows neither name: nor
	# container_name: the stack's name prefixes every service, network, volume and config.
	printf 'version: "3.8"\n'
	printf 'services:\n'
	printf '  server:\n'
	printf '    image: server:latest\n'
	printf '    environment:\n'
	printf '      AGENCIES: "%d"\n' $((clients > 0 ? clients : 1))
	printf '      AGENCY_KEYS: "/run/secrets/agency_keys"\n'
	secret "$(secret_key agency_keys)" agency_keys
	printf '    configs:\n'
	printf '      - source: %s\n' "$server_config_key"
	printf '        target: /srv/tp0/config.ini\n'
	# A restarted task is a new container: the draw resumes only because its files are on
	# the volume, which stays on the node until removed (docker stack rm keeps it).
	printf '    volumes:\n'
	printf '      - type: volume\n'
	printf '        source: server_data\n'
	printf '        target: /srv/tp0\n'
	printf '    networks:\n'
	printf '      - swarm_net\n'
	printf '    stop_grace_period: 10s\n'
	printf '    deploy:\n'
	# The service's virtual IP is not reachable on every engine; agencies dial the task.
	printf '      endpoint_mode: dnsrr\n'
	printf '      replicas: 1\n'
	printf '      restart_policy:\n'
	printf '        condition: on-failure\n'
	printf '        delay: 2s\n'
	if [[ -n ${labelled[server]-} ]]; then
		placement "node.labels.tp0.server == true"
	else
		placement "node.role == manager"
	fi

	for ((n = 1; n <= clients; n++)); do
		printf '\n'
		printf '  client%d:\n' "$n"
		printf '    image: client:latest\n'
		client_environment "$n"
		secret "$(secret_key "agency_key_$n")" agency_key
		printf '    configs:\n'
		printf '      - source: %s\n' "$client_config_key"
		printf '        target: /app/config.yaml\n'
		if [[ $mode == lottery ]]; then
			# A missing file rejects the task (swarm never creates a bind's source).
			printf '    volumes:\n'
			printf '      - type: bind\n'
			printf '        source: %s\n' "$(q "$swarm_data_dir/agency-$n.csv")"
			printf '        target: "/data/agency.csv"\n'
			printf '        read_only: true\n'
		fi
		printf '    networks:\n'
		printf '      - swarm_net\n'
		printf '    stop_grace_period: 10s\n'
		printf '    deploy:\n'
		printf '      endpoint_mode: dnsrr\n'
		printf '      replicas: 1\n'
		# Swarm's default (any) starts a finished agency again. An agency that exits 0 is
		# done for good; one that failed (the server away longer than its retries) is run
		# again, which is safe: a resent batch is acknowledged without being stored twice
		# and a second DONE counts once. Bounded, for a failure no rerun can mend.
		printf '      restart_policy:\n'
		printf '        condition: on-failure\n'
		printf '        delay: 5s\n'
		printf '        max_attempts: 3\n'
		if [[ -n ${labelled[$n]-} ]]; then
			placement "node.labels.tp0.agency == $n"
		else
			placement "node.role == manager"
		fi
	done

	printf '\n'
	printf 'networks:\n'
	printf '  swarm_net:\n'
	printf '    driver: overlay\n'
	printf '    attachable: true\n'
	printf '\n'
	printf 'volumes:\n'
	printf '  server_data:\n'
	printf '\n'
	# Read by the docker CLI at deploy time, relative to this file's folder.
	printf 'configs:\n'
	printf '  %s:\n' "$server_config_key"
	printf '    file: %s\n' "$(q "$(rel "$server_config")")"
	printf '  %s:\n' "$client_config_key"
	printf '    file: %s\n' "$(q "$(rel "$client_config")")"
	printf '\n'
	# Swarm secrets are immutable too: named by their content's hash, as the configs.
	printf 'secrets:\n'
	printf '  %s:\n' "$(secret_key agency_keys)"
	printf '    file: %s\n' "$(q "$(rel "$keys_dir/agency-keys")")"
	for ((n = 1; n <= clients; n++)); do
		printf '  %s:\n' "$(secret_key "agency_key_$n")"
		printf '    file: %s\n' "$(q "$(rel "$keys_dir/agency-$n.key")")"
	done
}

# A secret's name in the stack file: its name, then a hash of its file's content.
secret_key() { # $1 = agency_keys | agency_key_N
	local file=$keys_dir/agency-keys
	[[ $1 == agency_keys ]] || file=$keys_dir/agency-${1#agency_key_}.key
	printf '%s_%s' "$1" "$(hash_of "$file")"
}

make_keys $((clients > 0 ? clients : 1))

# Write beside the target and rename, so a failed run never leaves half a file.
tmp=$(mktemp "$out_dir/.${output##*/}.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
if ((swarm)); then
	emit_swarm >"$tmp"
else
	emit >"$tmp"
fi
chmod 0644 "$tmp"
mv -f -- "$tmp" "$output"
trap - EXIT
echo "$prog: wrote $output ($clients clients, mode $mode$( ((swarm)) && printf ', swarm stack'))" >&2
