#!/usr/bin/env python3
"""dirpages.py -- touch + fsync of one entry in a big directory, format 2
(one object per directory: a copy of the format-2 golden vault) against
format 3 (paged directories: a vault `sealfs init` makes), with the same
sealfs binary (docs/PERFORMANCE.md, "Scale", "Paged directories").

    SEALFS=build/fs/sealfs nice -n 10 python3 bench/dirpages.py 10000 100000

For each size and format: N empty files created in big/, `sealfs sync`,
remount on an empty cache, `ls -l big` (loads it), then three times: write
one byte to an entry and fsync it (a commit of big/). Prints the three
times, the daemon's VmRSS after the `ls -l`, its peak VmRSS sampled during
the three commits and its VmHWM. Needs root and /dev/fuse; a few minutes."""
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from sealfstest import mount as st  # noqa: E402

GOLDEN_V2 = os.path.join(HERE, "..", "tests", "data", "crypto", "golden-v2-xchacha20poly1305")


def status_mib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    return 0


def vault(fmt):
    v = st.Vault("dirpages")
    if fmt == 3:
        v.init()
        return v
    shutil.rmtree(v.store, ignore_errors=True)
    shutil.copytree(GOLDEN_V2, v.store)
    os.remove(os.path.join(v.store, "recovery.txt"))
    v.passphrase = "sealfs golden vault"
    with open(v.passfile, "w") as f:
        f.write(v.passphrase + "\n")
    return v


def run(fmt, n):
    v = vault(fmt)
    try:
        v.mount()
        d = v.path("big")
        os.mkdir(d)
        for i in range(n):
            os.close(os.open(os.path.join(d, "n%08d" % i), os.O_WRONLY | os.O_CREAT, 0o644))
        st.sealfs("sync", v.mnt, timeout=600)
        v.unmount()
        v.mount(cache=os.path.join(v.root, "cache2"))
        subprocess.run(["ls", "-l", d], stdout=subprocess.DEVNULL, check=True)
        pid = int(subprocess.run(["pgrep", "-f", "sealfs mount %s " % v.store],
                                 capture_output=True, text=True).stdout.split()[0])
        loaded = status_mib(pid, "VmRSS")
        peak, stop, times = [loaded], [False], []

        def sample():
            while not stop[0]:
                peak[0] = max(peak[0], status_mib(pid, "VmRSS"))
                time.sleep(0.02)
        th = threading.Thread(target=sample)
        th.start()
        for k in range(3):
            t0 = time.monotonic()
            fd = os.open(os.path.join(d, "n%08d" % (7 + k)), os.O_WRONLY)
            os.write(fd, b"x")
            os.fsync(fd)
            os.close(fd)
            times.append(time.monotonic() - t0)
        stop[0] = True
        th.join()
        print("format %d, %d entries: touch+fsync %s s (median %.3f); VmRSS after ls -l %d MiB,"
              " peak during the commits %d MiB, VmHWM %d MiB"
              % (fmt, n, " ".join("%.3f" % t for t in times), sorted(times)[1], loaded,
                 peak[0], status_mib(pid, "VmHWM")), flush=True)
        v.unmount()
    finally:
        v.cleanup()


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [10000, 100000]:
        for f in (2, 3):
            run(f, size)
