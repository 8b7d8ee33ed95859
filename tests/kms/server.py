#!/usr/bin/python3
"""A Talos-compatible KMS for tests: gRPC service sidero.kms.KMSService (Seal, Unseal) from
src/kms/kms.proto, AES-256-GCM like the reference server (sealed = 12-byte nonce || ciphertext || 16-byte
tag; the node UUID is the associated data, so another node cannot unseal the blob).

Run it with Debian's /usr/bin/python3 (python3-grpcio, python3-grpc-tools, python3-cryptography).
It listens on 127.0.0.1 (or --listen ADDR), prints the port on the first line of stdout, and serves until
killed.

  server.py [--listen ADDR] [--port N] [--key-file F] [--tls-cert PEM --tls-key PEM] [--reference]
            [--mode M | --mode-file F] [--delay S] [--log F]

--reference behaves as siderolabs/kms-client's pkg/server (Talos's reference KMS): one AES-256-GCM key for
every node and no associated data (the node UUID binds nothing), Seal refuses data that is not 32 bytes and
Unseal data that is not 60 bytes (InvalidArgument "incorrect data length"), and an Unseal whose blob does
not decrypt answers 32 random bytes instead of an error.

Modes (misbehaviour on request; --mode-file is re-read on every call, so a test can switch modes):
  ok            behave
  down          print a free port and exit: nothing listens there
  slow          sleep --delay seconds (default 5) before answering
  wrong-size    Unseal answers a 16-byte secret
  wrong-secret  Unseal answers 32 random bytes (a well-formed secret that opens nothing)
  garbage       answer bytes that are not a Response message
  error         answer gRPC status PERMISSION_DENIED with a message
  not-grpc      (start-up only) no gRPC at all: a TCP server answering HTTP/1.1 400 to whatever comes;
                with --tls-cert, TLS whose ALPN selects http/1.1, never h2
--log appends one JSON line per call: method, node_uuid, peer, data length, mode. Data is never logged.
"""
import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.join(HERE, "..", "..", "src", "kms", "kms.proto")
MODES = ("ok", "down", "slow", "wrong-size", "wrong-secret", "garbage", "error", "not-grpc")
GARBAGE = b"\x0a\x64\x01\x02\x03"  # field 1, length 100, but only 3 bytes follow


def load_messages(proto):
    """Compiles kms.proto with grpc_tools into a scratch directory and imports it."""
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="kms-pb2-")
    proto = os.path.abspath(proto)
    rc = protoc.main(["protoc", "-I", os.path.dirname(proto), "--python_out", out, proto])
    if rc != 0:
        sys.exit(f"server.py: protoc failed on {proto}")
    sys.path.insert(0, out)
    import kms_pb2  # noqa: E402
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)  # imported: the scratch directory would be left in /tmp
    return kms_pb2


class KMS:
    def __init__(self, args, pb):
        self.args = args
        self.pb = pb
        self.lock = threading.Lock()
        if args.key_file and os.path.exists(args.key_file):
            with open(args.key_file, "rb") as f:
                self.key = f.read()
        else:
            self.key = AESGCM.generate_key(bit_length=256)
            if args.key_file:
                fd = os.open(args.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(self.key)
        if len(self.key) != 32:
            sys.exit("server.py: the key file must hold 32 bytes")

    def mode(self):
        if self.args.mode_file and os.path.exists(self.args.mode_file):
            with open(self.args.mode_file) as f:
                m = f.read().strip()
            if m in MODES:
                return m
        return self.args.mode

    def log(self, method, req, context, mode):
        if not self.args.log:
            return
        entry = {"method": method, "node_uuid": req.node_uuid, "peer": context.peer(),
                 "len": len(req.data), "mode": mode}
        with self.lock, open(self.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def misbehave(self, mode, context):
        """Returns an answer (raw bytes) for the modes that replace the answer, or None."""
        if mode == "slow":
            time.sleep(self.args.delay)
        elif mode == "garbage":
            return GARBAGE
        elif mode == "error":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "node is not allowed to use this KMS (test)")
        return None

    def seal(self, req, context):
        mode = self.mode()
        self.log("Seal", req, context, mode)
        bad = self.misbehave(mode, context)
        if bad is not None:
            return bad
        if self.args.reference:
            if len(req.data) != 32:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "incorrect data length")
            nonce = os.urandom(12)
            return self.pb.Response(data=nonce + AESGCM(self.key).encrypt(nonce, req.data, None))
        if not req.node_uuid:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "node_uuid is empty")
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(self.key).encrypt(nonce, req.data, req.node_uuid.encode())
        return self.pb.Response(data=sealed)

    def unseal(self, req, context):
        mode = self.mode()
        self.log("Unseal", req, context, mode)
        bad = self.misbehave(mode, context)
        if bad is not None:
            return bad
        if mode == "wrong-secret":
            return self.pb.Response(data=os.urandom(32))
        if self.args.reference:
            if len(req.data) != 16 + 32 + 12:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "incorrect data length")
            try:
                return self.pb.Response(data=AESGCM(self.key).decrypt(req.data[:12], req.data[12:], None))
            except Exception:
                return self.pb.Response(data=os.urandom(32))
        if len(req.data) < 12 + 16:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sealed data too short")
        try:
            plain = AESGCM(self.key).decrypt(req.data[:12], req.data[12:], req.node_uuid.encode())
        except Exception:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "failed to unseal: authentication failed")
        if mode == "wrong-size":
            plain = plain[:16]
        return self.pb.Response(data=plain)


def serialize(answer):
    return answer if isinstance(answer, bytes) else answer.SerializeToString()


def serve_not_grpc(port, cert=None, key=None):
    """HTTP/1.1 only; with a certificate, TLS whose ALPN offers http/1.1 and never h2."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    ctx = None
    if cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        try:
            if ctx:
                c = ctx.wrap_socket(c, server_side=True)
            # answer first, then drain until the client gives up, so it reads the answer, not a reset
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            c.settimeout(2)
            while c.recv(4096):
                pass
        except OSError:
            pass
        finally:
            c.close()


def main():
    p = argparse.ArgumentParser(description="KMS test peer")
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--proto", default=DEFAULT_PROTO)
    p.add_argument("--key-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--mode", default="ok", choices=MODES)
    p.add_argument("--mode-file")
    p.add_argument("--delay", type=float, default=5.0)
    p.add_argument("--log")
    args = p.parse_args()

    if args.mode == "down":
        s = socket.socket()
        s.bind(("127.0.0.1", args.port))
        port = s.getsockname()[1]
        s.close()
        print(port, flush=True)
        return

    if args.mode == "not-grpc":
        serve_not_grpc(args.port, args.tls_cert, args.tls_key)
        return

    pb = load_messages(args.proto)
    kms = KMS(args, pb)
    handlers = {
        "Seal": grpc.unary_unary_rpc_method_handler(
            kms.seal, request_deserializer=pb.Request.FromString, response_serializer=serialize),
        "Unseal": grpc.unary_unary_rpc_method_handler(
            kms.unseal, request_deserializer=pb.Request.FromString, response_serializer=serialize),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("sidero.kms.KMSService", handlers),))
    addr = f"{args.listen}:{args.port}"
    if args.tls_cert:
        with open(args.tls_key, "rb") as f:
            key = f.read()
        with open(args.tls_cert, "rb") as f:
            cert = f.read()
        port = server.add_secure_port(addr, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(addr)
    if port == 0:
        sys.exit(f"server.py: cannot listen on {addr}")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
