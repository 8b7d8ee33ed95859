# esl.sh: EFI signature lists for the PCR 7 tests (sourced after common.sh).
#   hash_esl OUT HEXHASH...   one EFI_CERT_SHA256 list (EFI_SIGNATURE_LIST layout) owned by
#                             11111111-2222-3333-4444-555555555555
hash_esl() {
  python3 - "$@" <<'PY'
import struct, sys, uuid
out, hashes = sys.argv[1], sys.argv[2:]
owner = uuid.UUID("11111111-2222-3333-4444-555555555555").bytes_le
sha256 = uuid.UUID("c1c41626-504c-4092-aca9-41f936934328").bytes_le
sigs = b"".join(owner + bytes.fromhex(h) for h in hashes)
open(out, "wb").write(sha256 + struct.pack("<III", 28 + len(sigs), 0, 48) + sigs)
PY
}
