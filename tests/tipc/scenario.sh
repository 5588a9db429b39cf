# The scenario test_tipc_vm.py runs inside its VM (busybox sh, as root, the
# VM's only user). It prints its findings as `@@ NAME key=value ...` lines,
# which the test parses and judges; everything else on the console is for a
# reader of a failure. It never prints a key: tofurkey's output is shown
# only through lines the test checks for that.
#
# /config sets: INTERVAL, T0 (a time before the rollover), TR (the rollover
# instant, a multiple of INTERVAL), SKEW (seconds B's clock lags A's).
# /keys holds main (the cluster's main key), next (its successor from TR on)
# and other (a key of another cluster).

. /config
# busybox's shell runs its own `ip` applet before any on PATH: iproute2's
# is needed for netns.
ip() { /usr/bin/ip "$@"; }
SERVICE="18888 17"
MARKER=TOFURKEY-PLAINTEXT-MARKER
ROLLOVER="--next-key /keys/next --next-key-at $TR"
LOG=/tmp/tofurkey.log

in_ns() { ns=$1; shift; ip netns exec "$ns" "$@"; }

# How many error lines the last tofurkey run wrote, and how many name TIPC.
errors() {
    echo "errors=$(grep -c '^error' "$LOG") tipc_named=$(grep '^error' "$LOG" | grep -ci tipc)"
}

# Whether the last run set the master key or found it in place (its entry).
master() {
    echo "set=$(grep -c 'TIPC master key id [0-9a-f]* set' "$LOG") in_place=$(grep -c 'TIPC master key id [0-9a-f]* in place' "$LOG")"
}

# key NS UNIXTIME [ARGS...]: one tofurkey run in NS, as the timer would run
# it at UNIXTIME; prints a result line with its exit code and how many
# error lines it wrote.
key() {
    ns=$1 now=$2
    shift 2
    in_ns "$ns" tofurkey -k /keys/main $ROLLOVER -i "$INTERVAL" -T "$now" --tipc "$@" >"$LOG" 2>&1
    rc=$?
    echo "@@ key ns=$ns now=$now rc=$rc $(errors) $(master)"
    [ "$rc" = 0 ] || sed 's/^/## tofurkey: /' "$LOG"
}

# node NS ID: a TIPC node with its identity (keyed by tofurkey later).
node() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    in_ns "$1" tipc node set identity "$2"
}

# wire NS1 DEV1 NS2 DEV2: a veth between two namespaces, with an Ethernet
# bearer at each end.
wire() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
    in_ns "$1" tipc bearer enable media eth dev "$2"
    in_ns "$3" tipc bearer enable media eth dev "$4"
}

# send NAME NS COUNT [WAIT_S]: COUNT numbered messages from NS to B's
# service, 10 ms apart; the result line carries NAME.
send() {
    echo "@@ $1 $(in_ns "$2" tipc_peer send $SERVICE "$3" 10 "${4:-15}")"
}

# capture NAME SECONDS: counts the frames on B's end of the A-B veth,
# in the background; `wait $CAPTURE` ends it and prints its line.
capture() {
    (echo "@@ $1 $(in_ns b tipc_peer capture vb "$2" $MARKER | tail -n 1)") &
    CAPTURE=$!
    sleep 1  # the socket is bound before the first message
}

# activations NS: the session keys the kernel switched to since the last
# `dmesg -c` (its "key[N] is activated" lines), for TX and RX.
activations() {
    echo "@@ $1 tx=$(dmesg | grep -c 'TX(.*): key\[[0-9]\] is activated') rx=$(dmesg | grep -c 'RX(.*): key\[[0-9]\] is activated')"
}

tfo_key() { in_ns "$1" cat /proc/sys/net/ipv4/tcp_fastopen_key; }

echo "## (f) absence: no TIPC in the kernel, then TIPC without a node identity"
# A kernel without TIPC: the module cannot be loaded (the kernel's
# request_module gets a modprobe that does not exist).
echo /nonexistent > /proc/sys/kernel/modprobe
ip netns add f1
key f1 "$T0"
echo "@@ absent_module tipc_loaded=$(grep -c '^tipc ' /proc/modules) tfo_set=$( [ "$(tfo_key f1)" != 00000000-00000000-00000000-00000000 ] && echo 1 || echo 0)"
sed -n 's/^error/## error/p' "$LOG"
echo /sbin/modprobe > /proc/sys/kernel/modprobe
modprobe tipc || echo "@@ fatal modprobe tipc failed"
modprobe veth || echo "@@ fatal modprobe veth failed"
ip netns add f2
key f2 "$T0"
echo "@@ absent_identity tfo_set=$( [ "$(tfo_key f2)" != 00000000-00000000-00000000-00000000 ] && echo 1 || echo 0)"
sed -n 's/^error/## error/p' "$LOG"
# The TFO key of those runs, against a run without --tipc at the same time.
ip netns add f3
in_ns f3 tofurkey -k /keys/main $ROLLOVER -i "$INTERVAL" -T "$T0" >/dev/null 2>&1
echo "@@ absent_tfo same_as_without_tipc=$( [ "$(tfo_key f1)" = "$(tfo_key f3)" ] && [ "$(tfo_key f2)" = "$(tfo_key f3)" ] && echo 1 || echo 0)"

echo "## (a) two nodes: unkeyed (the capture's control), then keyed by tofurkey"
node a 0a0a
node b 0b0b
wire a va b vb
in_ns b tipc_peer serve $SERVICE >/dev/null &
capture plain_capture 5
send plain_send a 200
wait $CAPTURE
key a "$T0"
key b "$T0"
capture keyed_capture 5
send keyed_send a 200
wait $CAPTURE

echo "## (b) node C, keyed from another main key, beside B"
node c 0c0c
in_ns c tofurkey -k /keys/other -i "$INTERVAL" -T "$T0" --tipc >"$LOG" 2>&1
echo "@@ key_other ns=c now=$T0 rc=$? $(errors)"
wire c vc b vbc
sleep 3
send foreign_send c 20 10
echo "@@ foreign_links b_to_c=$(in_ns b tipc link list | grep -c '0c0c.*: up') c_to_b=$(in_ns c tipc link list | grep -c '0b0b.*: up')"
# The control: the same node keyed from the cluster's key joins.
key c "$T0"
send member_send c 20 20
in_ns c tipc bearer disable media eth dev vc

echo "## (c, d) --tipc-rekeying 1 and 20 timer runs on each node while messages flow"
dmesg -c >/dev/null
START=$(cut -d. -f1 /proc/uptime)
key a "$((T0 + 10))" --tipc-rekeying 1
key b "$((T0 + 10))" --tipc-rekeying 1
# 85 s of messages: the kernel rekeys 60 s after the interval was set and
# switches to the new key about 10 s later.
in_ns a tipc_peer send $SERVICE 8500 10 15 >/tmp/flow &
FLOW=$!
i=1
while [ $i -le 20 ]; do
    sleep 3
    key a "$((T0 + 10 + 3 * i))" --tipc-rekeying 1
    key b "$((T0 + 10 + 3 * i))" --tipc-rekeying 1
    i=$((i + 1))
done
wait $FLOW
echo "@@ repeat_send $(cat /tmp/flow)"
activations rekeyed
echo "@@ rekey_window seconds=$(($(cut -d. -f1 /proc/uptime) - START))"
dmesg | grep -E 'tipc: .*(activated|rekeying|revoked)' | sed 's/^/## /'
capture rekeyed_capture 5
send rekeyed_send a 200
wait $CAPTURE

echo "## (e) rollover at TR: A switches while B, ${SKEW} s behind, has not; then B"
dmesg -c >/dev/null
in_ns a tipc_peer send $SERVICE 2500 10 15 >/tmp/flow &
FLOW=$!
sleep 3
key a "$TR"
key b "$((TR - SKEW))"
sleep 10  # the mixed period: A on the next key, B on the current one
key b "$TR"
wait $FLOW
echo "@@ rollover_send $(cat /tmp/flow)"
activations rollover_keys
# A link made anew while the nodes disagree: C, whose bearer was down
# through the rollover, comes back still before TR (its clock behind),
# so on the old key, while B is on the next one.
echo "## (e') a new link in the mixed period: C still before TR, B after"
in_ns c tipc bearer enable media eth dev vc
key c "$((TR - SKEW))"
send mixed_new_link c 20 10
key c "$TR"
send after_new_link c 20 20

echo "## (g) a namespace made again (its inode number may come back) gets the key again"
node g 0d0d
key g "$T0"
ip netns del g
node g 0d0d
key g "$T0"

echo "## (h) a stamp directory another user could change: refused, not trusted"
chmod 0777 /run/tofurkey
key g "$T0"
echo "@@ loose_stamp_dir named=$(grep '^error' "$LOG" | grep -c 'can be changed by another user')"
chmod 0700 /run/tofurkey

echo "@@ end"
