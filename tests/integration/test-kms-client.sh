#!/usr/bin/env bash
# src/kms/ against a real HTTP/2 gRPC peer (tests/kms/server.py): round trips in plaintext and TLS,
# certificate checks, each misbehaviour's distinct error, connection reuse, and the secret never
# reaching the client's stdout/stderr.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/kms/kms.sh"
: "${KMS_CLIENT_TEST:?run from meson (KMS_CLIENT_TEST)}"
kc() { "$KMS_CLIENT_TEST" "$@"; }
uuid=4c4c4544-0042-3510-8052-b4c04f4e3732
out="$T/out"     # every client run's stdout+stderr is appended here, checked for the secret at the end
# run EXPECTED_RC ARGS...: runs the client, appends its output to $out, keeps the last output in $last.
run() {
  local want=$1 rc=0
  shift
  last=$(kc "$@" 2>&1) || rc=$?
  printf '%s\n' "$last" >> "$out"
  [ "$rc" = "$want" ] || fail "kms-client-test $* exited $rc, expected $want: $last"
}
head -c 32 /dev/urandom > "$T/secret"
: > "$out"

# --- plaintext: host:port and grpc://host:port
kms_start --key-file "$T/kms.key" --log "$T/kms.log" --mode-file "$T/mode"
plain_port=$KMS_PORT
run 0 --node-uuid "$uuid" "127.0.0.1:$plain_port" seal "$T/secret" "$T/sealed"
contains "$last" "ok: sealed 32 bytes into 60 bytes"
[ "$(stat -c %s "$T/sealed")" = 60 ] || fail "sealed blob is not nonce+ciphertext+tag (60 bytes)"
run 0 --node-uuid "$uuid" "grpc://127.0.0.1:$plain_port" unseal "$T/sealed" "$T/back"
cmp -s "$T/secret" "$T/back" || fail "plaintext round trip returned other bytes"
grep -q "\"method\": \"Seal\", \"node_uuid\": \"$uuid\"" "$T/kms.log" || fail "server did not see the node UUID"
ok "plaintext Seal/Unseal round trip (host:port and grpc://), node UUID sent"

# the AEAD binds the node UUID: another node's Unseal is refused by the server -> grpc error
run 13 --node-uuid 00000000-1111-2222-3333-444444444444 "127.0.0.1:$plain_port" unseal "$T/sealed" "$T/x"
contains "$last" "INVALID_ARGUMENT"
contains "$last" "failed to unseal"
contains "$last" "error kind: grpc-error"
ok "Unseal for another node UUID: grpc-status INVALID_ARGUMENT with its message"

# --- misbehaviour, each with its own error (mode switched at run time on the same server)
echo error > "$T/mode"
run 13 --node-uuid "$uuid" "127.0.0.1:$plain_port" seal "$T/secret" "$T/x"
contains "$last" "PERMISSION_DENIED"
contains "$last" "node is not allowed to use this KMS (test)"
ok "gRPC error status -> grpc-error, status name and grpc-message reported"

echo garbage > "$T/mode"
run 12 --node-uuid "$uuid" "127.0.0.1:$plain_port" unseal "$T/sealed" "$T/x"
contains "$last" "sent garbage"
contains "$last" "not a sidero.kms.Response message"
ok "garbage Response bytes -> garbage"

echo wrong-size > "$T/mode"
run 0 --node-uuid "$uuid" "127.0.0.1:$plain_port" unseal "$T/sealed" "$T/x"
contains "$last" "unsealed 16 bytes"
[ "$(stat -c %s "$T/x")" = 16 ] || fail "the 16-byte secret was not handed out as is"
ok "a 16-byte secret is taken as Talos takes any length (the keyslot check decides)"

echo wrong-secret > "$T/mode"
run 16 --node-uuid "$uuid" "127.0.0.1:$plain_port" roundtrip 1
ok "a well-formed but wrong secret is returned as is (the keyslot check catches it)"

echo slow > "$T/mode"
start=$(date +%s%N)
run 11 --timeout-ms 800 --node-uuid "$uuid" "127.0.0.1:$plain_port" seal "$T/secret" "$T/x"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
contains "$last" "too slow"
contains "$last" "within 800 ms"
[ "$ms" -lt 4000 ] || fail "the timeout did not cut the call short (${ms} ms)"
ok "a server slower than the timeout -> slow after ~800 ms (took ${ms} ms)"
echo ok > "$T/mode"

kms_start --mode down
run 10 --node-uuid "$uuid" "127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/x"
contains "$last" "is down"
ok "nothing listening -> down"

kms_start --mode not-grpc
run 12 --node-uuid "$uuid" "127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/x"
contains "$last" "sent garbage"
ok "an HTTP/1.1 server -> garbage"

# --- endpoints the client refuses before connecting
run 3 "unix:///run/kms.sock" roundtrip
contains "$last" "KMS endpoint 'unix:///run/kms.sock' cannot be used: it names no host"
run 3 "grpc://127.0.0.1:" roundtrip
contains "$last" "its port is empty"
run 3 --ca "$T/missing.pem" "https://127.0.0.1:1" roundtrip
contains "$last" "cannot be read"
ok "no host, an empty port, an unreadable CA file: refused up front"

# --- endpoints as Talos reads them: the path and query are ignored, every scheme but grpc is TLS
run 0 --node-uuid "$uuid" "grpc://127.0.0.1:$plain_port/some/path?x=1" roundtrip
run 15 "http://127.0.0.1:$plain_port" roundtrip
contains "$last" "TLS handshake failed"
ok "grpc://host:port/path?query is host:port; http:// is TLS as for Talos (a plaintext server fails the handshake)"

# --- TLS with the test CA
kms_make_pki "$T/pki"
kms_start --key-file "$T/kms.key" --log "$T/tls.log" --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key"
tls_port=$KMS_PORT
run 0 --ca "$T/pki/ca.pem" --node-uuid "$uuid" "https://127.0.0.1:$tls_port" unseal "$T/sealed" "$T/back2"
cmp -s "$T/secret" "$T/back2" || fail "TLS unseal returned other bytes"
run 0 --ca "$T/pki/ca.pem" --node-uuid "$uuid" "https://localhost:$tls_port" roundtrip 3
contains "$last" "ok: round trip 3"
ok "TLS (ALPN h2) with the test CA: Unseal of the plaintext-sealed blob, 3 round trips"

peers=$(grep -c . "$T/tls.log")
[ "$peers" = 7 ] || fail "expected 7 TLS calls in the server log, got $peers"
distinct=$(tail -n 6 "$T/tls.log" | sed 's/.*"peer": "\([^"]*\)".*/\1/' | sort -u | wc -l)
[ "$distinct" = 1 ] || fail "the 6 calls of one client used $distinct connections"
ok "one TLS connection carries every call of a client"

run 15 --ca "$T/pki/other-ca.pem" "https://127.0.0.1:$tls_port" roundtrip
contains "$last" "not trusted by the KMS CA file"
run 15 "https://127.0.0.1:$tls_port" roundtrip
contains "$last" "not trusted by the system CA store"
ok "TLS verified against the CA file given, else the system store: the test CA's server refused by both"

kms_start --tls-cert "$T/pki/wrong.pem" --tls-key "$T/pki/wrong.key"
run 15 --ca "$T/pki/ca.pem" --node-uuid "$uuid" "https://127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/x"
contains "$last" "certificate"
ok "TLS server certificate for the wrong name refused"

kms_start --tls-cert "$T/pki/other.pem" --tls-key "$T/pki/other.key"
run 15 --ca "$T/pki/ca.pem" --node-uuid "$uuid" "https://127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/x"
ok "TLS server certificate from another CA refused"

kms_start --mode not-grpc --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key"
run 15 --ca "$T/pki/ca.pem" --node-uuid "$uuid" "https://127.0.0.1:$KMS_PORT" seal "$T/secret" "$T/x"
contains "$last" "does not speak HTTP/2"
ok "a TLS server without h2 (ALPN http/1.1) -> tls"

# The TLS server hangs up on an HTTP/2 preface: whether the client first reads the alert bytes (garbage) or
# the hang-up (down) is a race of the peer's close, so either kind is right; success is not.
rc=0; last=$(kc "127.0.0.1:$tls_port" roundtrip 2>&1) || rc=$?
printf '%s\n' "$last" >> "$out"
[ "$rc" = 10 ] || [ "$rc" = 12 ] || fail "plaintext against a TLS server exited $rc: $last"
ok "plaintext against a TLS server -> down or garbage ($(echo "$last" | sed -n 's/.*error kind: //p'))"

# --- the secret never reached stdout/stderr of any run (raw, hex or base64)
[ "$(grep -c . "$out")" -gt 10 ] || fail "collected too little output to mean anything"
kms_no_secret "$T/secret" "$out"
{ echo "volseal: x"; base64 "$T/secret"; } > "$T/planted-out"
! ( kms_no_secret "$T/secret" "$T/planted-out" ) > /dev/null 2>&1 || fail "the secret check misses a planted secret"
ok "the secret never appears in the client's output"
done_testing
