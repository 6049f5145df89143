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
    devices: HashMap<String, LabDevice>,
    #[serde(default)]
    hubs: HashMap<String, Vec<String>>,
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
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        if text.trim_start().starts_with('{') {
            Self::from_lab_json(path, &text)
        } else {
            Self::from_csv(path, &text)
        }
    }

    pub fn from_lab_json(path: &Path, text: &str) -> Result<Registry> {
        let lab: LabFile = serde_json::from_str(text).map_err(|e| Error::Parse {
            file: path.to_path_buf(),
            line: e.line(),
            reason: format!("devices.json: {e}"),
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
        for n in names {
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
            let ips = d
                .address
                .as_deref()
                .and_then(|a| a.trim().parse::<IpAddr>().ok())
                .into_iter()
                .collect();
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
            devices.push(Device {
                hub: hub_of.get(n.as_str()).map(|h| h.to_string()),
                name: n,
                mac: None,
                ips: vec![],
                description: String::new(),
                registered: true,
            });
        }
        Ok(Registry::new(devices))
    }

    /// CSV `name,mac,ip,description,hub` (header optional).
    pub fn from_csv(path: &Path, text: &str) -> Result<Registry> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut devices = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 1;
            let rec = rec.map_err(|e| Error::Parse {
                file: path.to_path_buf(),
                line,
                reason: e.to_string(),
            })?;
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
            devices.push(Device {
                name: g(0),
                mac,
                ips,
                description: g(3),
                hub,
                registered: true,
            });
        }
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

    #[test]
    fn norm_names() {
        assert_eq!(norm_name("kasa cam 01"), norm_name("kasa-cam-01"));
    }
}
