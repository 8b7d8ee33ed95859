#!/usr/bin/env python3
"""proc-sampler.py ROOT-PID OUT READY-FILE

Until ROOT-PID ends, every 10 ms appends /proc/P/{comm,cmdline,environ,limits} of ROOT-PID and all its
descendants to OUT (records "== PID NAME" then the raw bytes). Creates READY-FILE once it runs, so the caller
can hold the watched program until sampling has started. Prints the number of samples per comm at the end.
"""
import os
import sys
import time

root, out, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def descendants(pid):
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                kids = read(f"/proc/{p}/task/{t}/children") or b""
                todo += [int(k) for k in kids.split()]
        except OSError:
            pass
    return seen


counts = {}
open(ready, "w").close()
with open(out, "ab") as f:
    while os.path.exists(f"/proc/{root}"):
        try:
            os.waitpid(root, os.WNOHANG)  # not our child: raises; harmless
        except ChildProcessError:
            pass
        status = read(f"/proc/{root}/status") or b""
        if b"State:\tZ" in status:
            break
        for p in descendants(root):
            comm = read(f"/proc/{p}/comm")
            if comm is None:
                continue
            name = comm.strip().decode(errors="replace")
            for what in ("cmdline", "environ", "limits"):
                data = read(f"/proc/{p}/{what}")
                if data is not None:
                    f.write(f"\n== {p} {name} {what}\n".encode() + data)
            counts[name] = counts.get(name, 0) + 1
        f.flush()
        time.sleep(0.01)
print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
