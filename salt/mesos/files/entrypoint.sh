#!/bin/sh
# entrypoint.sh <command> [argument...]
#
# The app image's ENTRYPOINT: names the Docker host "dockerhost" in
# /etc/hosts (the container's default gateway, so an app reaches the host's
# load balancer as dockerhost:<port>), then becomes <command> (exec), so
# signals reach it and its exit status is the container's.
#
# The gateway comes from /proc/net/route, so the image needs no iproute2.
# Without a default route (docker --network none) it warns and goes on.
# ENTRYPOINT_HOSTS_FILE names another hosts file (tests); default /etc/hosts.
# An earlier dockerhost line (a restarted container) is replaced, not repeated.

set -u

hosts_file=${ENTRYPOINT_HOSTS_FILE:-/etc/hosts}


log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

# The gateway of the IPv4 default route, dotted; /proc/net/route writes it as
# little-endian hex (0101A8C0 is 192.168.1.1).
default_gateway() {
    while read -r _ destination gateway _ _ _ _ mask _; do
        if [ "$destination" = 00000000 ] && [ "$mask" = 00000000 ]; then
            case $gateway in
            [0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]) ;;
            *) continue ;;
            esac
            low=${gateway%??????}
            rest=${gateway#??}
            second=${rest%????}
            rest=${rest#??}
            third=${rest%??}
            high=${rest#??}
            printf '%d.%d.%d.%d' "0x$high" "0x$third" "0x$second" "0x$low"
            return 0
        fi
    done </proc/net/route
    return 1
}

add_dockerhost() {
    gateway=$1
    # Rewrite in place: Docker bind-mounts /etc/hosts, it cannot be replaced.
    others=$(grep -v '[[:space:]]dockerhost$' "$hosts_file"; printf x)
    others=${others%x}
    {
        printf '%s' "$others"
        printf '%s dockerhost\n' "$gateway"
    } >"$hosts_file"
}

if [ $# -eq 0 ]; then
    log "usage: entrypoint.sh <command> [argument...]"
    exit 64
fi
if gateway=$(default_gateway 2>/dev/null) && [ -n "$gateway" ]; then
    add_dockerhost "$gateway" || log "could not write $hosts_file; dockerhost stays unknown"
else
    log "no IPv4 default route; dockerhost stays unknown"
fi
exec "$@"
