# kms.sh: the KMS test fixture, sourced after tests/lib/common.sh.
#   kms_start [server.py args...]   starts tests/kms/server.py with Debian's /usr/bin/python3 on a free
#                                   port of 127.0.0.1; sets KMS_PORT and KMS_PID; stopped at exit
#   kms_stop PID                    stops one server now
#   kms_make_pki DIR                a throw-away CA (ca.pem) and server certificates signed by it:
#                                   server.{pem,key} for 127.0.0.1/localhost, wrong.{pem,key} for
#                                   wrong.example only; and other-ca.pem with other.{pem,key} (right name,
#                                   a CA the client does not trust)
KMS_PYTHON=/usr/bin/python3
KMS_SERVER="$TOP/tests/kms/server.py"
_kms_n=0

kms_start() {
  _kms_n=$((_kms_n + 1))
  local out="$T/kms-$_kms_n.out" err="$T/kms-$_kms_n.err" i
  "$KMS_PYTHON" "$KMS_SERVER" "$@" > "$out" 2> "$err" &
  KMS_PID=$!
  add_cleanup "kill $KMS_PID 2>/dev/null; wait $KMS_PID 2>/dev/null"
  for ((i = 0; i < 200; i++)); do
    KMS_PORT=$(head -n1 "$out" 2>/dev/null || true)
    [ -n "$KMS_PORT" ] && return 0
    kill -0 "$KMS_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$err" >&2
  fail "KMS test server did not start ($*)"
}

kms_stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

_kms_cert() { # DIR NAME CA SAN
  local d=$1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$2.key" -out "$d/$2.csr" \
    -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$4" > "$d/$2.ext"
  openssl x509 -req -in "$d/$2.csr" -CA "$d/$3.pem" -CAkey "$d/$3.key" -CAcreateserial -days 2 \
    -extfile "$d/$2.ext" -out "$d/$2.pem" 2>/dev/null
}

kms_make_pki() {
  local d=$1 ca
  mkdir -p "$d"
  for ca in ca other-ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$ca.key" \
      -out "$d/$ca.pem" -days 2 -subj "/CN=volseal test $ca" 2>/dev/null
  done
  _kms_cert "$d" server ca "IP:127.0.0.1,DNS:localhost"
  _kms_cert "$d" wrong ca "DNS:wrong.example"
  _kms_cert "$d" other other-ca "IP:127.0.0.1,DNS:localhost"
}

# kms_no_secret SECRET_FILE OUTPUT_FILE...: fails when the secret appears raw, as hex or as base64.
kms_no_secret() {
  "$KMS_PYTHON" - "$@" <<'PY' || fail "the KMS secret appeared in client output"
import base64, sys
secret = open(sys.argv[1], "rb").read()
forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret),
         base64.urlsafe_b64encode(secret), base64.b64encode(secret).rstrip(b"=")]
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for f in forms:
        if f in data:
            sys.exit(f"secret found in {path}")
PY
}
