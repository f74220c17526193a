# shellcheck shell=bash
# Helpers shared by e2e/up and e2e/down. Sourced, not executed.
#
# The pids file ($WORKDIR/pids) has one line per process: NAME PID STARTTIME,
# where STARTTIME is field 22 of /proc/PID/stat. A PID is only signalled when
# its start time still matches, so a recycled PID is never killed.

E2E_DIR=${E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
BIN_DIR=$E2E_DIR/.bin

# Seconds to wait after SIGTERM before SIGKILL (kube-apiserver is slow to exit).
: "${E2E_STOP_TIMEOUT:=30}"

log() { printf '%s %s\n' "[$(date +%H:%M:%S)] ${E2E_PROG:-e2e}:" "$*" >&2; }

# proc_start PID -> prints the start time (clock ticks since boot) or nothing.
# Zombies and dead processes print nothing.
proc_start() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	# shellcheck disable=SC2206 # word splitting is intended
	local f=($rest)
	[[ ${f[0]} == Z || ${f[0]} == X ]] && return 1
	echo "${f[19]}"
}

# alive PID START -> true while that exact process runs.
alive() {
	local s
	s=$(proc_start "$1") || return 1
	[[ $s == "$2" ]]
}

# stop_procs TIMEOUT "NAME PID START"... : SIGTERM all of them at once, wait up to
# TIMEOUT seconds for all to exit, then SIGKILL the ones left.
stop_procs() {
	local timeout=$1 entry name pid start left deadline
	shift
	for entry in "$@"; do
		read -r name pid start <<<"$entry"
		if alive "$pid" "$start"; then
			log "stopping $name (pid $pid, SIGTERM)"
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	deadline=$((SECONDS + timeout))
	while :; do
		left=()
		for entry in "$@"; do
			read -r name pid start <<<"$entry"
			alive "$pid" "$start" && left+=("$entry")
		done
		((${#left[@]} == 0)) && break
		if ((SECONDS >= deadline)); then
			for entry in "${left[@]}"; do
				read -r name pid start <<<"$entry"
				log "$name (pid $pid) still running after ${timeout}s: SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			done
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	# Reap our own children (no-op for processes started by another shell).
	for entry in "$@"; do
		read -r name pid start <<<"$entry"
		wait "$pid" 2>/dev/null || true
	done
}

# stop_from_pidsfile FILE: stop the components listed in FILE in the safe order
# (kwok and kube-scheduler, then kube-apiserver, then etcd).
stop_from_pidsfile() {
	local file=$1 name pid start
	local -a first=() api=() store=()
	[[ -f $file ]] || return 0
	while read -r name pid start; do
		[[ -n ${name:-} && -n ${pid:-} && -n ${start:-} ]] || continue
		case $name in
		up) ;;
		kube-apiserver) api+=("$name $pid $start") ;;
		etcd) store+=("$name $pid $start") ;;
		*) first+=("$name $pid $start") ;;
		esac
	done <"$file"
	((${#first[@]})) && stop_procs 15 "${first[@]}"
	((${#api[@]})) && stop_procs "$E2E_STOP_TIMEOUT" "${api[@]}"
	((${#store[@]})) && stop_procs 15 "${store[@]}"
	return 0
}

# port_in_use PORT: true if any IPv4/IPv6 TCP socket uses PORT locally.
port_in_use() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" 'NR > 1 { split($2, a, ":"); if (":" a[2] == p) { found = 1; exit } } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pick_port VAR: set VAR to a free TCP port in 20000-32767 (below the kernel's
# ephemeral range, so outgoing connections do not take it), never one already
# handed out by this shell.
E2E_PICKED_PORTS=" "
pick_port() {
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + RANDOM % 12768))
		[[ $E2E_PICKED_PORTS == *" $p "* ]] && continue
		port_in_use "$p" && continue
		E2E_PICKED_PORTS+="$p "
		printf -v "$1" '%s' "$p"
		return 0
	done
	return 1
}
