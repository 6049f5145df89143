//! Whether a native file dialog can appear. On Linux and the BSDs, rfd shows its dialogs
//! through the XDG desktop portal on the D-Bus session bus; where the bus or the portal is
//! missing (a bare X server, a minimal window manager without xdg-desktop-portal), rfd
//! returns nothing and a "Browse…" button would silently do nothing.

use std::sync::OnceLock;
use std::time::Duration;

/// The portal's well-known bus name.
pub const PORTAL: &str = "org.freedesktop.portal.Desktop";

/// Whether the bus at `address` (the session bus when `None`) has the portal running or can
/// start it on demand; `None` when the bus cannot be reached or asked.
pub fn portal_on_bus(address: Option<&str>) -> Option<bool> {
    let conn = match address {
        Some(a) => zbus::blocking::connection::Builder::address(a)
            .ok()?
            .build()
            .ok()?,
        None => zbus::blocking::Connection::session().ok()?,
    };
    let bus = zbus::blocking::fdo::DBusProxy::new(&conn).ok()?;
    let name = zbus::names::BusName::try_from(PORTAL).ok()?;
    if bus.name_has_owner(name).ok()? {
        return Some(true);
    }
    let activatable = bus.list_activatable_names().ok()?;
    Some(activatable.iter().any(|n| n.as_str() == PORTAL))
}

/// Whether rfd can show a dialog here, asked once per run. The bus is asked on a helper thread
/// for at most half a second, so a bus that does not answer cannot freeze the window; then (or
/// when the bus cannot be asked) the answer is yes.
pub fn file_dialogs_available() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        if !cfg!(any(
            target_os = "linux",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd",
            target_os = "dragonfly"
        )) {
            return true;
        }
        let has_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| std::path::Path::new(&d).join("bus").exists());
        if !has_bus {
            return false;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("portal-check".into())
            .spawn(move || {
                let _ = tx.send(portal_on_bus(None));
            });
        spawned.is_err()
            || rx
                .recv_timeout(Duration::from_millis(500))
                .ok()
                .flatten()
                .unwrap_or(true)
    })
}
