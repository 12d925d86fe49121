#!/bin/sh
# A runc for dockerd on hosts whose capability bounding set lacks CAP_SYS_RESOURCE (some
# sandboxes and CI runners). A privileged container asks runc for every capability, and
# runc fails with "unable to apply caps: operation not permitted" when one of them is not
# in its own bounding set. This removes CAP_SYS_RESOURCE from the container's process
# spec, then runs the real runc unchanged. kind runs `docker exec --privileged` for
# everything, so both places a process spec comes from are edited:
#   runc create|run --bundle DIR  -> DIR/config.json, key .process
#   runc exec --process FILE      -> FILE itself
# Usage: runc-drop-sys-resource.sh REAL_RUNC [runc arguments ...]
set -eu

real_runc=$1
shift

# Edits one JSON file in place (same inode and mode), at the process spec found at $2.
drop_sys_resource() {
  tmp="$1.drop-sys-resource"
  jq "$2 |= (if type == \"object\" and (.capabilities | type) == \"object\"
             then .capabilities |= map_values(if type == \"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end)
             else . end)" "$1" >"$tmp"
  cat "$tmp" >"$1"
  rm -f "$tmp"
}

bundle=''
process_file=''
previous=''
for arg in "$@"; do
  case "$previous" in
    --bundle | -b) bundle=$arg ;;
    --process | -p) process_file=$arg ;;
  esac
  case "$arg" in
    --bundle=*) bundle=${arg#--bundle=} ;;
    --process=*) process_file=${arg#--process=} ;;
  esac
  previous=$arg
done

if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  drop_sys_resource "$bundle/config.json" '.process'
fi
if [ -n "$process_file" ] && [ -f "$process_file" ]; then
  drop_sys_resource "$process_file" '.'
fi

exec "$real_runc" "$@"
