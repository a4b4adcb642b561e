#!/usr/bin/python3
"""The desktop's side of the E2E suite: what a panel and a window manager do for a real user.

Xvfb has neither, so the app's tray behaviour (close hides the window; the tray's menu shows
it again or quits) cannot be exercised there without these two small parts of the protocols:

  desktop.py tray-host LOG     owns org.kde.StatusNotifierWatcher on the session bus (the
                               role a panel's tray plays) and appends every item that
                               registers to LOG as "<bus name> <object path>"
  desktop.py tray-menu LOG     prints the labels of the registered item's menu (dbusmenu)
  desktop.py tray-click LOG L  clicks the menu entry labelled L, as a panel does
  desktop.py close NAME        asks the X window titled NAME to close (WM_DELETE_WINDOW),
                               as a window manager's close button does

Run with Debian's python3 (python3-gi for D-Bus, python3-xlib for X). Errors go to stderr
with a non-zero exit.
"""

import sys

WATCHER_XML = """
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""


def tray_host(log_path):
    from gi.repository import Gio, GLib

    items = []
    node = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML)

    def on_call(conn, sender, path, iface, method, params, invocation):
        if method == "RegisterStatusNotifierItem":
            (service,) = params.unpack()
            # An item names either its object path (on the caller's bus name) or a bus name.
            if service.startswith("/"):
                bus, obj = sender, service
            else:
                bus, obj = service, "/StatusNotifierItem"
            items.append(f"{bus}{obj}")
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"{bus} {obj}\n")
            conn.emit_signal(None, path, iface, "StatusNotifierItemRegistered",
                             GLib.Variant("(s)", (f"{bus}{obj}",)))
        invocation.return_value(None)

    def on_get(conn, sender, path, iface, prop):
        if prop == "RegisteredStatusNotifierItems":
            return GLib.Variant("as", items)
        if prop == "IsStatusNotifierHostRegistered":
            return GLib.Variant("b", True)
        if prop == "ProtocolVersion":
            return GLib.Variant("i", 0)
        return None

    def on_bus(conn, name):
        conn.register_object("/StatusNotifierWatcher", node.interfaces[0], on_call, on_get, None)

    def on_lost(conn, name):
        print(f"tray-host: could not own {name}", file=sys.stderr)
        sys.exit(1)

    Gio.bus_own_name(Gio.BusType.SESSION, "org.kde.StatusNotifierWatcher",
                     Gio.BusNameOwnerFlags.NONE, on_bus, None, on_lost)
    GLib.MainLoop().run()


def _item(log_path):
    with open(log_path, encoding="utf-8") as f:
        lines = [line.split() for line in f if line.strip()]
    if not lines:
        raise SystemExit("tray: no item has registered with the tray host")
    return lines[-1]


def _menu(log_path):
    from gi.repository import Gio, GLib

    bus_name, obj = _item(log_path)
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    menu_path = bus.call_sync(bus_name, obj, "org.freedesktop.DBus.Properties", "Get",
                              GLib.Variant("(ss)", ("org.kde.StatusNotifierItem", "Menu")),
                              GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None)
    (menu_path,) = menu_path.unpack()
    layout = bus.call_sync(bus_name, menu_path, "com.canonical.dbusmenu", "GetLayout",
                           GLib.Variant("(iias)", (0, -1, [])), None,
                           Gio.DBusCallFlags.NONE, 5000, None).unpack()
    entries = []

    def walk(node):
        ident, props, children = node
        if "label" in props:
            entries.append((ident, props["label"].replace("_", "")))
        for child in children:
            walk(child)

    walk(layout[1])
    return bus, bus_name, menu_path, entries


def tray_menu(log_path):
    _, _, _, entries = _menu(log_path)
    for _, label in entries:
        print(label)


def tray_click(log_path, label):
    from gi.repository import Gio, GLib

    bus, bus_name, menu_path, entries = _menu(log_path)
    ids = [ident for ident, text in entries if text == label]
    if not ids:
        raise SystemExit(f"tray: no menu entry {label!r} (have {[t for _, t in entries]})")
    bus.call_sync(bus_name, menu_path, "com.canonical.dbusmenu", "Event",
                  GLib.Variant("(isvu)", (ids[0], "clicked", GLib.Variant("i", 0), 0)),
                  None, Gio.DBusCallFlags.NONE, 5000, None)


def close(name):
    from Xlib import X, display, protocol

    d = display.Display()
    wm_protocols = d.intern_atom("WM_PROTOCOLS")
    wm_delete = d.intern_atom("WM_DELETE_WINDOW")
    net_name = d.intern_atom("_NET_WM_NAME")
    found = []

    def walk(w):
        try:
            title = w.get_full_property(net_name, 0)
            title = title.value if title else w.get_wm_name()
            if isinstance(title, bytes):
                title = title.decode("utf-8", "replace")
            if title == name:
                found.append(w)
            for child in w.query_tree().children:
                walk(child)
        except Exception:  # a window that went away while walking
            pass

    walk(d.screen().root)
    if not found:
        raise SystemExit(f"close: no window titled {name!r}")
    for w in found:
        event = protocol.event.ClientMessage(window=w, client_type=wm_protocols,
                                             data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]))
        w.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    d.close()


def main(argv):
    if len(argv) == 3 and argv[1] == "tray-host":
        tray_host(argv[2])
    elif len(argv) == 3 and argv[1] == "tray-menu":
        tray_menu(argv[2])
    elif len(argv) == 4 and argv[1] == "tray-click":
        tray_click(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "close":
        close(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
