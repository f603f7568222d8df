#!/bin/sh
# service-wrapper.sh <marathon-host:port> <consul-host:port> <prefix> <command> [argument...]
#
# Runs <command> with every key under the Consul KV folder <prefix>/ as an
# environment variable, then watches that folder and asks Marathon for one
# rolling restart of the app when the configuration changes. POSIX sh, curl
# and jq only, so it fits any app image.
#
# - Values arrive exactly as stored (spaces, quotes, newlines, $(...),
#   backticks, unicode): they pass to the app as `env NAME=VALUE` arguments
#   and nothing read from Consul is ever evaluated as shell. A key that is
#   not an environment variable name ([A-Za-z_][A-Za-z0-9_]*), or whose value
#   is not UTF-8 text, is skipped with a message on stderr.
# - The wrapper's own process becomes the app (exec), so SIGTERM and SIGINT
#   reach the app as they are sent and the exit status is the app's. A
#   background watcher (a child of the app's process) does the watching.
# - The watcher uses blocking queries (?index=&wait=), at most one query per
#   SERVICE_WRAPPER_MIN_INTERVAL seconds, and backs off on errors. A Consul
#   error, outage or stall never restarts anything.
# - One change, one restart, however many instances watch: the instance that
#   wins a check-and-set on the key <lock prefix>/<Marathon app id> (value
#   "<Consul index> claimed|done <task id>") asks Marathon to restart the app;
#   the others see the claim and wait to be replaced. A claim whose owner is
#   no longer a task of the app is taken over, so a change is not lost when
#   the winner is killed before Marathon accepted the restart.
#
# Addresses may be host:port or a URL (http://user:password@host:port for a
# Marathon with basic auth). The Marathon app id is $MARATHON_APP_ID (set by
# Marathon) or "/<prefix>". CONSUL_HTTP_TOKEN, when set, is sent to Consul.
#
# Settings (environment, seconds unless noted):
#   SERVICE_WRAPPER_WAIT            blocking query wait (default 60)
#   SERVICE_WRAPPER_MIN_INTERVAL    minimum time between two queries (default 1)
#   SERVICE_WRAPPER_MAX_BACKOFF     longest pause after errors (default 30)
#   SERVICE_WRAPPER_START_TIMEOUT   how long to retry Consul before the app
#                                   starts; then exit 69 (default 30)
#   SERVICE_WRAPPER_LOCK_PREFIX     Consul folder of the restart claims
#                                   (default service-wrapper/restart)
# Exit status: the app's; 64 bad usage; 69 Consul unreachable at start.

set -u

log() {
    printf 'service-wrapper: %s\n' "$*" >&2
}

usage_error() {
    log "$1"
    log "usage: service-wrapper.sh <marathon-host:port> <consul-host:port> <prefix> <command> [argument...]"
    exit 64
}

is_count() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
}

require_seconds() { # require_seconds NAME VALUE
    is_count "$2" || usage_error "$1 must be a whole number of seconds, not '$2'"
}

base_url() {
    case $1 in
    *://*) url=$1 ;;
    *) url=http://$1 ;;
    esac
    printf '%s' "${url%/}"
}

[ $# -ge 4 ] || usage_error "expected at least 4 arguments, got $#"
marathon_url=$(base_url "$1")
consul_url=$(base_url "$2")
prefix=$3
shift 3
while :; do
    case $prefix in
    /*) prefix=${prefix#/} ;;
    */) prefix=${prefix%/} ;;
    *) break ;;
    esac
done
case $prefix in
'' | *[!A-Za-z0-9,._/-]* | *..*) usage_error "prefix '$prefix' is not a Consul key (letters, digits , - _ . /)" ;;
esac
case $1 in
*=*) usage_error "the command '$1' contains '=', which env would read as a variable" ;;
esac

wait_seconds=${SERVICE_WRAPPER_WAIT:-60}
min_interval=${SERVICE_WRAPPER_MIN_INTERVAL:-1}
max_backoff=${SERVICE_WRAPPER_MAX_BACKOFF:-30}
start_timeout=${SERVICE_WRAPPER_START_TIMEOUT:-30}
require_seconds SERVICE_WRAPPER_WAIT "$wait_seconds"
require_seconds SERVICE_WRAPPER_MIN_INTERVAL "$min_interval"
require_seconds SERVICE_WRAPPER_MAX_BACKOFF "$max_backoff"
require_seconds SERVICE_WRAPPER_START_TIMEOUT "$start_timeout"
[ "$max_backoff" -ge 1 ] || max_backoff=1
lock_prefix=${SERVICE_WRAPPER_LOCK_PREFIX:-service-wrapper/restart}
app_id=${MARATHON_APP_ID:-/$prefix}
case $app_id in /*) ;; *) app_id=/$app_id ;; esac
lock_key=${lock_prefix%/}${app_id}
# Who claims a restart: the Mesos task id, or "-" outside Marathon (never taken over).
me=${MESOS_TASK_ID:--}
tab=$(printf '\t')

for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is not installed"; exit 69; }
done

# Scratch files live in the task sandbox under Mesos.
work=$(mktemp -d "${TMPDIR:-${MESOS_SANDBOX:-/tmp}}/service-wrapper.XXXXXX") || exit 69
umask 077
: >"$work/consul-headers"
if [ -n "${CONSUL_HTTP_TOKEN:-}" ]; then
    printf 'X-Consul-Token: %s\n' "$CONSUL_HTTP_TOKEN" >"$work/consul-headers"
fi

# -- HTTP ----------------------------------------------------------------------

# request MAX_TIME CURL_ARGUMENTS...: prints the HTTP status; body in
# $work/body, headers in $work/headers; fails when curl fails.
request() {
    max_time=$1
    shift
    rm -f "$work/body" "$work/headers"
    curl --silent --show-error --globoff --connect-timeout 5 --max-time "$max_time" \
        --output "$work/body" --dump-header "$work/headers" --write-out '%{http_code}' "$@"
}

consul_request() {
    request "$@" --header "@$work/consul-headers"
}

consul_index() {
    grep -i '^x-consul-index:' "$work/headers" 2>/dev/null | tr -dc '0-9'
}

# -- reading the configuration ---------------------------------------------------

# One line per key: "var<TAB>NAME<TAB>VALUE" with \ newline tab escaped for
# printf %b, or "skip<TAB>"key"<TAB>why".
# shellcheck disable=SC2016 # a jq program: its $names are jq's
listing_program='
  sort_by(.Key)[]
  | (.Key | ltrimstr($prefix)) as $name
  | select($name != "")
  | if ($name | test("\\A[A-Za-z_][A-Za-z0-9_]*\\z") | not) then
      "skip\t\(.Key | @json)\tnot a valid environment variable name"
    else
      (if .Value == null then "" else (.Value | @base64d) end) as $value
      | if .Value != null and ($value | @base64) != .Value then
          "skip\t\(.Key | @json)\tits value is not UTF-8 text"
        elif ($value | explode | any(. == 0)) then
          "skip\t\(.Key | @json)\tits value contains a NUL byte"
        else
          "var\t\($name)\t\($value | split("\\") | join("\\\\")
            | split("\n") | join("\\n") | split("\t") | join("\\t"))"
        end
    end'

# fetch_config INDEX WAIT: reads the prefix into $work/config.vars and
# $work/config.skipped, sets fetched_index. Fails (with a message) on any error.
fetch_config() {
    query="recurse"
    if [ "$1" -gt 0 ]; then
        query="$query&index=$1&wait=${2}s"
    fi
    # Consul may hold a blocking query up to wait + wait/16; then a stall.
    status=$(consul_request $(($2 + $2 / 16 + 5)) "$consul_url/v1/kv/$prefix/?$query") || {
        log "Consul did not answer ($consul_url); the app keeps running"
        return 1
    }
    case $status in
    200) ;;
    404) printf '[]' >"$work/body" ;;
    *)
        log "Consul answered HTTP $status for $prefix/: $(dd if="$work/body" bs=200 count=1 2>/dev/null)"
        return 1
        ;;
    esac
    fetched_index=$(consul_index)
    is_count "$fetched_index" || {
        log "Consul answered without an X-Consul-Index header"
        return 1
    }
    jq -r --arg prefix "$prefix/" "$listing_program" "$work/body" >"$work/listing" || {
        log "Consul's answer for $prefix/ is not a KV listing"
        return 1
    }
    grep "^var$tab" "$work/listing" >"$work/config.vars"
    grep "^skip$tab" "$work/listing" >"$work/config.skipped"
    return 0
}

report_skipped() {
    while IFS="$tab" read -r _ key why; do
        log "skipping key $key: $why"
    done <"$1"
}

# -- starting the app ------------------------------------------------------------

# exec_app VARS_FILE COMMAND...: becomes `env NAME=VALUE... COMMAND...`.
exec_app() {
    vars=$1
    shift
    words=$#
    while IFS="$tab" read -r _ name escaped; do
        # The x keeps trailing newlines, which $(...) would strip.
        value=$(printf '%bx' "$escaped")
        set -- "$@" "$name=${value%x}"
    done <"$vars"
    # Move the command's words behind the assignments.
    while [ "$words" -gt 0 ]; do
        set -- "$@" "$1"
        shift
        words=$((words - 1))
    done
    exec env "$@"
}

# -- coordinating one restart per change ---------------------------------------

# read_claim: sets claim_modify (0 when absent), claim_index, claim_state, claim_owner.
read_claim() {
    status=$(consul_request 10 "$consul_url/v1/kv/$lock_key") || return 1
    claim_modify=0 claim_index=0 claim_state=none claim_owner=-
    case $status in
    404) return 0 ;;
    200) ;;
    *)
        log "Consul answered HTTP $status reading $lock_key"
        return 1
        ;;
    esac
    line=$(jq -r '.[0] | "\(.ModifyIndex) \(.Value // "" | @base64d | gsub("[\\s]+"; " "))"' \
        "$work/body") || return 1
    IFS=' ' read -r claim_modify claim_index claim_state claim_owner _ <<EOF
$line
EOF
    is_count "$claim_modify" || claim_modify=0
    is_count "$claim_index" || claim_index=0
    claim_owner=${claim_owner:--}
}

# write_claim CAS VALUE: true when the check-and-set won.
write_claim() {
    status=$(consul_request 10 --request PUT --data-binary "$2" \
        "$consul_url/v1/kv/$lock_key?cas=$1") || return 1
    [ "$status" = 200 ] && [ "$(cat "$work/body")" = true ]
}

owner_is_running() {
    [ "$claim_owner" = - ] && return 0
    status=$(request 10 "$marathon_url/v2/apps$app_id/tasks") || return 0
    [ "$status" = 404 ] && return 1
    [ "$status" = 200 ] || return 0 # cannot tell: assume it still works on it
    [ "$(jq --arg id "$claim_owner" 'any(.tasks[]; .id == $id)' "$work/body")" != false ]
}

# restart_app INDEX: asks Marathon until it accepts, then marks the claim done.
# SIGTERM waits meanwhile: the restart's first kill may well be this instance,
# and a claim left "claimed" costs another restart when an instance takes it over.
restart_app() {
    trap '' TERM
    pause=1
    while app_is_running; do
        if status=$(request 10 --request POST "$marathon_url/v2/apps$app_id/restart"); then
            case $status in
            200 | 201)
                log "configuration of $prefix/ changed (index $1): Marathon restarts $app_id"
                break
                ;;
            404)
                log "Marathon has no app $app_id to restart"
                break
                ;;
            409) log "Marathon is deploying $app_id; restart again in ${pause}s" ;;
            *) log "Marathon answered HTTP $status to the restart of $app_id; again in ${pause}s" ;;
            esac
        else
            log "Marathon did not answer; restart of $app_id again in ${pause}s"
        fi
        sleep "$pause"
        pause=$((pause * 2 > max_backoff ? max_backoff : pause * 2))
    done
    read_claim && [ "$claim_index" = "$1" ] && [ "$claim_owner" = "$me" ] &&
        write_claim "$claim_modify" "$1 done $me"
    trap 'exit 0' TERM
}

# coordinate INDEX: the app runs an older configuration than the one at INDEX.
# Sets pending=1 while another instance's restart is still to come.
coordinate() {
    pending=0
    attempts=0
    while [ "$attempts" -lt 5 ]; do
        attempts=$((attempts + 1))
        read_claim || { pending=1; return; }
        target=$1
        if [ "$claim_index" -ge "$1" ]; then
            [ "$claim_state" = "done" ] && return
            if owner_is_running; then
                pending=1
                return
            fi
            log "restart claim of $claim_owner for index $claim_index has no running owner; taking it over"
            target=$claim_index
        fi
        if write_claim "$claim_modify" "$target claimed $me"; then
            restart_app "$target"
            return
        fi
    done
    pending=1
}

# -- watching --------------------------------------------------------------------

app_is_running() {
    kill -0 "$app_pid" 2>/dev/null
}

watch() {
    index=$1
    backoff=1
    pending=0
    cp "$work/config.skipped" "$work/seen.skipped"
    while app_is_running; do
        sleep "$min_interval"
        app_is_running || break
        query_wait=$wait_seconds
        if [ "$pending" = 1 ] && [ "$query_wait" -gt 5 ]; then
            query_wait=5
        fi
        if ! fetch_config "$index" "$query_wait"; then
            log "next Consul query in ${backoff}s"
            sleep "$backoff"
            backoff=$((backoff * 2 > max_backoff ? max_backoff : backoff * 2))
            continue
        fi
        backoff=1
        if [ "$fetched_index" -lt "$index" ]; then
            log "Consul's index went back from $index to $fetched_index; reading afresh"
            index=0
            continue
        fi
        index=$fetched_index
        if ! cmp -s "$work/config.skipped" "$work/seen.skipped"; then
            report_skipped "$work/config.skipped"
            cp "$work/config.skipped" "$work/seen.skipped"
        fi
        if cmp -s "$work/config.vars" "$work/app.vars"; then
            pending=0
        elif app_is_running; then
            coordinate "$index"
        fi
    done
}

# -- main ------------------------------------------------------------------------

waited=0
pause=1
until fetch_config 0 0; do
    if [ "$waited" -ge "$start_timeout" ]; then
        log "no configuration from Consul within ${start_timeout}s; not starting the app"
        rm -rf "$work"
        exit 69
    fi
    log "reading $prefix/ again in ${pause}s"
    sleep "$pause"
    waited=$((waited + pause))
    pause=$((pause * 2 > max_backoff ? max_backoff : pause * 2))
done
report_skipped "$work/config.skipped"
start_index=$fetched_index
# What the app runs with; the watcher compares every new listing with it.
cp "$work/config.vars" "$work/app.vars"

# $$ is this process, which becomes the app; the watcher follows it.
app_pid=$$
(
    trap 'rm -rf "$work"' EXIT
    trap 'exit 0' TERM
    watch "$start_index"
) </dev/null &

exec_app "$work/app.vars" "$@"
