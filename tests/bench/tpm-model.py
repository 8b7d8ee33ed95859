"""tpm-model.py: the modelled TPM time of a command trace on real TPMs (docs/performance.md, "Modelled on real
TPMs"). Run with python3; not executable on purpose (tests/bench/run runs every executable file as a bench).

  python3 tpm-model.py classify TRACE          one line per command: its name and cost class
  python3 tpm-model.py ms LATENCY.tsv TRACE    the trace's modelled milliseconds on each chip ("chip<TAB>ms")
  python3 tpm-model.py table LATENCY.tsv DIR   the bench's markdown section from DIR/{volseal,systemd,clevis}-
                                               {1,10}.trace (and volseal-persistent-{1,10}.trace if present)

TRACE is what tests/lib/tpm-relay.py --trace writes: one line per command, "0x<command code> <command, hex>".
LATENCY.tsv is tests/bench/real-tpm-latency.tsv (published per-operation figures and their source).

The cost of a command is decided by its bytes: CreatePrimary, Create and CreateLoaded by the key type of their
template, StartAuthSession by whether it is salted and by the key type the salt was encrypted to, VerifySignature
by the signature's algorithm and size, Load and LoadExternal by whether they load a private asymmetric key. A
command that does no asymmetric operation costs the chip's per-command figure ("small"). Anything the model has
no figure for (an unknown command code, an asymmetric command it does not price, a key type without a figure)
is refused with exit 2: a trace is never priced with a command counted as zero.

Promise: modelled_ms() is a pure sum of table figures over classified commands; every exit path of the CLI is
0 (all targets met), 1 (a target missed) or 2 (the trace or table cannot be modelled).
"""
import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_names():
    """The command names of tests/lib/tpm-names (one table for both)."""
    path = os.path.join(HERE, "..", "lib", "tpm-names")
    loader = importlib.machinery.SourceFileLoader("tpm_names", path)
    spec = importlib.util.spec_from_loader("tpm_names", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.CC


CC_NAMES = _load_names()


class ModelError(Exception):
    """The trace or the table cannot be modelled; the message says which command or figure and why."""


# Commands that do no asymmetric cryptography whatever their arguments: each costs the chip's "small" figure.
SMALL = {"Startup", "Shutdown", "SelfTest", "GetTestResult", "GetCapability", "GetRandom", "TestParms",
         "PCR_Read", "PCR_Extend", "ReadPublic", "NV_ReadPublic", "NV_Read", "FlushContext", "ContextSave",
         "ContextLoad", "Unseal", "Hash", "PolicyPCR", "PolicyRestart", "PolicyGetDigest", "PolicyAuthorize",
         "PolicyAuthValue", "PolicyCommandCode", "PolicyPassword", "PolicyOR", "PolicyCpHash", "PolicyNameHash"}
# The commands whose bytes decide their cost (the parsers below); every other code is refused.
PRICED = {"CreatePrimary", "Create", "CreateLoaded", "StartAuthSession", "VerifySignature", "Load", "LoadExternal"}

TPM_ST_SESSIONS = 0x8002
TPM_RH_NULL = 0x40000007
ALG_RSA, ALG_KEYEDHASH, ALG_NULL, ALG_ECC, ALG_SYMCIPHER = 0x0001, 0x0008, 0x0010, 0x0023, 0x0025
ALG_RSASSA, ALG_RSAES, ALG_RSAPSS, ALG_ECDSA = 0x0014, 0x0015, 0x0016, 0x0018
ECC_CURVES = {0x0003: "p256", 0x0004: "p384", 0x0005: "p521"}
# handles in the command's handle area (TPM 2.0 Part 3), for the commands whose parameters are read
HANDLES = {"CreatePrimary": 1, "Create": 1, "CreateLoaded": 1, "StartAuthSession": 2, "VerifySignature": 1,
           "Load": 1, "LoadExternal": 0}


class Reader:
    """Big-endian reads over one command's bytes; running past the end is a ModelError."""

    def __init__(self, data, what):
        self.data, self.off, self.what = data, 0, what

    def take(self, n):
        if self.off + n > len(self.data):
            raise ModelError("%s: command ends at byte %d, %d more wanted" % (self.what, len(self.data), n))
        chunk = self.data[self.off:self.off + n]
        self.off += n
        return chunk

    def u16(self):
        return int.from_bytes(self.take(2), "big")

    def u32(self):
        return int.from_bytes(self.take(4), "big")

    def tpm2b(self):
        return self.take(self.u16())


def _parameters(command, name):
    """A Reader at the first parameter of command (past the header, handles and authorization area)."""
    r = Reader(command, name)
    tag, _, _ = r.u16(), r.u32(), r.u32()
    r.take(4 * HANDLES[name])
    if tag == TPM_ST_SESSIONS:
        r.take(r.u32())
    return r


def _key_type(public, what):
    """The cost key of a TPMT_PUBLIC (template or public area): "rsa2048", "ecc-p256", or "keyedhash"/
    "symcipher" for objects whose creation and use need no asymmetric operation."""
    r = Reader(public, what)
    alg = r.u16()
    if alg in (ALG_KEYEDHASH, ALG_SYMCIPHER):
        return "keyedhash" if alg == ALG_KEYEDHASH else "symcipher"
    if alg not in (ALG_RSA, ALG_ECC):
        raise ModelError("%s: object type 0x%04x has no figure" % (what, alg))
    r.u16()  # nameAlg
    r.u32()  # objectAttributes
    r.tpm2b()  # authPolicy
    if r.u16() != ALG_NULL:  # symmetric: keyBits, mode
        r.u16()
        r.u16()
    scheme = r.u16()
    if alg == ALG_RSA:
        if scheme not in (ALG_NULL, ALG_RSAES):  # RSAES has no details, the others a hashAlg
            r.u16()
        return "rsa%d" % r.u16()
    if scheme != ALG_NULL:
        r.u16()  # hashAlg
        if scheme == 0x001A:  # ECDAA: count
            r.u16()
    curve = r.u16()
    if curve not in ECC_CURVES:
        raise ModelError("%s: ECC curve 0x%04x has no figure" % (what, curve))
    return "ecc-" + ECC_CURVES[curve]


def _cost_create(command, name):
    r = _parameters(command, name)
    r.tpm2b()  # inSensitive
    key = _key_type(r.tpm2b(), name)
    return "small" if key in ("keyedhash", "symcipher") else "create:" + key


def _cost_load(command, name):
    r = _parameters(command, name)
    private = r.tpm2b()
    key = _key_type(r.tpm2b(), name)
    if key in ("keyedhash", "symcipher") or (name == "LoadExternal" and not private):
        return "small"
    raise ModelError("%s of a private %s key has no figure" % (name, key))


def _cost_start_auth_session(command, name):
    """Unsalted (tpmKey TPM_RH_NULL): small. Salted: the TPM decrypts the salt with tpmKey's private key; the
    encryptedSalt says which kind: a TPMS_ECC_POINT (x and y of one size) for ECC, the modulus size for RSA."""
    r = Reader(command, name)
    r.take(10)
    tpm_key = r.u32()
    r = _parameters(command, name)
    r.tpm2b()  # nonceCaller
    salt = r.tpm2b()
    if tpm_key == TPM_RH_NULL:
        return "small"
    # x and y are TPM2Bs of their own: a client may strip leading zero bytes, so each can be shorter than
    # the curve's size (1 in 256 points for each coordinate).
    nx = int.from_bytes(salt[:2], "big") if len(salt) >= 2 else -1
    ny = int.from_bytes(salt[2 + nx:4 + nx], "big") if nx >= 0 and len(salt) >= 4 + nx else -1
    if nx > 0 and ny > 0 and len(salt) == 4 + nx + ny:
        n = max(nx, ny)
        curve = "p256" if n <= 32 else "p384" if n <= 48 else "p521" if n <= 66 else None
        if curve:
            return "salt:ecc-" + curve
    if len(salt) in (128, 256, 384, 512):
        return "salt:rsa%d" % (len(salt) * 8)
    raise ModelError("%s: salted to 0x%08x with an encrypted salt of %d bytes of no known kind" %
                     (name, tpm_key, len(salt)))


def _cost_verify_signature(command, name):
    r = _parameters(command, name)
    r.tpm2b()  # digest
    sig_alg = r.u16()
    r.u16()  # hash
    if sig_alg in (ALG_RSASSA, ALG_RSAPSS):
        return "verify:rsa%d" % (len(r.tpm2b()) * 8)
    if sig_alg == ALG_ECDSA:
        n = len(r.tpm2b())
        curve = {32: "p256", 48: "p384", 66: "p521"}.get(n)
        if curve:
            return "verify:ecc-" + curve
    raise ModelError("%s: signature algorithm 0x%04x has no figure" % (name, sig_alg))


PARSERS = {"CreatePrimary": _cost_create, "Create": _cost_create, "CreateLoaded": _cost_create,
           "Load": _cost_load, "LoadExternal": _cost_load, "StartAuthSession": _cost_start_auth_session,
           "VerifySignature": _cost_verify_signature}


def classify(command):
    """(name, cost class) of one command's bytes; ModelError when the model has no figure for it."""
    if len(command) < 10:
        raise ModelError("a command of %d bytes (a header is 10)" % len(command))
    cc = int.from_bytes(command[6:10], "big")
    name = CC_NAMES.get(cc)
    if name is None:
        raise ModelError("unknown command code 0x%08x: no latency figure" % cc)
    if name in PARSERS:
        return name, PARSERS[name](command, name)
    if name in SMALL:
        return name, "small"
    raise ModelError("%s (0x%08x): no latency figure" % (name, cc))


def read_trace(lines, what="trace"):
    """[(name, cost class)] of a trace's lines; an empty trace is refused (nothing was captured)."""
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            code, data = line.split()
            command = bytes.fromhex(data)
            if int(code, 16) != int.from_bytes(command[6:10], "big"):
                raise ValueError("code %s does not match the command's" % code)
        except ValueError as e:
            raise ModelError("%s:%d: not '0x<code> <hex>': %s" % (what, number, e))
        try:
            out.append(classify(command))
        except ModelError as e:
            raise ModelError("%s:%d: %s" % (what, number, e))
    if not out:
        raise ModelError("%s: no TPM command was captured" % what)
    return out


# The latency table's columns (tests/bench/real-tpm-latency.tsv) and the cost class each one prices.
COLUMNS = {"create:rsa2048": "rsa2048_keygen", "create:ecc-p256": "ecc256_keygen", "salt:ecc-p256": "ecdh256",
           "salt:rsa2048": "rsa2048_oaep_decrypt", "verify:rsa2048": "rsa2048_public",
           "verify:ecc-p256": "ecdsa256_verify"}
RNG_REQUEST_BYTES = 32  # wolfTPM's bench asks GetRandom for at most 32 bytes a command (MAX_RNG_REQ_SIZE)


def small_ms(rng_kib_per_s):
    """The per-command figure: one 32-byte GetRandom's round trip, from wolfTPM's RNG throughput (KiB/s)."""
    return 1000.0 / (rng_kib_per_s * 1024 / RNG_REQUEST_BYTES)


def read_latency(lines, what="latency table"):
    """{chip: {cost class: ms}} from the TSV's lines ('#' comments, a header row, one row per chip)."""
    rows = [l.rstrip("\n").split("\t") for l in lines if l.strip() and not l.startswith("#")]
    if len(rows) < 2:
        raise ModelError("%s: no header and chip rows" % what)
    header, chips = rows[0], {}
    for row in rows[1:]:
        if len(row) != len(header):
            raise ModelError("%s: row '%s' has %d fields, the header %d" % (what, row[0], len(row), len(header)))
        fields = dict(zip(header, row))
        try:
            costs = {cls: float(fields[col]) for cls, col in COLUMNS.items()}
            costs["small"] = small_ms(float(fields["rng_kib_per_s"]))
        except (KeyError, ValueError) as e:
            raise ModelError("%s: chip %s: %s" % (what, row[0], e))
        chips[fields["chip"]] = costs
    return chips


def modelled_ms(classes, costs, chip="chip"):
    """The sum over the trace's commands of the chip's figure for each one's cost class."""
    total = 0.0
    for name, cls in classes:
        if cls not in costs:
            raise ModelError("%s: no figure for %s (%s)" % (chip, name, cls))
        total += costs[cls]
    return total


def ratio(a, b):
    """a / b to the 2 decimals the table prints (targets compare this printed value)."""
    return round(a / b, 2)


def fmt_ms(ms):
    return "%.1f" % ms if ms < 10 else "%.0f" % ms


def describe(classes):
    """'N commands: each priced kind with its count, then how many small ones' for a trace."""
    counts = {}
    for name, cls in classes:
        if cls != "small":
            counts["%s %s" % (name, cls)] = counts.get("%s %s" % (name, cls), 0) + 1
    small = sum(1 for _, c in classes if c == "small")
    priced = ", ".join("%d x %s" % (n, what) for what, n in counts.items())
    return "%d command%s: %s%d small" % (len(classes), "" if len(classes) == 1 else "s", priced + ", " if priced else "", small)


def srk_state(classes):
    n = sum(1 for name, _ in classes if name == "CreatePrimary")
    return "persistent (no CreatePrimary)" if n == 0 else "created each boot (%d CreatePrimary)" % n


TARGETS = {1: 0.5, 10: 0.2}  # volseal / systemd, modelled, on every chip


def table(chips, traces):
    """The markdown section and whether every target is met. traces: {(tool, volumes): classes}."""
    lines, missed = [], {v: [] for v in TARGETS}
    lines.append("| model | volumes | volseal ms | systemd ms | clevis ms | ratio vs systemd |")
    lines.append("|---|---|---|---|---|---|")
    for chip, costs in chips.items():
        for volumes in sorted(TARGETS):
            ms = {tool: modelled_ms(traces[(tool, volumes)], costs, chip) for tool in ("volseal", "systemd", "clevis")}
            r = ratio(ms["volseal"], ms["systemd"])
            if r > TARGETS[volumes]:
                missed[volumes].append("%s %.2f" % (chip, r))
            lines.append("| model %s | %d | %s | %s | %s | %.2f |" % (chip, volumes, fmt_ms(ms["volseal"]),
                                                                     fmt_ms(ms["systemd"]), fmt_ms(ms["clevis"]), r))
    lines.append("")
    lines.append("| target (modelled, every chip) | met? | chips that miss it (ratio) |")
    lines.append("|---|---|---|")
    for volumes, limit in sorted(TARGETS.items()):
        lines.append("| volseal <= %sx systemd, %d volume%s | %s | %s |" % (
            limit, volumes, "" if volumes == 1 else "s", "no" if missed[volumes] else "yes",
            ", ".join(missed[volumes]) or "-"))
    return lines, not any(missed.values())


def persistent_rows(chips, traces):
    """volseal with the SRK persisted by `volseal tpm setup`, when its traces were given."""
    if ("volseal-persistent", 1) not in traces:
        return []
    lines = ["| model | volumes | volseal ms, SRK persistent | systemd ms | ratio vs systemd |", "|---|---|---|---|---|"]
    for chip, costs in chips.items():
        for volumes in sorted(TARGETS):
            v = modelled_ms(traces[("volseal-persistent", volumes)], costs, chip)
            s = modelled_ms(traces[("systemd", volumes)], costs, chip)
            lines.append("| model %s | %d | %s | %s | %.2f |" % (chip, volumes, fmt_ms(v), fmt_ms(s), ratio(v, s)))
    return lines


def _read(path):
    with open(path) as f:
        return f.readlines()


def _traces(directory):
    traces = {}
    for tool in ("volseal", "systemd", "clevis", "volseal-persistent"):
        for volumes in TARGETS:
            path = os.path.join(directory, "%s-%d.trace" % (tool, volumes))
            if tool == "volseal-persistent" and not os.path.exists(path):
                continue
            traces[(tool, volumes)] = read_trace(_read(path), path)
    return traces


def section(chips, traces):
    """The bench's whole markdown section: states, traces, the table, the targets."""
    out = []
    for tool in ("volseal", "systemd", "clevis"):
        out.append("- %s: SRK %s. 1 volume, %s. 10 volumes, %s." % (
            tool, srk_state(traces[(tool, 1)]), describe(traces[(tool, 1)]), describe(traces[(tool, 10)])))
    out.append("")
    rows, ok = table(chips, traces)
    out += rows
    extra = persistent_rows(chips, traces)
    if extra:
        out += ["", "volseal after `volseal tpm setup` (SRK persistent, %s; %s with 10 volumes), for comparison:"
                % (describe(traces[("volseal-persistent", 1)]), describe(traces[("volseal-persistent", 10)])), ""]
        out += extra
    return out, ok


def main(argv):
    try:
        if len(argv) == 2 and argv[0] == "classify":
            for name, cls in read_trace(_read(argv[1]), argv[1]):
                print(name, cls)
            return 0
        if len(argv) == 3 and argv[0] == "ms":
            classes = read_trace(_read(argv[2]), argv[2])
            for chip, costs in read_latency(_read(argv[1]), argv[1]).items():
                print("%s\t%.1f" % (chip, modelled_ms(classes, costs, chip)))
            return 0
        if len(argv) == 3 and argv[0] == "table":
            lines, ok = section(read_latency(_read(argv[1]), argv[1]), _traces(argv[2]))
            print("\n".join(lines))
            return 0 if ok else 1
    except (ModelError, OSError) as e:
        print("tpm-model: %s" % e, file=sys.stderr)
        return 2
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
