#!/bin/sh
# shell.sh: busybox sh as init (rdinit=/bin/sh -- /tests/shell.sh), run the
# same way on Tine and on Linux (tests/busybox.toml): pipelines, subshells,
# background jobs and wait, exit statuses ($?: exit codes, 128+signal),
# signals and traps, redirections, command substitution, #! scripts, and
# the seed programs raspbian_proc and rpi_proc_exit.
. /tests/tine_test.sh

# --- who we are
check_eq init.pid "$$" 1
check_eq uname.s "$(uname -s)" Linux
check_eq id.u "$(id -u)" 0
check_eq id.un "$(id -un)" root

# --- pipelines
check_eq pipe.wc_w "$(echo a b c | wc -w)" 3
check_eq pipe.three_stages "$(seq 1 100 | grep 5 | wc -l)" 19
check_eq pipe.four_stages "$(echo hello | tr a-z A-Z | sed s/L/l/g | cat)" HEllO
check_eq pipe.big "$(seq 1 20000 | wc -l)" 20000
check_eq pipe.binary "$(cat /bin/busybox | wc -c)" "$(wc -c < /bin/busybox)"
false | true
check_eq pipe.status_last_true "$?" 0
true | false
check_eq pipe.status_last_false "$?" 1
check_eq pipe.while_read "$(printf 'a\nb\nc\n' | while read l; do echo "<$l>"; done | tr -d '\n')" "<a><b><c>"

# --- subshells and command substitution
( exit 4 )
check_eq subshell.exit "$?" 4
x=1
( x=2 )
check_eq subshell.isolated "$x" 1
check_eq subst.simple "$(echo hi)" hi
check_eq subst.nested "$(echo $(echo a)b)" ab
check_eq subst.backquote "`echo bq`" bq
check_eq subshell.dollar_dollar "$(echo $$)" "$$"
check_eq child.ppid "$(sh -c 'echo $PPID')" "$$"
child_pid=$(sh -c 'echo $$')
check child.own_pid test "$child_pid" -gt 1
check_eq subshell.trap_exit "$( (trap 'echo bye' EXIT; true) )" bye

# --- exit statuses
sh -c 'exit 3'
check_eq sh_c.exit3 "$?" 3
sh -c 'exit 255'
check_eq sh_c.exit255 "$?" 255
no_such_command_here 2>/dev/null
check_eq status.not_found "$?" 127
/etc/passwd 2>/dev/null
check_eq status.not_executable "$?" 126
segfault
check_eq status.segv "$?" 139
sh -c 'kill -9 $$'
check_eq status.self_kill "$?" 137

# --- background jobs and wait
sleep 1 &
p=$!
wait $p
check_eq bg.wait_sleep "$?" 0
sh -c 'exit 2' &
a=$!
sh -c 'exit 5' &
b=$!
wait $b
check_eq bg.wait_second "$?" 5
wait $a
check_eq bg.wait_first "$?" 2
for i in 1 2 3 4 5; do
	sh -c "exit $i" &
done
wait
check_eq bg.wait_all "$?" 0
sleep 10 &
p=$!
kill -9 $p
wait $p
check_eq bg.kill9 "$?" 137
sleep 10 &
p=$!
kill -TERM $p
wait $p
check_eq bg.kill_term "$?" 143
sleep 10 &
p=$!
kill $p
wait $p
check_eq bg.kill_default "$?" 143
check bg.kill_gone_pid_fails sh -c "! kill -0 $p 2>/dev/null"

# --- the seed programs
raspbian_proc > /tmp/raspbian.out &
p=$!
i=0
while [ ! -s /tmp/raspbian.out ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check raspbian_proc.running kill -0 $p
kill -9 $p
wait $p
check_eq raspbian_proc.killed "$?" 137
check_eq raspbian_proc.printed "$(head -n 1 /tmp/raspbian.out)" "raspbian tracing "
rpi_proc_exit > /tmp/rpi.out
check_eq rpi_proc_exit.status "$?" 0
check_eq rpi_proc_exit.lines "$(grep -c 'rpi tracing' /tmp/rpi.out)" 3

# --- zombies and daemons (their own checks go to files)
zombie 1 > /tmp/zombie.out
check_eq zombie.status "$?" 0
check zombie.printed grep -q "^zombie: reaped " /tmp/zombie.out
daemon -s > /tmp/daemon.out
check_eq daemon.status "$?" 0
check daemon.no_fail sh -c '! grep -q ^FAIL /tmp/daemon.out'

# --- signals and traps
got=
trap 'got=usr1' USR1
kill -USR1 $$
check_eq trap.usr1 "$got" usr1
trap - USR1
got=
trap 'got=term' TERM
kill -TERM $$
check_eq trap.term "$got" term
trap - TERM
check_eq trap.in_child "$(sh -c 'trap "echo caught" USR2; kill -USR2 $$; echo after')" "caught
after"
check kill.zero kill -0 $$

# --- redirections and files
echo one > /tmp/f
echo two >> /tmp/f
check_eq redir.append "$(cat /tmp/f)" "one
two"
check_eq redir.stdin "$(wc -l < /tmp/f)" 2
ls /nonexistent 2> /tmp/err
check_eq redir.ls_status "$?" 1
check redir.stderr grep -q nonexistent /tmp/err
check_eq redir.2to1 "$(ls /nonexistent 2>&1 >/dev/null | grep -c nonexistent)" 1
exec 3> /tmp/fd3
echo via3 >&3
exec 3>&-
check_eq redir.fd3 "$(cat /tmp/fd3)" via3
check_eq redir.heredoc "$(cat <<END
line $x
END
)" "line 1"
mkdir -p /tmp/d/e
check mkdir.p test -d /tmp/d/e
rm -r /tmp/d
check rm.r test ! -e /tmp/d
printf '#!/bin/sh\necho script "$@"\nexit 6\n' > /tmp/s.sh
chmod +x /tmp/s.sh
check_eq script.output "$(/tmp/s.sh a b)" "script a b"
/tmp/s.sh >/dev/null
check_eq script.status "$?" 6

# --- directories and limits
set -- /bin/*
check_eq ls.bin_count "$(ls /bin | wc -l)" "$#"
check ls.bin_many test "$#" -gt 100
check_eq cd.tmp "$(cd /tmp && pwd)" /tmp
cd /tmp
check_eq cd.pwd_P "$(pwd -P)" /tmp
cd /
check_eq ulimit.n "$(ulimit -n)" 1024
check_eq ulimit.n_inherited "$(ulimit -n 64; sh -c 'ulimit -n')" 64

tine_done
