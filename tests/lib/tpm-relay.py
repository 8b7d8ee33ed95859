#!/usr/bin/env python3
"""tpm-relay.py [--trace TRACE_FILE] [--mark LOG] [--snapshot DIR STATE_DIR] TARGET_PORT CAPTURE_FILE COMMANDS_FILE
               [INJECT_FLAG_FILE]

A capturing TCP relay in front of a swtpm: listens on 127.0.0.1 ports M (data) and M+1 (control), forwards
each connection to TARGET_PORT and TARGET_PORT+1, and appends every byte in both directions to CAPTURE_FILE.
Each TPM command seen on the data port is appended to COMMANDS_FILE as "0x<command code>" (one a line), so
tests can count the commands of an operation. Prints M on stdout once listening, then runs until killed.
With --trace, each command is also appended to TRACE_FILE as "0x<command code> <the whole command, hex>"
(one a line, same order), the input of tests/bench/tpm-model.py, which reads what decides a command's cost
(salted or not, key types) from the bytes.
With --mark, each command that changes the TPM's non-volatile memory (NV_WRITES below: NV_DefineSpace,
NV_Write, NV_UndefineSpace, EvictControl, ...) is appended to LOG as "tpm 0x<code>" when it arrives, before
it is forwarded: LOG is the crash recorder's log (tests/crash/recorder.c, tests/lib/crash.sh), so the line
sits exactly between the writes the client made before that command and those it makes after (it waits
for the answer). With --snapshot, once the TPM answered the N-th such command (and before the client sees
the answer) the swtpm's NV file in STATE_DIR is copied to DIR/N/: the TPM's state after that write, which
the swtpm stores before it answers.

With INJECT_FLAG_FILE: when a TPM2_PolicyPCR command arrives while that file exists, the relay first sends
the TPM its own TPM2_PCR_Extend(11, sha256 bank, <32 bytes of the file, hex>) and swallows the answer, then
removes the file and forwards the PolicyPCR: PCR 11 moves between the client's PCR_Read and its PolicyPCR,
the race volseal must survive (TPM_RC_VALUE, re-read, retry). A second word N in the file ("<hex> N")
lets N-1 PolicyPCR commands pass first (the file counts down), e.g. to move PCR 11 before a later volume.
A file reading "ticket [N]" instead corrupts the N-th TPM2_PolicyAuthorize from then on (default: the next
one): the last byte of its checkTicket digest is flipped, so the TPM refuses the ticket; the file is then
removed. A file reading "refuse:CC:RC [N]" (hex) answers the N-th command with code CC itself, with the
error RC, and does not forward it (e.g. "refuse:0x120:0x9a2": an EvictControl the owner's password refuses).
A file reading "cut:CC N before|after" (hex CC) is a power cut at the N-th command with code CC: "before"
does not forward it, "after" forwards it and swallows the TPM's answer; from then on nothing passes on that
connection (the client waits), and the relay creates INJECT_FLAG_FILE.hit (after the TPM answered, for
"after"), so the test kills the client there (tests/lib/powerloss.sh tpm_powerloss).
The commands file records each command as the client sent it.
"""
import os
import random
import shutil
import socket
import sys
import threading

# options may come anywhere (tests/lib/relay.sh puts the port first)
rest, args = sys.argv[1:], []
trace_path = mark_path = snapshot_dir = state_dir = None
while rest:
    if rest[0] == "--trace":
        trace_path, rest = rest[1], rest[2:]
    elif rest[0] == "--mark":
        mark_path, rest = rest[1], rest[2:]
    elif rest[0] == "--snapshot":
        snapshot_dir, state_dir, rest = rest[1], rest[2], rest[3:]
    else:
        args, rest = args + rest[:1], rest[1:]
target = int(args[0])
capture_path, commands_path = args[1], args[2]
inject_path = args[3] if len(args) > 3 else None
lock = threading.Lock()
CC_POLICY_PCR = 0x17F
CC_POLICY_AUTHORIZE = 0x16A
# NV_UndefineSpaceSpecial, EvictControl, NV_UndefineSpace, NV_DefineSpace, NV_Increment, NV_Extend,
# NV_SetBits, NV_Write
NV_WRITES = {0x11F, 0x120, 0x122, 0x12A, 0x134, 0x135, 0x136, 0x137}
snapshots = 0


def extend_command(digest):
    """TPM2_PCR_Extend(PCR 11) with an empty password session and one SHA-256 digest."""
    body = (0x0B).to_bytes(4, "big")                                    # pcrHandle
    auth = (0x40000009).to_bytes(4, "big") + b"\0\0" + b"\0" + b"\0\0"    # TPM_RS_PW, nonce, attrs, hmac
    body += len(auth).to_bytes(4, "big") + auth
    body += (1).to_bytes(4, "big") + (0x000B).to_bytes(2, "big") + digest  # TPML_DIGEST_VALUES
    return (0x8002).to_bytes(2, "big") + (10 + len(body)).to_bytes(4, "big") + (0x182).to_bytes(4, "big") + body


class Connection:
    def __init__(self):
        self.drop = 0
        self.dropped = threading.Event()
        self.cut = None  # "before" or "after": a power cut, nothing passes any more
        self.snapshot = False  # the answer awaited is one to an NV write: copy the TPM's state first


def record(data, command=None):
    """Appends data to the capture; a whole command (bytes) also goes to the commands file (its code) and,
    with --trace, to the trace file."""
    with lock:
        with open(capture_path, "ab") as f:
            f.write(data)
        if command:
            cc = int.from_bytes(command[6:10], "big")
            with open(commands_path, "a") as f:
                f.write("0x%08x\n" % cc)
            if trace_path:
                with open(trace_path, "a") as f:
                    f.write("0x%08x %s\n" % (cc, command.hex()))
            if mark_path and cc in NV_WRITES:
                with open(mark_path, "a") as f:
                    f.write("tpm 0x%08x\n" % cc)


def snapshot_state():
    """DIR/N/: the swtpm's NV file now (the N-th NV write answered)."""
    global snapshots
    snapshots += 1
    target = os.path.join(snapshot_dir, str(snapshots))
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(state_dir):
        if name.endswith(".permall"):
            shutil.copyfile(os.path.join(state_dir, name), os.path.join(target, name))


def relay(src, dst, forward):
    """One direction of a connection: records every chunk src sends and hands it to forward() until src
    closes or a socket fails; then shuts both sockets down."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            record(data)
            forward(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def injection_target(word):
    """The command code an inject file's first word acts at."""
    if word == "ticket":
        return CC_POLICY_AUTHORIZE
    if word.startswith("refuse:") or word.startswith("cut:"):
        return int(word.split(":")[1], 16)
    return CC_POLICY_PCR


def pending_injection(cc):
    """The inject file's words when they are due at this command (an extend before a PolicyPCR, "ticket"
    at a PolicyAuthorize, "refuse:CC:RC" at CC), the file then removed; else [] (a count above 1 is counted
    down)."""
    if not inject_path or not os.path.exists(inject_path):
        return []
    words = open(inject_path).read().split()
    if not words or injection_target(words[0]) != cc:
        return []
    if len(words) > 1 and int(words[1]) > 1:
        with open(inject_path, "w") as f:
            f.write(" ".join([words[0], str(int(words[1]) - 1)] + words[2:]) + "\n")
        return []
    os.unlink(inject_path)
    return words


def command_forwarder(dst, conn, client):
    """client -> TPM on the data port: forwards whole commands, recording their codes; injects an extend,
    corrupts a ticket or answers a command with an error itself (pending_injection)."""
    buf = b""

    def forward(data):
        nonlocal buf
        if conn.cut:
            return
        buf += data
        while len(buf) >= 10:
            size = int.from_bytes(buf[2:6], "big")
            if size < 10 or len(buf) < size:
                break
            cmd, buf = buf[:size], buf[size:]
            cc = int.from_bytes(cmd[6:10], "big")
            record(b"", cmd)
            conn.snapshot = bool(snapshot_dir) and cc in NV_WRITES
            words = pending_injection(cc)
            if words and words[0].startswith("cut:"):
                conn.cut = words[2] if len(words) > 2 else "before"
                if conn.cut == "before":
                    open(inject_path + ".hit", "w").close()
                    return
                dst.sendall(cmd)
                return
            if words[:1] == ["ticket"]:
                cmd = cmd[:-1] + bytes([cmd[-1] ^ 0xFF])  # checkTicket's digest ends the command
            elif words and words[0].startswith("refuse:"):
                rc = int(words[0].split(":")[2], 16)  # TPM_ST_NO_SESSIONS, size 10, the error
                client.sendall((0x8001).to_bytes(2, "big") + (10).to_bytes(4, "big") + rc.to_bytes(4, "big"))
                continue
            elif words:
                digest = bytes.fromhex(words[0])
                conn.dropped.clear()
                conn.drop = 1
                dst.sendall(extend_command(digest))
                conn.dropped.wait(10)
            dst.sendall(cmd)
    return forward


def byte_forwarder(dst, conn):
    """TPM -> client (or either direction of the control port, conn None): forwards bytes, swallowing the
    answers to injected commands."""
    buf = b""

    def forward(data):
        nonlocal buf
        if conn and conn.cut:
            # the answer to the cut command reached the relay: the TPM executed it; the client never sees it
            buf += data
            if len(buf) >= 10 and len(buf) >= int.from_bytes(buf[2:6], "big") and conn.cut == "after":
                conn.cut = "done"
                open(inject_path + ".hit", "w").close()
            return
        if conn and conn.snapshot:
            buf += data
            if len(buf) < 10 or len(buf) < int.from_bytes(buf[2:6], "big"):
                return
            conn.snapshot = False
            snapshot_state()
            data, buf = buf, b""
        if conn and conn.drop:
            buf += data
            if len(buf) < 10 or len(buf) < int.from_bytes(buf[2:6], "big"):
                return
            size = int.from_bytes(buf[2:6], "big")
            data, buf = buf[size:], b""
            conn.drop = 0
            conn.dropped.set()
            if not data:
                return
        dst.sendall(data)
    return forward


def serve(listener, port, is_data):
    """Accepts on listener and relays each connection to the swtpm's port (data: with command parsing)."""
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        conn = Connection() if is_data else None
        to_tpm = command_forwarder(upstream, conn, client) if is_data else byte_forwarder(upstream, None)
        for src, dst, forward in ((client, upstream, to_tpm), (upstream, client, byte_forwarder(client, conn))):
            threading.Thread(target=relay, args=(src, dst, forward), daemon=True).start()


def bind_pair():
    for _ in range(200):
        m = random.randrange(20000, 60000, 2)
        a = socket.socket()
        b = socket.socket()
        try:
            a.bind(("127.0.0.1", m))
            b.bind(("127.0.0.1", m + 1))
        except OSError:
            a.close()
            b.close()
            continue
        a.listen(8)
        b.listen(8)
        return m, a, b
    sys.exit("tpm-relay: no free port pair")


m, data_l, ctrl_l = bind_pair()
open(capture_path, "wb").close()
open(commands_path, "w").close()
if trace_path:
    open(trace_path, "w").close()
threading.Thread(target=serve, args=(ctrl_l, target + 1, False), daemon=True).start()
print(m, flush=True)
os.close(1)
serve(data_l, target, True)
