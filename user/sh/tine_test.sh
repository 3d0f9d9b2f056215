# tine_test.sh: user/tine_test.h for shell scripts (busybox sh). Sourced
# by the tests in /tests:
#
#	. /tests/tine_test.sh
#	check_eq pipe.wc "$(echo a b c | wc -w)" 3
#	check redir.file test -s /tmp/f
#	tine_done
#
# prints the same lines as tine_test.h, each with one write(2):
#
#	PASS <name>
#	FAIL <name>: <why>
#	done passed=<N> failed=<M>
#
# tine_done ends the script: it execs /bin/tcdrain, which waits until the
# console has sent everything (the script runs as init; on Linux its exit
# resets the machine at once) and exits 0 if nothing failed, else 1.
# Counters live in this shell: call check* outside subshells and pipes.

export PATH=/sbin:/bin
tine_passed=0
tine_failed=0

pass() {
	echo "PASS $1"
	tine_passed=$((tine_passed + 1))
}

fail() {
	# One line, even if what was got spans several.
	echo "FAIL $1: $(printf '%s' "$2" | tr '\n' ' ')"
	tine_failed=$((tine_failed + 1))
}

# check_eq NAME GOT WANT: passes if the strings are equal.
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected '$3', got '$2'"
	fi
}

# check NAME COMMAND [ARGS...]: passes if COMMAND exits with status 0.
check() {
	_tine_name=$1
	shift
	if "$@"; then
		pass "$_tine_name"
	else
		fail "$_tine_name" "'$*' failed (status $?)"
	fi
}

tine_done() {
	echo "done passed=$tine_passed failed=$tine_failed"
	[ "$tine_failed" -eq 0 ] && exec /bin/tcdrain 0
	exec /bin/tcdrain 1
}
