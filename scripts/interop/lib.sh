# shellcheck shell=bash
# Helpers sourced by the interop scripts in this directory. Not meant to be
# run directly.

# Everything the servers write (configs, data, logs, pid files, certificates)
# lives below one directory so a test run can be thrown away with `rm -rf`.
# shellcheck disable=SC2034 # used by the scripts that source this file
STATE="${XMPP_INTEROP_DIR:-/tmp/xmpp-interop}"
LOAD_USERS="${XMPP_LOAD_USERS:-200}"
case "$LOAD_USERS" in
  '' | *[!0-9]*) echo "XMPP_LOAD_USERS must be a number, got '$LOAD_USERS'" >&2; exit 2 ;;
esac

# The fixed test accounts, as user:password; created on every domain.
NAMED_ACCOUNTS="alice:alice-pass bob:bob-pass carol:carol-pass admin:admin-pass"
DOMAINS="localhost example.test"

SCRIPT_START=$SECONDS
say() { printf '[%s %3ss] %s\n' "${TAG:-interop}" "$((SECONDS - SCRIPT_START))" "$*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

# All account lines as "user domain password", one per line.
account_lines() {
  local d a
  for d in $DOMAINS; do
    for a in $NAMED_ACCOUNTS; do printf '%s %s %s\n' "${a%%:*}" "$d" "${a#*:}"; done
  done
  for ((a = 1; a <= LOAD_USERS; a++)); do printf 'user%d localhost pw\n' "$a"; done
}

# Addresses to listen on: IPv4 loopback always, IPv6 loopback only if the
# kernel has it configured (CI containers often do not, and binding would fail).
loopback_addresses() {
  printf '127.0.0.1'
  if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then printf ' ::1'; fi
  printf '\n'
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_busy() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Describe who listens on PORT (best effort, for error messages).
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
  fi
}

# Refuse to start when one of our ports is taken by something we did not
# start: the tests would silently talk to the wrong server otherwise.
require_free_ports() {
  local p who
  for p in "$@"; do
    if port_busy "$p"; then
      who="$(port_owner "$p")"
      fail "port $p on 127.0.0.1 is already in use${who:+ by $who}, and not by a server these scripts started; stop it first"
    fi
  done
}

# Poll until every PORT accepts connections, while process PID is alive.
# Gives up after TIMEOUT seconds.
wait_for_ports() {
  local pid="$1" p deadline=$((SECONDS + $2))
  shift 2
  local all
  while ((SECONDS < deadline)); do
    alive "$pid" || return 1
    all=1
    for p in "$@"; do port_busy "$p" || { all=0; break; }; done
    ((all)) && return 0
    sleep 0.1
  done
  return 1
}

# A process counts as running only if it exists and is not a zombie: PID 1
# in containers often never reaps orphans, so a dead daemon can linger as
# <defunct> and would fool `kill -0`.
alive() {
  local state
  [ -n "${1:-}" ] || return 1
  [ -r "/proc/$1/stat" ] || return 1
  state="$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Print the PID stored in FILE when that process is alive and its command
# line contains PATTERN (guards against a recycled PID).
live_pid_from() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(tr -cd '0-9' <"$1")"
  alive "$pid" || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$2"* ]] || return 1
  echo "$pid"
}

# SIGTERM, wait up to SECS, then SIGKILL.
terminate() {
  local pid="$1" secs="${2:-15}" i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  say "pid $pid ignored SIGTERM for ${secs}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Install Debian packages that are missing. Maintainer scripts must not
# start the distribution's own service: it would listen on 0.0.0.0 with the
# system config and take our ports. policy-rc.d returning 101 forbids that.
install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  [ "$(id -u)" = 0 ] || fail "Debian packages ${missing[*]} are missing; run as root to install them"
  # Serialise installs: two up scripts run in parallel must not remove each
  # other's policy-rc.d halfway through.
  local lock
  exec {lock}>/tmp/xmpp-interop-apt.lock
  flock -w 600 "$lock" || fail "timed out waiting for another interop package install"
  say "installing ${missing[*]} with apt-get"

  local own_policy="" man_flag=/var/lib/man-db/auto-update
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# forbid service starts during interop package installs\nexit 101\n' >"$own_policy"
    chmod 755 "$own_policy"
  fi
  # Without this flag man-db's trigger skips rebuilding its index, which
  # otherwise costs several seconds per install on a busy machine.
  [ -e "$man_flag" ] && mv "$man_flag" "$man_flag.interop" || man_flag=""
  # unsafe-io skips dpkg's fsync calls: much faster, and a throw-away CI
  # machine does not care about surviving a power cut mid-install.
  local apt=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-unsafe-io)
  local ok=0
  export DEBIAN_FRONTEND=noninteractive
  # Fresh images often ship without package lists: fetch them first then.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${apt[@]}" update >&2 || true
  fi
  if "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2; then
    ok=1
  else
    # Stale lists point at files the mirror no longer has: refresh and retry.
    "${apt[@]}" update >&2 || true
    "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2 && ok=1
  fi
  [ -n "$own_policy" ] && rm -f "$own_policy"
  [ -n "$man_flag" ] && mv "$man_flag.interop" "$man_flag"
  exec {lock}>&-
  ((ok)) || fail "apt-get could not install ${missing[*]}"
}

# slixmpp (from PyPI, pinned) in a virtual environment at $VENV, made or
# rebuilt when the pinned version changes; sets VENV.
slixmpp_venv() {
  local version="${XMPP_SLIXMPP_VERSION:-1.17.0}"
  VENV="$STATE/slixmpp-venv"
  if [ "$("$VENV/bin/python" -c 'import slixmpp; print(slixmpp.__version__)' 2>/dev/null)" != "$version" ]; then
    say "creating $VENV with slixmpp $version"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      install_packages python3-venv
      /usr/bin/python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "slixmpp==$version" >&2 ||
      fail "pip could not install slixmpp $version"
  fi
}

# start_bench_prosody PORT...: restarts the Prosody that prosody-up.sh
# configured (and that was then stopped) with a copy of its configuration
# that leaves out what costs per message without being routing: mod_mam
# (every message written to the file store), carbons and smacks (the load
# generators use neither), and logs warnings only. The interop
# configuration loads no mod_limits, so nothing is rate limited. Waits for
# PORT...; sets PROSODY_PID.
start_bench_prosody() {
  local dir="$STATE/prosody" cfg="$STATE/prosody/bench.cfg.lua"
  sed -e 's/"mam"; //; s/"carbons"; //; s/"smacks";//' \
    -e 's/levels = { min = "[a-z]*" }/levels = { min = "warn" }/' \
    "$dir/prosody.cfg.lua" >"$cfg"
  grep -q '"mam"' "$cfg" && fail "could not take mod_mam out of $cfg"
  require_free_ports "$@"
  setsid nohup prosody -F --config "$cfg" </dev/null >"$dir/bench-console.log" 2>&1 &
  PROSODY_PID=$!
  wait_for_ports "$PROSODY_PID" 30 "$@" || fail "prosody did not start: $(tail -5 "$dir/bench-console.log")"
}
