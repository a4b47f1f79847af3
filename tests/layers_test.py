#!/usr/bin/env python3
"""layers_test.py - the arrows of docs/INTERNALS.md "Layers" point down only.

Reads every #include of fs/, backends/ and crypto/ and fails on an arrow up:
each room may include its own headers and those of the rooms below it, in
this order from the bottom: crypto, backends, fs/util, fs/cache, fs/vault,
fs/daemon, fs/cli. A quoted include is resolved by name to the room whose
folder holds that header (every room's folder is on the include path, so
names are unique; a name in two rooms fails too). A FUSE header (<fuse*.h>)
is allowed in fs/daemon only. System headers are not checked otherwise.

usage: layers_test.py [REPO]   (default: the repository holding this file)
Standard library only; reads files, writes nothing; a second at most."""

import os
import re
import sys

ROOMS = ["crypto", "backends", "fs/util", "fs/cache", "fs/vault", "fs/daemon", "fs/cli"]
FUSE_ROOM = "fs/daemon"
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources(repo, room):
    d = os.path.join(repo, room)
    return sorted(n for n in os.listdir(d) if n.endswith((".c", ".h")))


def header_rooms(repo):
    """header name -> the rooms whose folder holds it."""
    owner = {}
    for room in ROOMS:
        for n in sources(repo, room):
            if n.endswith(".h"):
                owner.setdefault(n, []).append(room)
    return owner


def violations(repo):
    owner = header_rooms(repo)
    bad = ["%s is in more than one room: %s" % (n, ", ".join(r))
           for n, r in sorted(owner.items()) if len(r) > 1]
    for rank, room in enumerate(ROOMS):
        for n in sources(repo, room):
            path = os.path.join(room, n)
            with open(os.path.join(repo, path), encoding="utf-8") as f:
                text = f.read()
            for kind, name in INCLUDE.findall(text):
                base = os.path.basename(name)
                if kind == "<":
                    if base.startswith("fuse") and room != FUSE_ROOM:
                        bad.append("%s includes <%s>: FUSE belongs to %s only"
                                   % (path, name, FUSE_ROOM))
                    continue
                to = owner.get(base, [None])[0]
                if to is None:
                    bad.append("%s includes \"%s\", which no room holds" % (path, name))
                elif ROOMS.index(to) > rank:
                    bad.append("%s includes \"%s\" of %s: an arrow up" % (path, name, to))
    return bad


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    bad = violations(repo)
    for line in bad:
        print("FAIL " + line)
    checked = sum(len(sources(repo, r)) for r in ROOMS)
    print("layers: %d files checked, %d arrows up" % (checked, len(bad)))
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
