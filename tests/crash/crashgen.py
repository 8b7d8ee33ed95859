#!/usr/bin/python3
"""crashgen.py: the crash states of one recorded operation (tests/lib/crash.sh, docs/security.md "Power loss").

Input: the log and data file of tests/crash/recorder.c, and a snapshot of every watched object taken before
the operation ran (BASE/NAME: an image file, or a directory copy plus BASE/NAME.inodes, "INODE NAME" lines).

The model (a disk with a volatile write cache under a file system that keeps ALICE's rules):
  - a write is not durable until a flush of its object: fsync/fdatasync of the image (O_DIRECT writes
    included: they bypass the page cache, not the disk's cache), of the file, sync()/syncfs(), or the write
    itself was O_SYNC/O_DSYNC/RWF_*SYNC; sync_file_range flushes nothing;
  - directory operations (create, link, rename, unlink) are not durable until the directory is fsynced; they
    persist in order among themselves (a journal), a file's data independently of its name;
  - between two flushes the disk may persist any subset of the pending writes, in any order, and a write
    may be torn at 512-byte sectors.
Crash states, per flush epoch (the pending operations just before each flush, and at the end of the log):
the state at the epoch's start plus each prefix, each single omission, every subset (epochs of up to 4
operations) or SUBSETS seeded random subsets, and tears: for every write of 2 sectors up to 64 KiB (binary
headers, JSON areas, small files) its first 4 KiB block torn after each sector, and with only its first
sector lost (the writes before it landed, nothing after it), and a write of several blocks cut at each 4 KiB boundary (over 64
KiB, keyslot areas and META copies: at one seeded boundary; the 1 MiB chunks of a wipe are not cut). States
are deduplicated by content (a hash over every object), so each distinct image is checked once.

The TPM: "tpm CODE" lines (tests/lib/tpm-relay.py --mark) are the TPM's NV writes, in order among the disk
operations; the TPM does each whole, durable when it answers. With M of them, a crash state goes with the
TPM states 0..M (after that many NV writes) that fit it: the crash came after every operation the state
holds was issued (at least the NV writes before the last of them) and before any operation it lacks was
flushed (at most the NV writes before that flush). A state reached by several candidates gets the union.

Usage: crashgen.py --log LOG --data DATA --base DIR --objects 'NAME=PATH;...' [--seed S] [--subsets R]
       crashgen.py --log LOG --objects ... --compare-strace TRACE   (the recorder missed nothing: exit 0)
Reads commands on stdin, one a line, answers one line each on stdout:
  (at start)   "states N candidates C epochs E" and then one "# ..." line per object with its call counts
  apply I      materializes state I (0 <= I < N) on the live objects; answers "ok I DESCRIPTION", with
               " tpm=J,K,..." at its end when the log has TPM writes (the TPM states that go with it)
  pairs        "I:J ..." every crash state I with each TPM state J it goes with (empty without TPM writes)
  facts IMAGE  "keyslots=0 1 tokens=0 digest=D talos=ok" (the real cryptsetup's luksDump; the Talos header
               check of tests/lib/talos-header-check), or "none talos=no-header"
  verdicts F   "ID=opens|keyless|none ..." from the `volseal status --json` output in file F
  states F     "ID=STATE ..." from the `volseal unlock --json` output in file F
  adv IMAGE    the META image's state as tests/lib/adv-state prints it
  quit
"""
import argparse
import difflib
import hashlib
import json
import os
import random
import re
import subprocess
import sys

BLOCK = 4096
SECTOR = 512
BIG = 64 * 1024
WIPE = 1024 * 1024  # libcryptsetup wipes in 1 MiB writes: those are not cut
MASK = (1 << 128) - 1
BLOCK_CACHE = {}


class Refused(Exception):
    pass


def contrib(blockno, content):
    d = hashlib.sha256(blockno.to_bytes(8, 'little') + content).digest()
    return int.from_bytes(d[:16], 'little')


class Image:
    """An image as its base bytes plus the 4 KiB blocks that differ; `hsum` sums the differing blocks'
    hashes, so a state's hash costs only what changed."""

    def __init__(self, base):
        self.base = base
        self.size = len(base)
        self.blocks = {}  # blockno -> (content, contribution)
        self.hsum = 0

    def copy(self):
        c = Image.__new__(Image)
        c.base, c.size, c.blocks, c.hsum = self.base, self.size, dict(self.blocks), self.hsum
        return c

    def base_block(self, b):
        chunk = self.base[b * BLOCK:(b + 1) * BLOCK]
        return chunk if len(chunk) == BLOCK else chunk + bytes(BLOCK - len(chunk))

    def block(self, b):
        e = self.blocks.get(b)
        return e[0] if e else self.base_block(b)

    def entry(self, b, content):
        """What block b holding `content` adds to the state: None when it equals the base."""
        return None if content == self.base_block(b) else (content, contrib(b, content))

    def set_entry(self, b, e):
        old = self.blocks.pop(b, None)
        if old:
            self.hsum = (self.hsum - old[1]) & MASK
        if e:
            self.blocks[b] = e
            self.hsum = (self.hsum + e[1]) & MASK

    def write(self, off, data, key=None):
        """`key` names where the bytes came from (a log line): whole blocks from the same source are hashed
        once for all the states they appear in."""
        end = off + len(data)
        self.size = max(self.size, end)
        pos = off
        while pos < end:
            b = pos // BLOCK
            lo, hi = pos - b * BLOCK, min(end - b * BLOCK, BLOCK)
            if lo == 0 and hi == BLOCK:
                ck = (id(self.base), key, b) if key is not None else None
                e = BLOCK_CACHE.get(ck, False) if ck else False
                if e is False:
                    e = self.entry(b, bytes(data[pos - off:pos - off + BLOCK]))
                    if ck:
                        BLOCK_CACHE[ck] = e
            else:
                cur = self.block(b)
                e = self.entry(b, cur[:lo] + bytes(data[pos - off:pos - off + hi - lo]) + cur[hi:])
            self.set_entry(b, e)
            pos = b * BLOCK + hi

    def truncate(self, size):
        for b in [b for b in self.blocks if b * BLOCK >= size]:
            self.set_entry(b, None)
        if size % BLOCK and size < self.size:
            b = size // BLOCK
            cur = self.block(b)
            self.set_entry(b, self.entry(b, cur[:size % BLOCK] + bytes(BLOCK - size % BLOCK)))
        self.size = size

    def digest(self):
        return b'img%d:%x' % (self.size, self.hsum)

    def materialize(self, path):
        target = bytearray(self.base[:self.size].ljust(self.size, b'\0'))
        for b, (content, _) in self.blocks.items():
            n = min(BLOCK, self.size - b * BLOCK)
            if n > 0:
                target[b * BLOCK:b * BLOCK + n] = content if n == BLOCK else content[:n]
        with open(path, 'r+b') as f:
            live = f.read()
            if len(live) != self.size:
                f.truncate(self.size)
            step = 64 * 1024
            for pos in range(0, self.size, step):
                chunk = target[pos:pos + step]
                if live[pos:pos + step] != chunk:
                    f.seek(pos)
                    f.write(chunk)


class Directory:
    """A watched directory at file level: names -> inode, inode -> content."""

    def __init__(self, entries, inodes):
        self.entries, self.inodes = entries, inodes

    def copy(self):
        return Directory(dict(self.entries), dict(self.inodes))

    def file_write(self, ino, off, data):
        cur = self.inodes.get(ino, b'')
        if len(cur) < off:
            cur += bytes(off - len(cur))
        self.inodes[ino] = cur[:off] + bytes(data) + cur[off + len(data):]

    def file_truncate(self, ino, size):
        cur = self.inodes.get(ino, b'')
        self.inodes[ino] = cur[:size].ljust(size, b'\0')

    def entry_op(self, op):
        if op.kind == 'creat':
            self.entries[op.name] = op.ino
            self.inodes.setdefault(op.ino, b'')
        elif op.kind == 'link':
            self.entries[op.name] = op.ino
        elif op.kind == 'unlink':
            self.entries.pop(op.name, None)
        elif op.kind == 'rename':
            self.entries.pop(op.name, None)
            self.entries[op.to] = op.ino

    def digest(self):
        h = hashlib.sha256()
        for name in sorted(self.entries):
            h.update(name.encode() + b'\0' + hashlib.sha256(self.inodes.get(self.entries[name], b'')).digest())
        return b'dir:' + h.digest()

    def materialize(self, path):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        for name, ino in self.entries.items():
            fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, self.inodes.get(ino, b''))
            os.close(fd)


class Op:
    def __init__(self, line, kind, obj, **kw):
        self.line, self.kind, self.obj = line, kind, obj
        self.__dict__.update(kw)

    def is_entry(self):
        return self.kind in ('creat', 'link', 'unlink', 'rename')

    def describe(self):
        if self.kind == 'write':
            return 'line %d: write %s %d+%d' % (self.line, self.obj, self.off, self.length)
        if self.is_entry():
            return 'line %d: %s %s/%s' % (self.line, self.kind, self.obj[4:], self.name)
        return 'line %d: %s %s' % (self.line, self.kind, self.obj)


class State:
    """Every watched object at one moment."""

    def __init__(self, objects):
        self.objects = objects  # name -> Image | Directory

    def copy(self):
        return State({n: o.copy() for n, o in self.objects.items()})

    def apply(self, op, part=None):
        kind, obj = op.kind, op.obj
        if obj.startswith('file:'):
            _, dname, ino = obj.split(':')
            d = self.objects[dname]
            if kind == 'write':
                lo, hi = part or (op.off, op.off + op.length)
                d.file_write(int(ino), lo, op.data(lo, hi))
            elif kind == 'truncate':
                d.file_truncate(int(ino), op.size)
            return
        if op.is_entry():
            self.objects[obj[4:]].entry_op(op)
            return
        img = self.objects[obj[4:]]
        if kind == 'write':
            lo, hi = part or (op.off, op.off + op.length)
            img.write(lo, op.data(lo, hi), key=op.line)
        elif kind == 'zero':
            img.write(op.off, bytes(op.length))
        elif kind == 'truncate':
            img.truncate(op.size)
        elif kind == 'allocate' and op.off + op.length > img.size:
            img.write(img.size, bytes(op.off + op.length - img.size))

    def digest(self):
        h = hashlib.sha256()
        for name in sorted(self.objects):
            h.update(name.encode() + b'=' + self.objects[name].digest() + b';')
        return h.digest()


def parse_log(path, data):
    """The operations of the log, and the flushes as ('flush', line, objects-or-None)."""
    events = []
    counts = {}
    with open(path) as f:
        lines = f.readlines()
    for n, text in enumerate(lines, 1):
        f = text.split()
        if not f:
            continue
        what = f[0]
        label = what + ('(%s)' % f[5] if what == 'write' and f[5] != '-' else '')
        if what == 'tpm':
            events.append(('tpm', n))
            per_tpm = counts.setdefault('tpm', {})
            per_tpm[f[1]] = per_tpm.get(f[1], 0) + 1
            continue
        per_object = counts.setdefault(f[1] if len(f) > 1 else '*', {})
        per_object[label] = per_object.get(label, 0) + 1
        if what == 'unsupported':
            raise Refused('line %d: %s: the crash model does not follow this way of writing' % (n, text.strip()))
        if what in ('open', 'sync_file_range', 'fsync-failed'):
            continue
        if what == 'write':
            off, length, at = int(f[2]), int(f[3]), int(f[4])

            def reader(lo, hi, off=off, at=at):
                return bytes(hi - lo) if at < 0 else data[at + lo - off:at + hi - off]
            events.append(Op(n, 'write', f[1], off=off, length=length, data=reader))
            if 'sync' in f[5].split(','):
                events.append(('flush', n, {f[1]}))
        elif what in ('fsync', 'fdatasync'):
            events.append(('flush', n, {f[1]}))
        elif what == 'sync':
            events.append(('flush', n, None))
        elif what == 'truncate':
            events.append(Op(n, 'truncate', f[1], size=int(f[2])))
        elif what in ('zero', 'allocate'):
            events.append(Op(n, what, f[1], off=int(f[2]), length=int(f[3])))
        elif what in ('creat', 'link', 'unlink'):
            events.append(Op(n, what, 'dir:' + f[1], name=f[2], ino=int(f[3])))
        elif what == 'rename':
            events.append(Op(n, 'rename', 'dir:' + f[1], name=f[2], to=f[3], ino=int(f[4])))
        else:
            raise Refused('line %d: unknown record %r' % (n, text.strip()))
    return events, counts


def object_class(obj):
    """img:NAME stays; the files of directory D are files:D (strace names paths, the recorder inodes)."""
    return 'files:' + obj.split(':')[1] if obj.startswith('file:') else obj


def recorder_calls(path):
    """The recorder log as the sequence strace_calls() gives: write, flush, size and directory calls."""
    out = []
    with open(path) as f:
        lines = f.readlines()
    for text in lines:
        f = text.split()
        if not f or f[0] in ('open', 'creat', 'fsync-failed', 'tpm') or (f[0] == 'truncate' and f[-1] == 'open'):
            continue
        if f[0] == 'write':
            out.append('write ' + object_class(f[1]))
        elif f[0] in ('fsync', 'fdatasync'):
            out.append('flush ' + object_class(f[1]))
        elif f[0] in ('truncate', 'zero', 'allocate'):
            out.append('size ' + object_class(f[1]))
        elif f[0] in ('link', 'unlink', 'rename'):
            out.append('entry dir:' + f[1])
        elif f[0] == 'sync_file_range':
            out.append('sync_file_range ' + object_class(f[1]))
        else:
            out.append(f[0])
    return out


def strace_calls(path, objects):
    """The calls in an `strace -f -y` trace on the watched objects, successful ones only."""
    images = {os.path.realpath(p): n for n, p in objects.items() if not os.path.isdir(p)}
    dirs = {os.path.realpath(p): n for n, p in objects.items() if os.path.isdir(p)}

    def fd_object(args):
        m = re.match(r'-?\d+<(.*?)( \(deleted\))?>', args)
        if not m:
            return None
        p = m.group(1)
        if p in images:
            return 'img:' + images[p]
        if p in dirs:
            return 'dir:' + dirs[p]
        if os.path.dirname(p) in dirs:
            return 'files:' + dirs[os.path.dirname(p)]
        return None

    def path_dir(args):
        for p in re.findall(r'"([^"]*)"', args):
            if os.path.dirname(p) in dirs:
                return dirs[os.path.dirname(p)]
        return None

    pending, out = {}, []
    with open(path) as f:
        lines = f.readlines()
    for text in lines:
        text = text.rstrip('\n')
        m = re.match(r'(\d+) +(.*)$', text)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.endswith('<unfinished ...>'):
            pending[pid] = rest[:-len('<unfinished ...>')]
            continue
        r = re.match(r'<\.\.\. \w+ resumed>(.*)$', rest)
        if r:
            rest = pending.pop(pid, '') + r.group(1)
        c = re.match(r'(\w+)\((.*)\) += (-?\w+)', rest)
        if not c or c.group(3).startswith('-1'):
            continue
        name, args = c.group(1), c.group(2)
        obj = fd_object(args) if name not in ('link', 'linkat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat') else None
        if name in ('write', 'pwrite64', 'writev', 'pwritev', 'pwritev2') and obj:
            out.append('write ' + obj)
        elif name in ('fsync', 'fdatasync') and obj:
            out.append('flush ' + obj)
        elif name in ('ftruncate', 'fallocate') and obj:
            out.append('size ' + obj)
        elif name == 'ioctl' and obj and re.search(r'BLK(ZEROOUT|DISCARD|SECDISCARD)', args):
            out.append('size ' + obj)
        elif name == 'sync_file_range' and obj:
            out.append('sync_file_range ' + obj)
        elif name in ('sync', 'syncfs'):
            out.append('sync')
        elif name in ('link', 'linkat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat') and path_dir(args):
            out.append('entry dir:' + path_dir(args))
        elif name in ('copy_file_range', 'sendfile', 'splice') and obj:
            out.append('unsupported %s %s' % (name, obj))
        elif name == 'mmap' and obj and 'MAP_SHARED' in args and 'PROT_WRITE' in args:
            out.append('unsupported shared writable mmap ' + obj)
        elif name in ('mkdir', 'mkdirat') and path_dir(args):
            out.append('unsupported mkdir in dir:' + path_dir(args))
    return out


def flushed_by(op, objs):
    if objs is None:
        return True
    if op.obj in objs:
        return True
    return False


def keep_entry_order(ops, chosen):
    """Directory operations persist in order: one is kept only when every earlier pending one of the same
    directory is kept."""
    out, dropped = [], set()
    for i, op in enumerate(ops):
        if i not in chosen:
            if op.is_entry():
                dropped.add(op.obj)
            continue
        if op.is_entry() and op.obj in dropped:
            continue
        out.append(i)
    return out


def tears(op):
    """Partial landings of one write: (description, (lo, hi)) byte ranges in absolute offsets."""
    if op.kind != 'write' or op.length < 2 * SECTOR:
        return []
    off, end = op.off, op.off + op.length
    first_end = min(end, (off // BLOCK + 1) * BLOCK)
    out = []
    if op.length <= BIG:
        cuts = range((off // SECTOR + 1) * SECTOR, first_end, SECTOR)
        for c in cuts:
            out.append(('torn: its first %d bytes landed' % (c - off), (off, c)))
        for c in list(cuts)[:1]:  # reordered inside: all but the first sector (magic, seqid, checksum)
            out.append(('torn: bytes %d-%d of its first block landed' % (c - off, first_end - off), (c, first_end)))
    blocks = list(range((off // BLOCK + 1) * BLOCK, end, BLOCK)) if op.length < WIPE else []
    if len(blocks) > 1 and op.length > BIG:
        blocks = [random.Random('%d:%d' % (op.line, op.off)).choice(blocks)]
    for c in blocks:
        out.append(('cut: its first %d bytes landed' % (c - off), (off, c)))
    return out


class Generator:
    """Walks the log: at each flush (and at its end) the pending operations make one epoch of candidates."""

    def __init__(self, base, events, seed, subsets):
        self.snapshots, self.states, self.seen, self.kinds, self.ops_of = [], [], {}, {}, {}
        self.candidates = self.epochs = 0
        self.seed, self.subsets = seed, subsets
        self.tpm_marks(events)
        durable, pending, self.durable_ops = base, [], set()
        for ev in events + [('flush', None, None)]:
            if isinstance(ev, Op):
                pending.append(ev)
                continue
            if ev[0] == 'tpm':
                continue
            _, line, objs = ev
            self.epoch(durable, pending, 'at the end of the log' if line is None else 'before line %d' % line)
            if line is None:
                break
            durable = durable.copy()
            rest = []
            self.durable_ops = set(self.durable_ops)
            for op in pending:
                if flushed_by(op, objs):
                    durable.apply(op)
                    self.durable_ops.add(op.line)
                else:
                    rest.append(op)
            pending = rest

    def tpm_marks(self, events):
        """Each operation's `issued` (TPM writes before it) and `flushed` (TPM writes before the first flush
        that covers it, or all of them)."""
        self.ops, self.marks, unflushed = [], 0, []
        for ev in events:
            if isinstance(ev, Op):
                ev.issued = self.marks
                self.ops.append(ev)
                unflushed.append(ev)
            elif ev[0] == 'tpm':
                self.marks += 1
            else:
                for op in unflushed:
                    if flushed_by(op, ev[2]):
                        op.flushed = self.marks
                unflushed = [op for op in unflushed if not flushed_by(op, ev[2])]
        for op in unflushed:
            op.flushed = self.marks

    def tpm_states(self, ops, recipe):
        """The TPM states (NV writes done) a crash state of recipe over ops can go with; None without TPM."""
        if not self.marks:
            return None
        whole = set(self.durable_ops) | {ops[k].line for k, part in recipe if part is None}
        held = whole | {ops[k].line for k, part in recipe if part is not None}
        lo = max((op.issued for op in self.ops if op.line in held), default=0)
        hi = min((op.flushed for op in self.ops if op.line not in whole), default=self.marks)
        if lo > hi:
            raise Refused('a crash state that fits no TPM state (%d > %d): the model is broken' % (lo, hi))
        return set(range(lo, hi + 1))

    def add(self, state, snap, recipe, what, kind):
        self.candidates += 1
        h = state.digest()
        tpm = self.tpm_states(self.pending_ops, recipe)
        if h in self.seen:
            if tpm:
                self.states[self.seen[h]][3].update(tpm)
            return
        self.seen[h] = len(self.states)
        self.states.append((snap, recipe, what, tpm))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def pairs(self):
        """Crash states times the TPM states each goes with (the states without TPM writes)."""
        return sum(len(st[3]) if st[3] is not None else 1 for st in self.states)

    def epoch(self, durable, ops, where):
        self.epochs += 1
        snap = len(self.snapshots)
        self.snapshots.append(durable)
        n = len(ops)
        self.pending_ops = ops
        title = 'epoch %d (%s, %d pending)' % (self.epochs, where, n)
        lines = lambda idx: ','.join(str(ops[i].line) for i in idx) or 'none'
        prefix = [durable.copy()]
        for i, op in enumerate(ops):
            st = prefix[-1].copy()
            st.apply(op)
            prefix.append(st)
        for i in range(n + 1):
            self.add(prefix[i], snap, ([(k, None) for k in range(i)]), '%s: prefix of %d, lines kept: %s' % (title, i, lines(range(i))), 'prefix')
        for j in range(n):
            kept = keep_entry_order(ops, set(range(n)) - {j})
            st = prefix[j].copy()
            for k in kept:
                if k > j:
                    st.apply(ops[k])
            self.add(st, snap, [(k, None) for k in kept], '%s: all but line %d, lines kept: %s' % (title, ops[j].line, lines(kept)), 'omission')
        rng = random.Random('%s:%d' % (self.seed, self.epochs))
        masks = range(1 << n) if n <= 4 else [rng.getrandbits(n) for _ in range(self.subsets)]
        for m in masks:
            kept = keep_entry_order(ops, {k for k in range(n) if m >> k & 1})
            st = durable.copy()
            for k in kept:
                st.apply(ops[k])
            self.add(st, snap, [(k, None) for k in kept], '%s: subset, lines kept: %s' % (title, lines(kept)), 'subset')
        for j, op in enumerate(ops):
            for what, part in tears(op):
                st = prefix[j].copy()
                st.apply(op, part)
                self.add(st, snap, [(k, None) for k in range(j)] + [(j, part)],
                         '%s: lines kept: %s, line %d %s' % (title, lines(range(j)), op.line, what), what.split(':')[0])
        self.ops_of[snap] = ops

    def materialize(self, i, paths):
        snap, recipe, what, tpm = self.states[i]
        st = self.snapshots[snap].copy()
        ops = self.ops_of[snap]
        for k, part in recipe:
            st.apply(ops[k], part)
        for name, obj in st.objects.items():
            obj.materialize(paths[name])
        return what if tpm is None else '%s tpm=%s' % (what, ','.join(str(j) for j in sorted(tpm)))


# ---- checks the shell asks for (one answer line each; no process start per crash state) ----

def lib_module(name):
    """A checker script of tests/lib (talos-header-check, adv-state), loaded once."""
    if name not in LIBS:
        from importlib.machinery import SourceFileLoader
        from importlib.util import module_from_spec, spec_from_loader
        here = os.path.dirname(os.path.abspath(__file__))
        loader = SourceFileLoader(name.replace('-', '_'), os.path.join(here, '..', 'lib', name))
        LIBS[name] = module_from_spec(spec_from_loader(loader.name, loader))
        loader.exec_module(LIBS[name])
    return LIBS[name]


LIBS = {}


def talos_problems(path):
    return lib_module('talos-header-check').problems(path)


def luks_facts(path):
    """"keyslots=0 1 tokens=0 digest=..." (tests/lib/luks.sh header_facts) from the real cryptsetup, then
    " talos=ok" or " talos=PROBLEM" from the Talos header check."""
    r = subprocess.run(['cryptsetup', 'luksDump', '--dump-json-metadata', path], capture_output=True)
    if r.returncode != 0:
        return 'none talos=no-header'
    j = json.loads(r.stdout)
    ids = lambda d: ' '.join(str(k) for k in sorted(int(k) for k in d))
    found = talos_problems(path)
    talos = 'ok' if not found else found[0].replace(' ', '_')
    return 'keyslots=%s tokens=%s digest=%s talos=%s' % (ids(j['keyslots']), ids(j['tokens']), j['digests']['0']['digest'], talos)


def json_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def volume_verdicts(path):
    """From `volseal status --json` lines: "ID=opens|keyless|none ..." (keyless: empty, or a LUKS2 header
    without any keyslot)."""
    out = []
    for v in json_lines(path):
        slots = v.get('slots') or []
        if any(s.get('status') == 'opens' for s in slots):
            verdict = 'opens'
        elif v.get('state') == 'empty' or (v.get('state') == 'luks2' and all(s.get('status') == 'missing' for s in slots)):
            verdict = 'keyless'
        else:
            verdict = 'none'
        out.append('%s=%s' % (v['volume'], verdict))
    return ' '.join(out)


def volume_states(path):
    """From `volseal unlock --json` lines: "ID=STATE ..."."""
    return ' '.join('%s=%s' % (v['volume'], v['state']) for v in json_lines(path))


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def load_base(base, objects):
    state = {}
    for name, path in objects.items():
        snap = os.path.join(base, name)
        if os.path.isdir(snap):
            entries, inodes = {}, {}
            with open(snap + '.inodes') as f:
                listing = [line.split(None, 1) for line in f if line.strip()]
            for ino, fname in listing:
                entries[fname.strip()] = int(ino)
                inodes[int(ino)] = read_bytes(os.path.join(snap, fname.strip()))
            state[name] = Directory(entries, inodes)
        else:
            state[name] = Image(read_bytes(snap))
    return State(state)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--log', required=True)
    ap.add_argument('--data')
    ap.add_argument('--base')
    ap.add_argument('--objects', required=True)
    ap.add_argument('--seed', default='volseal')
    ap.add_argument('--subsets', type=int, default=6)
    ap.add_argument('--compare-strace', metavar='TRACE', help='compare the log with an strace -f -y trace, then exit')
    a = ap.parse_args()
    objects = dict(o.split('=', 1) for o in a.objects.split(';') if o)
    if a.compare_strace:
        mine, theirs = recorder_calls(a.log), strace_calls(a.compare_strace, objects)
        if mine == theirs:
            print('same %d calls' % len(mine))
            return 0
        diff = [d for d in difflib.unified_diff(theirs, mine, 'strace', 'recorder', n=1, lineterm='')]
        print('differ (strace %d calls, recorder %d): %s' % (len(theirs), len(mine), ' | '.join(diff[2:14])))
        return 1
    data = read_bytes(a.data)
    try:
        events, counts = parse_log(a.log, data)
    except Refused as e:
        print('refused %s' % e, flush=True)
        return 1
    try:
        gen = Generator(load_base(a.base, objects), events, a.seed, a.subsets)
    except Refused as e:
        print('refused %s' % e, flush=True)
        return 1
    print('states %d candidates %d epochs %d tpm-writes %d pairs %d (%s)' % (
        len(gen.states), gen.candidates, gen.epochs, gen.marks, gen.pairs(),
        ', '.join('%d %s' % (v, k) for k, v in sorted(gen.kinds.items()))))
    for obj in sorted(counts):
        print('# %s: %s' % (obj, ', '.join('%d %s' % (v, k) for k, v in sorted(counts[obj].items()))))
    print('.', flush=True)
    for cmd in sys.stdin:
        f = cmd.split()
        if not f or f[0] == 'quit':
            break
        if f[0] == 'apply':
            print('ok %s %s' % (f[1], gen.materialize(int(f[1]), objects)), flush=True)
        elif f[0] == 'pairs':
            print(' '.join('%d:%d' % (i, j) for i, st in enumerate(gen.states) for j in sorted(st[3] or ())), flush=True)
        elif f[0] == 'facts':
            print(luks_facts(f[1]), flush=True)
        elif f[0] == 'verdicts':
            print(volume_verdicts(f[1]), flush=True)
        elif f[0] == 'adv':
            print(lib_module('adv-state').state(f[1]), flush=True)
        elif f[0] == 'states':
            print(volume_states(f[1]), flush=True)
        else:
            print('unknown command %r' % cmd.strip(), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
