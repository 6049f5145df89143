//! Device registry: the lab's `devices.json` (with hubs) and a plain CSV.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One device. The MAC is the primary key; devices seen only in captures are named by MAC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub ips: Vec<IpAddr>,
    pub description: String,
    /// The hub this device sits behind (a lock behind its bridge).
    pub hub: Option<String>,
    /// False for MACs seen in captures but absent from the registry.
    pub registered: bool,
}

impl Device {
    pub fn mac_string(&self) -> String {
        self.mac.map(|m| fmt_mac(&m)).unwrap_or_default()
    }
    /// A short kind derived from the name or description, for grouping in views.
    pub fn kind(&self) -> &'static str {
        let s = format!("{} {}", self.name, self.description).to_lowercase();
        const KINDS: [(&str, &str); 14] = [
            ("doorbell", "doorbell"),
            ("cam", "camera"),
            ("lock", "lock"),
            ("plug", "plug"),
            ("outlet", "plug"),
            ("bulb", "bulb"),
            ("light", "bulb"),
            ("hub", "hub"),
            ("bridge", "hub"),
            ("base station", "hub"),
            ("sensor", "sensor"),
            ("motion", "sensor"),
            ("echo", "speaker"),
            ("thermostat", "sensor"),
        ];
        if !self.registered {
            return "unregistered";
        }
        KINDS
            .iter()
            .find(|(k, _)| s.contains(k))
            .map(|(_, v)| *v)
            .unwrap_or("device")
    }
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-…` in any case.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.trim().split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

/// Name normalisation for log-to-registry matching: case- and separator-insensitive.
pub fn norm_name(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    pub devices: Vec<Device>,
    #[serde(skip)]
    by_mac: HashMap<[u8; 6], u16>,
    #[serde(skip)]
    by_ip: HashMap<IpAddr, u16>,
    #[serde(skip)]
    by_name: HashMap<String, u16>,
    #[serde(skip)]
    by_norm: HashMap<String, u16>,
}

#[derive(Deserialize)]
struct LabFile {
    #[serde(deserialize_with = "unique_keys")]
    devices: HashMap<String, LabDevice>,
    #[serde(default, deserialize_with = "unique_keys")]
    hubs: HashMap<String, Vec<String>>,
}

/// A JSON object whose keys must be distinct: a device named twice would otherwise keep only
/// its last entry, silently.
fn unique_keys<'de, D, V>(d: D) -> std::result::Result<HashMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Keys<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Keys<V> {
        type Value = HashMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of named entries")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = HashMap::new();
            while let Some((k, v)) = m.next_entry::<String, V>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "{k:?} is listed twice (each name may appear once)"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Keys(std::marker::PhantomData))
}

#[derive(Deserialize)]
struct LabDevice {
    #[serde(default)]
    description: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    ether: Option<String>,
}

impl Registry {
    pub fn new(devices: Vec<Device>) -> Self {
        let mut r = Registry {
            devices,
            ..Default::default()
        };
        r.reindex();
        r
    }

    /// Rebuilds the look-up maps after `devices` was changed directly.
    pub fn reindex(&mut self) {
        self.by_mac.clear();
        self.by_ip.clear();
        self.by_name.clear();
        self.by_norm.clear();
        for (i, d) in self.devices.iter().enumerate() {
            let i = i as u16;
            if let Some(m) = d.mac {
                self.by_mac.entry(m).or_insert(i);
            }
            for ip in &d.ips {
                self.by_ip.entry(*ip).or_insert(i);
            }
            self.by_name.entry(d.name.clone()).or_insert(i);
            self.by_norm.entry(norm_name(&d.name)).or_insert(i);
        }
    }

    /// Loads a registry; the format is chosen by content (JSON object vs CSV).
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            // Say what is missing: a project names its registry, and it may have moved.
            std::io::ErrorKind::NotFound => Error::invalid(path, "device registry not found"),
            _ => Error::io(path, e),
        })?;
        // A UTF-8 byte-order mark (Windows editors write one) is not content.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let python = path.extension().is_some_and(|e| e == "py");
        if text.trim_start().starts_with('{') {
            Self::from_lab_json(path, text)
        } else if python || super::devices_py::looks_like_python(text) {
            let json =
                super::devices_py::python_registry_to_json(text).map_err(|(line, reason)| {
                    Error::Parse {
                        file: path.to_path_buf(),
                        line,
                        reason,
                    }
                })?;
            Self::from_lab_json(path, &json).map_err(|e| match e {
                Error::Parse { file, line, reason } => Error::Parse {
                    file,
                    line,
                    reason: reason.replacen(
                        "devices.json: ",
                        "devices.py (read as its literals): ",
                        1,
                    ),
                },
                e => e,
            })
        } else if looks_like_csv(text) {
            Self::from_csv(path, text)
        } else {
            Err(Error::Parse {
                file: path.to_path_buf(),
                line: 1,
                reason: NOT_A_REGISTRY.into(),
            })
        }
    }

    pub fn from_lab_json(path: &Path, text: &str) -> Result<Registry> {
        let lab: LabFile = serde_json::from_str(text).map_err(|e| {
            let reason = e.to_string();
            // A repeated name is reported where it is repeated, not where its entry ends.
            let line = match reason
                .split('"')
                .nth(1)
                .filter(|_| reason.contains("listed twice"))
            {
                Some(name) => nth_key_line(text, name, 2).unwrap_or(e.line()),
                None => e.line(),
            };
            let reason = reason
                .split(" at line ")
                .next()
                .unwrap_or(&reason)
                .to_string();
            Error::Parse {
                file: path.to_path_buf(),
                line,
                reason: format!("devices.json: {reason}"),
            }
        })?;
        let mut hub_of: HashMap<&str, &str> = HashMap::new();
        for (hub, kids) in &lab.hubs {
            for k in kids {
                hub_of.insert(k.as_str(), hub.as_str());
            }
        }
        let mut names: Vec<&String> = lab.devices.keys().collect();
        // Children listed under hubs but absent from `devices` still exist (no MAC of their own).
        let mut extra: Vec<String> = hub_of
            .keys()
            .filter(|k| !lab.devices.contains_key(**k))
            .map(|k| k.to_string())
            .collect();
        extra.sort();
        names.sort();
        let mut devices = Vec::new();
        let mut lines = Vec::new();
        for n in names {
            lines.push(find_key_line(text, n));
            let d = &lab.devices[n];
            let mac = match d.ether.as_deref() {
                Some(s) if !s.trim().is_empty() => {
                    Some(parse_mac(s).ok_or_else(|| Error::Parse {
                        file: path.to_path_buf(),
                        line: find_line(text, s),
                        reason: format!("device {n}: bad MAC {s:?}"),
                    })?)
                }
                _ => None,
            };
            let ips = match d.address.as_deref().map(str::trim) {
                Some(a) if !a.is_empty() => {
                    vec![a.parse::<IpAddr>().map_err(|_| Error::Parse {
                        file: path.to_path_buf(),
                        line: find_line(text, a),
                        reason: format!("device {n}: bad IP address {a:?}"),
                    })?]
                }
                _ => vec![],
            };
            devices.push(Device {
                name: n.clone(),
                mac,
                ips,
                description: d.description.replace('\n', " "),
                hub: hub_of.get(n.as_str()).map(|h| h.to_string()),
                registered: true,
            });
        }
        for n in extra {
            lines.push(find_line(text, &format!("\"{n}\"")));
            devices.push(Device {
                hub: hub_of.get(n.as_str()).map(|h| h.to_string()),
                name: n,
                mac: None,
                ips: vec![],
                description: String::new(),
                registered: true,
            });
        }
        add_missing_hubs(&mut devices, &mut lines);
        check_devices(path, &devices, &lines)?;
        Ok(Registry::new(devices))
    }

    /// CSV `name,mac,ip,description,hub` (header optional).
    pub fn from_csv(path: &Path, text: &str) -> Result<Registry> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut devices = Vec::new();
        let mut lines = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| Error::Parse {
                file: path.to_path_buf(),
                line: e.position().map_or(i + 1, |p| p.line() as usize),
                reason: e.to_string(),
            })?;
            // A quoted field may hold line breaks: the record's own line, not its index.
            let line = rec.position().map_or(i + 1, |p| p.line() as usize);
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if i == 0
                && rec
                    .get(0)
                    .is_some_and(|f| f.trim().eq_ignore_ascii_case("name"))
            {
                continue;
            }
            if rec.len() < 2 {
                return Err(Error::Parse {
                    file: path.to_path_buf(),
                    line,
                    reason: format!(
                        "expected name,mac,ip,description,hub; got {} fields",
                        rec.len()
                    ),
                });
            }
            let g = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
            let mac_s = g(1);
            let mac = if mac_s.is_empty() {
                None
            } else {
                Some(parse_mac(&mac_s).ok_or_else(|| Error::Parse {
                    file: path.to_path_buf(),
                    line,
                    reason: format!("bad MAC {mac_s:?}"),
                })?)
            };
            let ip_s = g(2);
            let ips = if ip_s.is_empty() {
                vec![]
            } else {
                vec![ip_s.parse::<IpAddr>().map_err(|_| Error::Parse {
                    file: path.to_path_buf(),
                    line,
                    reason: format!("bad IP address {ip_s:?}"),
                })?]
            };
            let hub = Some(g(4)).filter(|h| !h.is_empty());
            lines.push(line);
            devices.push(Device {
                name: g(0),
                mac,
                ips,
                description: g(3),
                hub,
                registered: true,
            });
        }
        add_missing_hubs(&mut devices, &mut lines);
        check_devices(path, &devices, &lines)?;
        Ok(Registry::new(devices))
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
    pub fn by_mac(&self, mac: &[u8; 6]) -> Option<u16> {
        self.by_mac.get(mac).copied()
    }
    pub fn by_ip(&self, ip: &IpAddr) -> Option<u16> {
        self.by_ip.get(ip).copied()
    }
    pub fn by_name(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }
    /// Exact name, then case- and separator-insensitive name.
    pub fn match_name(&self, name: &str) -> Option<u16> {
        self.by_name(name)
            .or_else(|| self.by_norm.get(&norm_name(name)).copied())
    }
    /// Adds a device seen only in captures, named by its MAC.
    pub fn add_unregistered(&mut self, mac: [u8; 6]) -> u16 {
        if let Some(i) = self.by_mac(&mac) {
            return i;
        }
        let i = self.devices.len() as u16;
        self.devices.push(Device {
            name: fmt_mac(&mac),
            mac: Some(mac),
            ips: vec![],
            description: String::new(),
            hub: None,
            registered: false,
        });
        self.by_mac.insert(mac, i);
        self.by_name.insert(fmt_mac(&mac), i);
        i
    }
    /// Index of a device's hub, if any.
    pub fn hub_of(&self, dev: u16) -> Option<u16> {
        self.devices[dev as usize]
            .hub
            .as_deref()
            .and_then(|h| self.by_name(h))
    }
    /// Children of a hub.
    pub fn children(&self, hub: u16) -> Vec<u16> {
        let name = &self.devices[hub as usize].name;
        (0..self.devices.len() as u16)
            .filter(|&i| self.devices[i as usize].hub.as_deref() == Some(name.as_str()))
            .collect()
    }
}

/// Refuses a registry whose devices cannot be told apart: a device without a name, two names
/// that labels would match to either (the same after [`norm_name`]), or one MAC given to two
/// devices (its packets would silently go to the first).
/// `lines[i]` is the line of `devices[i]` in `path`.
fn check_devices(path: &Path, devices: &[Device], lines: &[usize]) -> Result<()> {
    let err = |i: usize, reason: String| Error::Parse {
        file: path.to_path_buf(),
        line: lines[i],
        reason,
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut macs: HashMap<[u8; 6], usize> = HashMap::new();
    for (i, d) in devices.iter().enumerate() {
        if d.name.is_empty() {
            return Err(err(i, "device without a name".into()));
        }
        if let Some(&j) = names.get(&norm_name(&d.name)) {
            let same = if devices[j].name == d.name {
                String::new()
            } else {
                format!(" {:?}", devices[j].name)
            };
            return Err(err(
                i,
                format!(
                    "device name {:?} repeats device{same} at line {}",
                    d.name, lines[j]
                ),
            ));
        }
        names.insert(norm_name(&d.name), i);
        if let Some(m) = d.mac {
            if let Some(&j) = macs.get(&m) {
                return Err(err(
                    i,
                    format!(
                        "device {:?} has MAC {}, already device {:?}'s (line {})",
                        d.name,
                        fmt_mac(&m),
                        devices[j].name,
                        lines[j]
                    ),
                ));
            }
            macs.insert(m, i);
        }
    }
    Ok(())
}

/// Adds each hub that devices name but the file does not list, as a device without a MAC (as
/// the lab format does for a hub's children that `devices` leaves out), so its devices still
/// group under it; `lines` gets the line of the first device naming it.
fn add_missing_hubs(devices: &mut Vec<Device>, lines: &mut Vec<usize>) {
    let mut missing: Vec<(String, usize)> = Vec::new();
    for (d, &line) in devices.iter().zip(lines.iter()) {
        if let Some(h) = &d.hub {
            if !devices.iter().any(|x| &x.name == h) && !missing.iter().any(|(m, _)| m == h) {
                missing.push((h.clone(), line));
            }
        }
    }
    missing.sort();
    for (name, line) in missing {
        devices.push(Device {
            name,
            mac: None,
            ips: vec![],
            description: String::new(),
            hub: None,
            registered: true,
        });
        lines.push(line);
    }
}

/// The line of `"key":` in a JSON text (0 if absent).
/// The line of the `n`th (1-based) occurrence of `"key"` followed by a colon.
fn nth_key_line(text: &str, key: &str, n: usize) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(&quoted) {
            rest = &rest[at + quoted.len()..];
            if rest.trim_start().starts_with(':') {
                seen += 1;
                if seen == n {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

fn find_key_line(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|l| {
            l.match_indices(&quoted)
                .any(|(at, _)| l[at + quoted.len()..].trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// What a registry may be, for a file that is none of them.
pub const NOT_A_REGISTRY: &str = "not a device registry: expected the lab's devices.json \
     ({\"devices\": {NAME: {\"ether\": MAC, \"address\": IP, \"description\": …}}, \"hubs\": \
     {HUB: [CHILD, …]}}), its devices.py (`devices = {…}` and `hubs = {…}`), or a CSV \
     name,mac,ip,description,hub";

/// Whether the first line with content has at least two comma-separated fields.
fn looks_like_csv(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.contains(','))
}

fn find_line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// True for group (multicast/broadcast) MAC addresses.
pub fn is_group_mac(m: &[u8; 6]) -> bool {
    m[0] & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_case_insensitive() {
        assert_eq!(
            parse_mac("B0:09:DA:12:90:23"),
            parse_mac("b0-09-da-12-90-23")
        );
        assert_eq!(parse_mac("zz:09:DA:12:90:23"), None);
        assert_eq!(
            fmt_mac(&parse_mac("B0:09:DA:12:90:23").unwrap()),
            "b0:09:da:12:90:23"
        );
    }

    #[test]
    fn csv_registry_with_errors() {
        let p = Path::new("d.csv");
        let r = Registry::from_csv(p, "name,mac,ip,description,hub\nlock,AA:bb:cc:dd:ee:ff,10.0.0.2,Lock,hub1\nhub1,aa:bb:cc:dd:ee:00,,Hub,\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.hub_of(0), Some(1));
        assert_eq!(r.match_name("LOCK"), Some(0));
        let e = Registry::from_csv(p, "a,aa:bb\n").unwrap_err().to_string();
        assert!(e.contains("d.csv") && e.contains("line 1"), "{e}");
    }

    /// Devices that cannot be told apart are refused at the line that repeats them.
    #[test]
    fn registries_that_confuse_devices_are_refused() {
        let p = Path::new("d.csv");
        let head = "name,mac,ip,description,hub\n";
        for (body, want) in [
            (
                "cam,aa:bb:cc:dd:ee:01,,,\nplug,AA-BB-CC-DD-EE-01,,,\n",
                "line 3: device \"plug\" has MAC aa:bb:cc:dd:ee:01, already device \"cam\"'s \
                 (line 2)",
            ),
            (
                "cam,aa:bb:cc:dd:ee:01,,,\n\"cam\",aa:bb:cc:dd:ee:02,,,\n",
                "line 3: device name \"cam\" repeats device at line 2",
            ),
            (
                "kasa-cam,,,\"two\nlines\",\nKasa Cam,,,,\n",
                "line 4: device name \"Kasa Cam\" repeats device \"kasa-cam\" at line 2",
            ),
            (",aa:bb:cc:dd:ee:01,,,\n", "line 2: device without a name"),
        ] {
            let e = Registry::from_csv(p, &format!("{head}{body}"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("d.csv") && e.ends_with(want), "{e}");
        }
        let j = Path::new("devices.json");
        let text = r#"{"devices": {
            "cam": {"ether": "aa:bb:cc:dd:ee:01"},
            "plug": {"ether": "aa:bb:cc:dd:ee:01"}
        }}"#;
        let e = Registry::from_lab_json(j, text).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("already device \"cam\"'s (line 2)"),
            "{e}"
        );
        let text = "{\"devices\": {\n\"cam\": {\"address\": \" 10.0.0.300\"}}}";
        let e = Registry::from_lab_json(j, text).unwrap_err().to_string();
        assert!(
            e.ends_with("line 2: device cam: bad IP address \"10.0.0.300\""),
            "{e}"
        );
    }

    /// A hub that devices name but the file leaves out is a device without a MAC, so they
    /// still group under it (CSV and lab JSON alike).
    #[test]
    fn hubs_not_listed_are_devices() {
        let r = Registry::from_csv(
            Path::new("d.csv"),
            "lock,aa:bb:cc:dd:ee:01,,,bridge\nkeypad,,,,bridge\nplug,,,,\n",
        )
        .unwrap();
        let names: Vec<&str> = r.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["lock", "keypad", "plug", "bridge"]);
        assert_eq!(r.children(3), [0, 1]);
        assert_eq!(r.devices[3].mac, None);
        let text = r#"{"devices": {"cam": {"ether": "aa:bb:cc:dd:ee:01"}},
            "hubs": {"bridge": ["lock", "cam"]}}"#;
        let r = Registry::from_lab_json(Path::new("devices.json"), text).unwrap();
        let names: Vec<&str> = r.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["cam", "lock", "bridge"]);
        assert_eq!(r.hub_of(0), Some(2));
        assert_eq!(r.hub_of(1), Some(2));
    }

    #[test]
    fn norm_names() {
        assert_eq!(norm_name("kasa cam 01"), norm_name("kasa-cam-01"));
    }
}
