#!/usr/bin/env python3
"""tpm-relay.py TARGET_PORT CAPTURE_FILE COMMANDS_FILE

A capturing TCP relay in front of a swtpm: listens on 127.0.0.1 ports M (data) and M+1 (control), forwards
each connection to TARGET_PORT and TARGET_PORT+1, and appends every byte in both directions to CAPTURE_FILE.
Each TPM command seen on the data port is appended to COMMANDS_FILE as "0x<command code>" (one a line), so
tests can count the commands of an operation. Prints M on stdout once listening, then runs until killed.
"""
import os
import random
import socket
import sys
import threading

target = int(sys.argv[1])
capture_path, commands_path = sys.argv[2], sys.argv[3]
lock = threading.Lock()


def record(data, command_codes=None):
    with lock:
        with open(capture_path, "ab") as f:
            f.write(data)
        if command_codes:
            with open(commands_path, "a") as f:
                for cc in command_codes:
                    f.write("0x%08x\n" % cc)


class CommandParser:
    """Splits the client->TPM byte stream of the data port into commands (tag u16, size u32, code u32)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        codes = []
        while len(self.buf) >= 10:
            size = int.from_bytes(self.buf[2:6], "big")
            if size < 10 or len(self.buf) < size:
                break
            codes.append(int.from_bytes(self.buf[6:10], "big"))
            self.buf = self.buf[size:]
        return codes


def pump(src, dst, parser):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            record(data, parser.feed(data) if parser else None)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener, port, is_data):
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        threading.Thread(target=pump, args=(client, upstream, CommandParser() if is_data else None), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, None), daemon=True).start()


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
threading.Thread(target=serve, args=(ctrl_l, target + 1, False), daemon=True).start()
print(m, flush=True)
os.close(1)
serve(data_l, target, True)
