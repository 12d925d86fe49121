#!/bin/sh
# The official redis image's entry point conventions, for Debian's redis-server:
#  - arguments that start with `-` or name a `*.conf` file are redis-server's;
#  - started as root, it hands /data to redis and drops to it (gosu), as the official one does;
#  - a umask of 0077 unless one was set, so the data files are the redis user's alone.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

# The official image is compiled with protected mode off (it listens on all interfaces
# with no password, for other containers); Debian's binary has it on. Without a config
# file, the same default is given on the command line, before the caller's own options,
# which still win.
if [ "$1" = 'redis-server' ] && [ "${2%.conf}" = "${2-}" ]; then
	shift
	set -- redis-server --protected-mode no "$@"
fi

um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
