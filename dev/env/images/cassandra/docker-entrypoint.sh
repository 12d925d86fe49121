#!/bin/bash
# The official cassandra image's entry point conventions, for this stand-in:
#  - no arguments, or arguments starting with `-`, mean `cassandra -f ...`;
#  - started as root, it hands the config, data and log folders to cassandra and drops to
#    it (gosu);
#  - CASSANDRA_* variables are written into cassandra.yaml and cassandra-rackdc.properties:
#    LISTEN_ADDRESS (default: the container's first non-loopback IPv4 address, `auto` for
#    the same), BROADCAST_ADDRESS (default: the listen address), RPC_ADDRESS (default
#    0.0.0.0), BROADCAST_RPC_ADDRESS (default: the broadcast address), SEEDS (default: the
#    broadcast address), CLUSTER_NAME, NUM_TOKENS, ENDPOINT_SNITCH, DC, RACK.
# The operator's StatefulSet sets CLUSTER_NAME, SEEDS, DC, RACK and ENDPOINT_SNITCH.
set -e

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- cassandra -f "$@"
fi

if [ "$1" = 'cassandra' ] && [ "$(id -u)" = '0' ]; then
	find "$CASSANDRA_CONF" /var/lib/cassandra /var/log/cassandra \! -user cassandra -exec chown cassandra '{}' +
	exec gosu cassandra "$BASH_SOURCE" "$@"
fi

# The first IPv4 address that is neither loopback nor link-local: the pod's address.
first_address() {
	ip -4 -o address | awk '$2 != "lo" && $4 !~ /^127\./ && $4 !~ /^169\.254\./ { sub(/\/.*/, "", $4); print $4; exit }'
}

# Rewrites a file in place through a temporary copy: `sed -i` replaces the file, which
# fails when it is a mount (a ConfigMap, a bind mount) or its folder is not writable.
rewrite() {
	local file="$1" copy
	shift
	copy="$(mktemp)"
	sed "$@" "$file" > "$copy"
	cat "$copy" > "$file"
	rm -f "$copy"
}

if [ "$1" = 'cassandra' ]; then
	: "${CASSANDRA_RPC_ADDRESS=0.0.0.0}"
	: "${CASSANDRA_LISTEN_ADDRESS=auto}"
	if [ "$CASSANDRA_LISTEN_ADDRESS" = 'auto' ]; then
		CASSANDRA_LISTEN_ADDRESS="$(first_address)"
	fi
	: "${CASSANDRA_BROADCAST_ADDRESS=$CASSANDRA_LISTEN_ADDRESS}"
	if [ "$CASSANDRA_BROADCAST_ADDRESS" = 'auto' ]; then
		CASSANDRA_BROADCAST_ADDRESS="$(first_address)"
	fi
	: "${CASSANDRA_BROADCAST_RPC_ADDRESS:=$CASSANDRA_BROADCAST_ADDRESS}"
	: "${CASSANDRA_SEEDS:=$CASSANDRA_BROADCAST_ADDRESS}"

	rewrite "$CASSANDRA_CONF/cassandra.yaml" -r 's/(- seeds:).*/\1 "'"$CASSANDRA_SEEDS"'"/'

	for key in broadcast_address broadcast_rpc_address cluster_name endpoint_snitch listen_address num_tokens rpc_address; do
		variable="CASSANDRA_${key^^}"
		value="${!variable}"
		if [ -n "$value" ]; then
			# Uncomments the key when the file has it commented out.
			rewrite "$CASSANDRA_CONF/cassandra.yaml" -r 's/^(# )?('"$key"':).*/\2 '"$value"'/'
		fi
	done

	for key in dc rack; do
		variable="CASSANDRA_${key^^}"
		value="${!variable}"
		if [ -n "$value" ]; then
			rewrite "$CASSANDRA_CONF/cassandra-rackdc.properties" -r 's/^('"$key"'=).*/\1'"$value"'/'
		fi
	done
fi

exec "$@"
