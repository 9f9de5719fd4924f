#!/bin/sh
# agent-tls.sh - `aether serve` and `aether remote` over amqps:// against a
# real TLS listener of the private broker (RMQ_TLS=1 in
# tests/rabbitmq-lib.sh: a private CA, a server certificate for 127.0.0.1).
# With [amqp] cacert = that CA and verify = yes, create, status, list and
# delete work and the broker sees only TLS connections; a client trusting
# an unrelated CA is refused with a certificate error; verify = no
# connects whatever the CA; amqps:// to the plain AMQP port fails with an
# error instead of hanging.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
command -v openssl >/dev/null 2>&1 ||
	skip "openssl is not installed (Debian package openssl): no certificates for the TLS listener"
RMQ_TLS=1
export RMQ_TLS
ag_setup
[ -n "$RMQ_TLS_PORT" ] && [ -f "$RMQ_CACERT" ] ||
	fail "rmq_start with RMQ_TLS=1 exported no TLS listener (RMQ_TLS_PORT='$RMQ_TLS_PORT')"
case $RMQ_TLS_URL in
amqps://127.0.0.1:"$RMQ_TLS_PORT"/%2f) ;;
*) fail "RMQ_TLS_URL is '$RMQ_TLS_URL'" ;;
esac

# Bound every client run: a TLS failure must be an error, never a hang.
TMO=60
# tls_conf FILE CACERT VERIFY: FILE's [amqp] url becomes the TLS URL, with
# cacert and verify after it.
tls_conf() {
	sed "s|^url = $RMQ_URL\$|url = $RMQ_TLS_URL\\
cacert = $2\\
verify = $3|" "$1" >"$1.new" && mv "$1.new" "$1" || fail "edit $1"
	grep -q "^url = $RMQ_TLS_URL\$" "$1" || fail "$1: no TLS URL: $(cat "$1")"
}
cp "$WORK/client.conf" "$WORK/client-plain.conf"
ag_host a
tls_conf "$WORK/a/host.conf" "$RMQ_CACERT" yes
tls_conf "$WORK/client.conf" "$RMQ_CACERT" yes
ag_serve a
grep -q "serving amqps://127.0.0.1:$RMQ_TLS_PORT/" "$WORK/a/agent.log" ||
	fail "the agent does not say it serves the TLS URL: $(cat "$WORK/a/agent.log")"

# trem CMD...: the client, bounded; its output in $WORK/out, status in rc.
trem() {
	timeout "$TMO" "$AETHER" "$@" >"$WORK/out" 2>&1
	rc=$?
	[ $rc = 124 ] && fail "aether $*: still running after ${TMO}s: $(cat "$WORK/out")"
	return $rc
}
# AMQP connections of the broker as "ssl peer_port user" lines.
conns() { rmq_ctl list_connections -q ssl peer_port user 2>/dev/null | grep -E '^(true|false)'; }

# The agent's connection is TLS (the broker says so, not just the URL).
[ "$(conns | awk '$1 == "true"' | wc -l)" -ge 1 ] ||
	fail "the broker has no TLS connection from the agent: $(conns)"
[ -z "$(conns | awk '$1 != "true"')" ] ||
	fail "plain AMQP connections with a TLS-only agent: $(conns)"
pass "aether serve (verify = yes, the broker's CA) is connected over TLS"

# Lifecycle through aether remote over amqps, verifying the broker.
blog=$RMQ_DIR/log/$RMQ_NODE.log
log0=$(($(wc -l <"$blog") + 1))
C="-c $WORK/client.conf remote"
trem $C create t1 --image base.qcow2 --no-start || fail "remote create over amqps: $(cat "$WORK/out")"
expect "$WORK/out" '^t1: created on host host-a$' "remote create over amqps"
[ "$(vms_of a)" = t1 ] || fail "host a's store after create: '$(vms_of a)'"
trem $C status t1 || fail "remote status over amqps: $(cat "$WORK/out")"
grep -q '"name": "t1"' "$WORK/out" || fail "status does not name t1: $(cat "$WORK/out")"
expect "$WORK/out" '"state": "created"' "remote status over amqps"
trem $C list || fail "remote list over amqps: $(cat "$WORK/out")"
expect "$WORK/out" '^t1 +host-a ' "remote list over amqps"

# The client's connections went to the TLS listener, none to the plain one
# (the broker logs the listener of every connection it accepts).
i=0
while [ "$(tail -n +"$log0" "$blog" | grep -c 'accepting AMQP connection')" -lt 3 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
n_tls=$(tail -n +"$log0" "$blog" | grep -c "accepting AMQP connection .*-> 127.0.0.1:$RMQ_TLS_PORT)")
n_plain=$(tail -n +"$log0" "$blog" | grep -c "accepting AMQP connection .*-> 127.0.0.1:$RMQ_PORT)")
[ "$n_tls" -ge 3 ] && [ "$n_plain" = 0 ] ||
	fail "create, status and list: $n_tls connections to the TLS port, $n_plain to the plain one"
pass "aether remote connected to the TLS listener only ($n_tls connections)"

# An unrelated CA with verify = yes: refused, saying it is the certificate.
rmq_make_ca "$WORK/other" "unrelated CA" || fail "cannot make a second CA"
cp "$WORK/client-plain.conf" "$WORK/client-other.conf"
tls_conf "$WORK/client-other.conf" "$WORK/other/ca.pem" yes
if trem -c "$WORK/client-other.conf" remote list; then
	fail "a client trusting an unrelated CA connected with verify = yes: $(cat "$WORK/out")"
fi
expect "$WORK/out" "remote: amqps://127.0.0.1:$RMQ_TLS_PORT/: SSL peer cert verification failed: the broker's certificate is not signed by a CA of \\[amqp\\] cacert $WORK/other/ca.pem" \
	"an unrelated CA with verify = yes: refused with a certificate error naming the broker and the CA file"
cp "$WORK/out" "$WORK/wrong-ca.err"
# The same with no cacert at all.
sed "s|^url = $RMQ_URL\$|url = $RMQ_TLS_URL|" "$WORK/client-plain.conf" >"$WORK/client-nocacert.conf"
if trem -c "$WORK/client-nocacert.conf" remote list; then
	fail "a client with verify = yes and no cacert trusted the private CA: $(cat "$WORK/out")"
fi
expect "$WORK/out" "remote: amqps://127.0.0.1:$RMQ_TLS_PORT/: SSL peer cert verification failed: the broker's certificate is not signed by a CA of the system bundle" \
	"verify = yes without cacert: the private CA is not trusted (certificate error naming the system bundle)"

# verify = no: the same unrelated CA connects (and works).
cp "$WORK/client-plain.conf" "$WORK/client-noverify.conf"
tls_conf "$WORK/client-noverify.conf" "$WORK/other/ca.pem" no
trem -c "$WORK/client-noverify.conf" remote list ||
	fail "verify = no with an unrelated CA: $(cat "$WORK/out")"
expect "$WORK/out" '^t1 +host-a ' "verify = no connects whatever the CA"

# amqps:// to the plain AMQP port: an error (no TLS server there), not a
# hang (trem bounds it).
if trem $C --amqp "amqps://127.0.0.1:$RMQ_PORT/%2f" list; then
	fail "amqps to the plain AMQP port succeeded: $(cat "$WORK/out")"
fi
expect "$WORK/out" "remote: amqps://127.0.0.1:$RMQ_PORT/: SSL handshake failed: is port $RMQ_PORT a TLS \\(amqps\\) listener\\?" \
	"amqps to the plain AMQP port: a TLS handshake error naming the URL"
cp "$WORK/out" "$WORK/plain-port.err"
# And amqp:// (no TLS) to the TLS port: an error too, bounded.
if trem $C --amqp "amqp://127.0.0.1:$RMQ_TLS_PORT/%2f" list; then
	fail "plain amqp to the TLS port succeeded: $(cat "$WORK/out")"
fi
expect "$WORK/out" "remote: amqp://127.0.0.1:$RMQ_TLS_PORT/: login as $RMQ_USER: .*\\(a TLS listener\\? it needs amqps://\\)" \
	"plain amqp to the TLS port: a login error saying it needs amqps://"

# Delete over amqps; the agent kept serving through all of the above.
trem $C delete --force t1 || fail "remote delete over amqps: $(cat "$WORK/out")"
[ -z "$(vms_of a)" ] || fail "VMs left after delete: $(vms_of a)"
trem $C list || fail "remote list after delete: $(cat "$WORK/out")"
grep -q '^t1 ' "$WORK/out" && fail "t1 still listed after delete: $(cat "$WORK/out")"
pass "remote delete over amqps"
ag_stop a
log "error with an unrelated CA: $(cat "$WORK/wrong-ca.err")"
log "error with amqps to the plain port: $(cat "$WORK/plain-port.err")"
