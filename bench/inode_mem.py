#!/usr/bin/python3
"""inode_mem.py - what one inode the kernel references costs the daemon
(issue #19: a 1,000,000-file walk under 150 MiB of RSS). Not a timed test.

  nice -n 10 bench/inode_mem.py create DIR [FILES] [DIRS]
  nice -n 10 bench/inode_mem.py measure DIR

create: a vault in DIR/store holding FILES (default 200,000) files of 100
bytes in DIRS (default 200) directories, written through a mount in one
process. measure: mounts DIR/store with an empty cache, then `find | wc -l`,
stats every file and reads every 10th one, sampling the daemon's VmRSS
(every 0.2 s) and printing VmRSS, VmHWM and `sealfs status` inodes after
each step; bytes per inode = (VmRSS - VmRSS after the mount) / inodes
added, at the step with the most inodes in memory (the kernel keeps its
lookups, no FORGET, until memory pressure: on a busy machine it may forget
some during the stat; memory freed then is reused, not returned), then 3 s
later. With SEALFS_INODE_CAP=N in the environment the daemon keeps about N
inodes (docs/INTERNALS.md, "In memory": the default cap was 262,144, above
this vault's 200,000, when the figures of docs/PERFORMANCE.md were taken; it
is 131,072 now): VmHWM is then the peak to read. Needs
/dev/fuse; uses SEALFS or the sealfs on PATH, which must be named `sealfs`
(`sealfs unmount` waits only for a daemon of that name: with another name
it returns before the last commit and deleting the cache loses it).
"""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "lib"))
from sealfstest import mount as st  # noqa: E402


def status(d, pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])  # KiB
    s = json.loads(st.sealfs("status", "--json", os.path.join(d, "mnt")).stdout)
    out["inodes"] = s["inodes"]
    return out


def do_mount(d, cache):
    st.sealfs("mount", os.path.join(d, "store"), os.path.join(d, "mnt"), "--cache", cache,
              "--passphrase-file", os.path.join(d, "pass"))


def create(d, nfiles, ndirs):
    os.makedirs(os.path.join(d, "mnt"))
    with open(os.path.join(d, "pass"), "w") as f:
        f.write("bench-inode-mem\n")
    st.sealfs("init", os.path.join(d, "store"), "--passphrase-file",
              os.path.join(d, "pass"), *st.FAST_KDF)
    do_mount(d, os.path.join(d, "cache"))
    mnt = os.path.join(d, "mnt")
    t0 = time.monotonic()
    data = b"x" * 100
    for k in range(ndirs):
        os.mkdir(os.path.join(mnt, "dir%04d" % k))
    for i in range(nfiles):
        fd = os.open(os.path.join(mnt, "dir%04d" % (i % ndirs), "file%07d" % i),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
    print("wrote %d files in %.0f s; unmounting" % (nfiles, time.monotonic() - t0))
    st.sealfs("unmount", mnt)
    shutil.rmtree(os.path.join(d, "cache"))


def measure(d):
    cache = os.path.join(d, "cache-measure")
    shutil.rmtree(cache, ignore_errors=True)
    mnt = os.path.join(d, "mnt")
    do_mount(d, cache)
    try:
        pid = st.daemon_pid(mnt)
        base = status(d, pid)
        print("mounted: %s" % base)
        t0 = time.monotonic()
        n = int(subprocess.run("find %s | wc -l" % mnt, shell=True, check=True,
                               capture_output=True, text=True).stdout)
        found = status(d, pid)
        print("find: %d names in %.0f s: %s" % (n, time.monotonic() - t0, found))
        t0 = time.monotonic()
        paths = []
        for top, _, files in os.walk(mnt):
            paths += [os.path.join(top, f) for f in files]
        for p in paths:
            os.stat(p)
        walked = status(d, pid)
        print("stat all %d: %.0f s: %s" % (len(paths), time.monotonic() - t0, walked))
        t0 = time.monotonic()
        for p in paths[::10]:
            with open(p, "rb") as f:
                f.read()
        print("read every 10th: %.0f s: %s" % (time.monotonic() - t0, status(d, pid)))
        read = status(d, pid)
        time.sleep(3)  # the inode cap's rounds (every 0.2 s) catch up
        print("3 s later: %s (SEALFS_INODE_CAP=%s)"
              % (status(d, pid), os.environ.get("SEALFS_INODE_CAP", "default")))
        top = max((found, walked, read), key=lambda x: x["inodes"])
        added = top["inodes"] - base["inodes"]
        per = (top["VmRSS"] - base["VmRSS"]) * 1024 / max(added, 1)
        print("bytes per referenced inode: %.0f (%d inodes); 1,000,000 -> %.0f MiB + %.0f MiB"
              % (per, added, per * 1e6 / 1048576, base["VmRSS"] / 1024))
    finally:
        st.sealfs("unmount", mnt)
        shutil.rmtree(cache, ignore_errors=True)


def main():
    if os.path.basename(st.SEALFS) != "sealfs":
        sys.exit("inode_mem.py: SEALFS must name a binary called sealfs (see above)")
    if len(sys.argv) < 3 or sys.argv[1] not in ("create", "measure"):
        sys.exit(__doc__)
    if sys.argv[1] == "create":
        create(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 200000,
               int(sys.argv[4]) if len(sys.argv) > 4 else 200)
    else:
        measure(sys.argv[2])


if __name__ == "__main__":
    main()
