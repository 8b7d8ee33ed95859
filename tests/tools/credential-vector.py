#!/usr/bin/env python3
# credential-vector.py: an independent computation (Python hmac + pyca/cryptography, not volseal's code) of
# the TPM2_MakeCredential credential blob for a fixed seed, used as the known answer in
# tests/unit/test-credential.c. TPM 2.0 Part 1 §24: symKey = KDFa(SHA-256, seed, "STORAGE", name, "", 128),
# encIdentity = AES-128-CFB(symKey, IV=0, TPM2B_DIGEST(cred)), HMACkey = KDFa(seed, "INTEGRITY", "", "", 256),
# blob = TPM2B(HMAC-SHA256(HMACkey, encIdentity || name)) || encIdentity.
import hashlib, hmac, struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

def kdfa(key, label, u, v, bits):
    out, i = b"", 1
    while len(out) < bits // 8:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + u + v + struct.pack(">I", bits), hashlib.sha256).digest()
        i += 1
    return out[: bits // 8]

seed = bytes(range(32))
name = bytes.fromhex("000b") + hashlib.sha256(b"volseal test AK").digest()
cred = bytes(range(0x40, 0x60))
sym = kdfa(seed, b"STORAGE", name, b"", 128)
enc = Cipher(algorithms.AES(sym), modes.CFB(bytes(16))).encryptor()
ident = enc.update(struct.pack(">H", len(cred)) + cred) + enc.finalize()
hk = kdfa(seed, b"INTEGRITY", b"", b"", 256)
mac = hmac.new(hk, ident + name, hashlib.sha256).digest()
blob = struct.pack(">H", len(mac)) + mac + ident
print("kdfa STORAGE", sym.hex())
print("kdfa INTEGRITY", hk.hex())
print("blob", blob.hex())
