#!/usr/bin/env python3
"""secret-scan.py [--secret-file F]... [--secret TEXT]... PATH...

Looks for secrets in files (directories are walked; special files skipped). Each secret is searched in every
form it could leak in: the raw bytes, base64 (padded, unpadded, URL-safe), hex (lower and upper case), and,
for secrets of 24 bytes or more, each half of the raw bytes (a partial copy). Hex dumps in a file (tpm2-tss's
LOGBLOB lines "0000: 8002...  ....", xxd, hexdump -C) are also read back into bytes and searched, so a
secret split across dump lines is found too. Secrets shorter than 8 bytes are refused (a search for them would find noise). Prints one line per hit ("FOUND <form> of <secret name> in
<file> at <offset>") and exits 1 if anything was found, 0 if not, 2 on usage errors.
"""
import argparse
import base64
import os
import re
import sys

DUMP_LINE = re.compile(rb"^\s*[0-9a-fA-F]{4,8}:\s+((?:[0-9a-fA-F]{2} ?){1,32})", re.M)


def hexdump_bytes(data):
    """The bytes of every hex dump line of data, concatenated (b"" when there are none)."""
    out = []
    for m in DUMP_LINE.finditer(data):
        h = m.group(1).replace(b" ", b"")
        if len(h) % 2 == 0:
            out.append(bytes.fromhex(h.decode()))
    return b"".join(out)


def forms(secret):
    b64 = base64.b64encode(secret)
    out = [("raw", secret), ("base64", b64), ("base64 unpadded", b64.rstrip(b"=")),
           ("base64url", base64.urlsafe_b64encode(secret).rstrip(b"=")),
           ("hex", secret.hex().encode()), ("HEX", secret.hex().upper().encode())]
    if len(secret) >= 24:
        out += [("first half", secret[: len(secret) // 2]), ("second half", secret[len(secret) // 2:])]
    seen, uniq = set(), []
    for name, needle in out:
        if needle not in seen:
            seen.add(needle)
            uniq.append((name, needle))
    return uniq


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    yield os.path.join(root, n)
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret-file", action="append", default=[])
    ap.add_argument("--secret", action="append", default=[])
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    secrets = [(f, open(f, "rb").read()) for f in a.secret_file] + [("text secret", s.encode()) for s in a.secret]
    if not secrets:
        sys.exit("secret-scan: no secret given")
    for name, s in secrets:
        if len(s) < 8:
            print(f"secret-scan: {name} is {len(s)} bytes, too short to search for", file=sys.stderr)
            sys.exit(2)
    needles = [(name, form, n) for name, s in secrets for form, n in forms(s)]
    found = scanned = 0
    for path in files(a.paths):
        if not os.path.isfile(path):
            continue
        try:
            data = open(path, "rb").read()
        except OSError as e:
            print(f"secret-scan: cannot read {path}: {e}", file=sys.stderr)
            sys.exit(2)
        scanned += 1
        dump = hexdump_bytes(data)
        for name, form, n in needles:
            i = data.find(n)
            if i >= 0:
                print(f"FOUND {form} of {name} in {path} at {i}")
                found += 1
            j = dump.find(n) if dump else -1
            if j >= 0:
                print(f"FOUND {form} of {name} in the hex dumps of {path} (byte {j} of the dumped data)")
                found += 1
    if scanned == 0:
        print("secret-scan: nothing to scan", file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
