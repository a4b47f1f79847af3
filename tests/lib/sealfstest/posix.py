"""sealfstest.posix - system calls the Python standard library lacks, for the
tests that check them on a mount: renameat2(2) with RENAME_NOREPLACE and
RENAME_EXCHANGE, and libc itself (fallocate with flags). No side effects at
import; standard library only."""

import ctypes
import os

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2

libc = ctypes.CDLL(None, use_errno=True)


def renameat2(old, new, flags):
    """renameat2(2) relative to the working directory; raises OSError."""
    r = libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
                       ctypes.c_uint(flags))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
