"""fake_desktop.py - a small logind and screen saver for the desktop tests,
on a private dbus-daemon's buses (test_desktop.py starts them).

On the system bus it owns org.freedesktop.login1: Manager.Inhibit hands out
the write end of a pipe and reports when every copy of it is closed (as
logind does), Manager.PrepareForSleep(b) and Session.Lock are emitted on
command, and a session object /org/freedesktop/login1/session/_31 has a User
property. On the session bus (when given) it owns org.freedesktop.ScreenSaver
and emits ActiveChanged(b) on command.

Commands, one a line on stdin: sleep, wake, lock, saver. Events, one a line
on stdout: "ready", "inhibit WHAT MODE", "released", "sent COMMAND".
Run with Debian's /usr/bin/python3 (python3-dbus, python3-gi).
"""

import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

LOGIN1 = "org.freedesktop.login1"
SESSION_PATH = "/org/freedesktop/login1/session/_31"


def say(line):
    print(line, flush=True)


class Manager(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/login1")
        self.held = 0

    @dbus.service.method(LOGIN1 + ".Manager", in_signature="ssss", out_signature="h")
    def Inhibit(self, what, who, why, mode):
        r, w = os.pipe()
        say("inhibit %s %s" % (what, mode))
        self.held += 1
        GLib.io_add_watch(r, GLib.IO_HUP | GLib.IO_IN, self._gone)
        fd = dbus.types.UnixFd(w)
        os.close(w)  # the reply carries its own copy
        return fd

    def _gone(self, fd, cond):
        if os.read(fd, 1) == b"":
            os.close(fd)
            self.held -= 1
            say("released")
            return False
        return True

    @dbus.service.signal(LOGIN1 + ".Manager", signature="b")
    def PrepareForSleep(self, start):
        pass


class Session(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, SESSION_PATH)

    @dbus.service.signal(LOGIN1 + ".Session", signature="")
    def Lock(self):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        if iface == LOGIN1 + ".Session" and prop == "User":
            return dbus.Struct((dbus.UInt32(os.getuid()),
                                dbus.ObjectPath("/org/freedesktop/login1/user/_%d" % os.getuid())),
                               signature="uo", variant_level=1)
        raise dbus.exceptions.DBusException("no such property",
                                            name="org.freedesktop.DBus.Error.UnknownProperty")


class Saver(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/ScreenSaver")

    @dbus.service.signal("org.freedesktop.ScreenSaver", signature="b")
    def ActiveChanged(self, on):
        pass


def main():
    DBusGMainLoop(set_as_default=True)
    system = dbus.bus.BusConnection(sys.argv[1])
    names = [dbus.service.BusName(LOGIN1, system)]
    manager, session, saver = Manager(system), Session(system), None
    if len(sys.argv) > 2:
        ses = dbus.bus.BusConnection(sys.argv[2])
        names.append(dbus.service.BusName("org.freedesktop.ScreenSaver", ses))
        saver = Saver(ses)
    loop = GLib.MainLoop()

    def command(fd, cond):
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        cmd = line.strip()
        if cmd == "sleep":
            manager.PrepareForSleep(True)
        elif cmd == "wake":
            manager.PrepareForSleep(False)
        elif cmd == "lock":
            session.Lock()
        elif cmd == "saver" and saver:
            saver.ActiveChanged(True)
        say("sent " + cmd)
        return True

    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, command)
    say("ready")
    loop.run()
    del names


if __name__ == "__main__":
    main()
