#!/usr/bin/env bash
# src/kms/ as Talos's KMS key handler reaches a KMS (internal/pkg/encryption/keys/kms.go and the dialer
# of pkg/machinery/client/dialer), against the real gRPC peer (tests/kms/server.py) and a real HTTP
# CONNECT proxy (tests/kms/connect-proxy.py):
#   - HTTPS_PROXY (or https_proxy) is used for every endpoint, plaintext ones too, through a CONNECT to the
#     address gRPC dials (the resolved IP and port); NO_PROXY exempts it; loopback is never proxied;
#   - the node UUID is sent as Talos sends it, an empty one too;
#   - the reference server of siderolabs/kms-client (server.py --reference) binds nothing to the node UUID
#     and answers a blob it cannot open with 32 random bytes, as docs/kms.md says.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/kms/kms.sh"
: "${KMS_CLIENT_TEST:?run from meson (KMS_CLIENT_TEST)}"
uuid=4c4c4544-0042-3510-8052-b4c04f4e3732
run() { # EXPECTED_RC ARGS...: the client with the proxy environment of the caller; output in $last
  local want=$1 rc=0
  shift
  last=$("$KMS_CLIENT_TEST" "$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || fail "kms-client-test $* exited $rc, expected $want: $last"
}
unset HTTPS_PROXY https_proxy NO_PROXY no_proxy HTTP_PROXY http_proxy

# gRPC never proxies loopback, so the proxied calls need an address of this machine that is not.
ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
[ -n "$ip" ] || ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep -v : | head -n1)
[ -n "$ip" ] || fail "this machine has no non-loopback IPv4 address to reach the KMS through a proxy"

kms_start --listen 0.0.0.0 --key-file "$T/kms.key" --log "$T/kms.log"
port=$KMS_PORT
"$KMS_PYTHON" "$TOP/tests/kms/connect-proxy.py" "$T/proxy.log" > "$T/proxy.out" 2> "$T/proxy.err" &
proxy_pid=$!
add_cleanup "kill $proxy_pid 2>/dev/null; wait $proxy_pid 2>/dev/null"
for _ in $(seq 1 200); do [ -s "$T/proxy.out" ] && break; sleep 0.05; done
pport=$(head -n1 "$T/proxy.out")
[ -n "$pport" ] || fail "the CONNECT proxy did not start: $(cat "$T/proxy.err")"
: > "$T/proxy.log"

HTTPS_PROXY="http://127.0.0.1:$pport" run 0 --node-uuid "$uuid" "grpc://$ip:$port" roundtrip 2
grep -qx "CONNECT $ip:$port HTTP/1.1" "$T/proxy.log" || fail "no CONNECT $ip:$port through the proxy: $(cat "$T/proxy.log")"
ok "HTTPS_PROXY: a plaintext grpc:// endpoint goes through an HTTP CONNECT to the dialled IP:port"

: > "$T/proxy.log"
https_proxy="127.0.0.1:$pport" run 0 --node-uuid "$uuid" "$ip:$port" roundtrip
grep -qx "CONNECT $ip:$port HTTP/1.1" "$T/proxy.log" || fail "https_proxy without a scheme was not used"
ok "https_proxy (lower case, no scheme: http://) is used as httpproxy reads it"

: > "$T/proxy.log"
HTTPS_PROXY="http://127.0.0.1:$pport" NO_PROXY="10.0.0.0/8, $ip" run 0 --node-uuid "$uuid" "$ip:$port" roundtrip
[ ! -s "$T/proxy.log" ] || fail "NO_PROXY did not exempt $ip: $(cat "$T/proxy.log")"
HTTPS_PROXY="http://127.0.0.1:$pport" run 0 --node-uuid "$uuid" "127.0.0.1:$port" roundtrip
[ ! -s "$T/proxy.log" ] || fail "a loopback endpoint went through the proxy"
ok "NO_PROXY (IP in a list) and loopback endpoints connect directly"

HTTPS_PROXY="http://127.0.0.1:1" run 10 --timeout-ms 3000 --node-uuid "$uuid" "$ip:$port" roundtrip
contains "$last" "is down"
HTTPS_PROXY="http://127.0.0.1" run 1 --node-uuid "$uuid" "$ip:$port" roundtrip
contains "$last" "the proxy from HTTPS_PROXY cannot be used: it has no port"
ok "a proxy that is down fails the call as down; a proxy without a port is refused (Talos dials host:port)"

# The node UUID goes out as Talos has it: empty too (this server refuses an empty one; the call was made).
run 13 --node-uuid "" "127.0.0.1:$port" seal "$T/kms.key" "$T/x"
contains "$last" "node_uuid is empty"
grep -q '"method": "Seal", "node_uuid": ""' "$T/kms.log" || fail "the empty node UUID did not reach the KMS"
ok "an empty node UUID is sent to the KMS, as Talos sends it"

# Talos's reference server (siderolabs/kms-client pkg/server) as docs/kms.md describes it.
kms_start --reference --key-file "$T/ref.key"
head -c 32 /dev/urandom > "$T/secret"
run 0 --node-uuid "$uuid" "127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/sealed"
[ "$(stat -c %s "$T/sealed")" = 60 ] || fail "reference Seal is not nonce + ciphertext + tag"
run 0 --node-uuid "11111111-2222-3333-4444-555555555555" "127.0.0.1:$KMS_PORT" unseal "$T/sealed" "$T/back"
cmp -s "$T/secret" "$T/back" || fail "the reference server bound the blob to the node UUID"
ok "reference server: no associated data, another node UUID unseals the same secret"
cp "$T/sealed" "$T/bad"
printf '\x00' | dd of="$T/bad" bs=1 seek=20 conv=notrunc status=none
run 0 --node-uuid "$uuid" "127.0.0.1:$KMS_PORT" unseal "$T/bad" "$T/rand"
[ "$(stat -c %s "$T/rand")" = 32 ] && ! cmp -s "$T/rand" "$T/secret" || fail "a blob that does not open was not answered with random bytes"
head -c 16 /dev/urandom > "$T/short"
run 13 --node-uuid "$uuid" "127.0.0.1:$KMS_PORT" seal "$T/short" "$T/x"
contains "$last" "incorrect data length"
ok "reference server: a blob that does not open gets 32 random bytes (no error); Seal takes 32 bytes only"
done_testing
