//! The simulated lab's devices: templates by kind (cameras, locks, plugs, hubs with children),
//! their event classes and rates, addresses and how each notifies.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Camera,
    Doorbell,
    Lock,
    Plug,
    Hub,
    Speaker,
}

/// How a vendor's companion app words a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notifier {
    None,
    Kasa,
    Geeni,
    Nest,
    Ring,
    RingAlarm,
    SimpliSafe,
    NightOwl,
    Schlage,
    Sifely,
}

pub(crate) struct Template {
    pub(crate) prefix: &'static str,
    pub(crate) description: &'static str,
    pub(crate) kind: Kind,
    pub(crate) notifier: Notifier,
    /// Event classes of the device itself (None for trigger-driven devices).
    pub(crate) classes: &'static [(&'static str, f64)],
    pub(crate) ifttt_applet: bool,
    pub(crate) smartthings: bool,
    pub(crate) triggers: bool,
    /// Children behind this hub: (prefix, description, classes, notifier, smartthings, triggers).
    pub(crate) children: &'static [Child],
}

pub(crate) struct Child {
    pub(crate) prefix: &'static str,
    pub(crate) description: &'static str,
    pub(crate) classes: &'static [(&'static str, f64)],
    pub(crate) notifier: Notifier,
    pub(crate) smartthings: bool,
    pub(crate) triggers: bool,
    pub(crate) ifttt_applet: bool,
}

pub(crate) const CAM: &[(&str, f64)] = &[("motion", 22.0), ("sound", 8.0)];

pub(crate) const BELL: &[(&str, f64)] = &[("motion", 12.0), ("ring", 4.0)];

pub(crate) const LOCK: &[(&str, f64)] = &[("lock", 6.0), ("unlock", 6.0)];

pub(crate) const SENSOR: &[(&str, f64)] = &[("motionstart", 10.0), ("temp", 6.0)];

pub(crate) const CONTACT: &[(&str, f64)] = &[("open", 8.0), ("close", 8.0)];

pub(crate) const NONE: &[(&str, f64)] = &[];

pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        prefix: "kasa-cam",
        description: "Kasa Spot Indoor Camera",
        kind: Kind::Camera,
        notifier: Notifier::Kasa,
        classes: CAM,
        ifttt_applet: true,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "ring-doorbell",
        description: "Ring Video Doorbell",
        kind: Kind::Doorbell,
        notifier: Notifier::Ring,
        classes: BELL,
        ifttt_applet: true,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "schlage-lock",
        description: "Schlage Encode Smart WiFi Deadbolt",
        kind: Kind::Lock,
        notifier: Notifier::Schlage,
        classes: LOCK,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "hue-hub",
        description: "Philips Hue Bridge",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "hue-light",
                description: "Philips Hue White Bulb",
                classes: NONE,
                notifier: Notifier::None,
                smartthings: false,
                triggers: true,
                ifttt_applet: false,
            },
            Child {
                prefix: "hue-light",
                description: "Philips Hue White Bulb",
                classes: NONE,
                notifier: Notifier::None,
                smartthings: false,
                triggers: true,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "smartthings-hub",
        description: "SmartThings Hub",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "smartthings-motion",
                description: "SmartThings Motion Sensor",
                classes: SENSOR,
                notifier: Notifier::None,
                smartthings: true,
                triggers: false,
                ifttt_applet: false,
            },
            Child {
                prefix: "smartthings-multi",
                description: "SmartThings Multipurpose Sensor",
                classes: CONTACT,
                notifier: Notifier::None,
                smartthings: true,
                triggers: false,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "kasa-plug",
        description: "Kasa Smart Plug",
        kind: Kind::Plug,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: true,
        children: &[],
    },
    Template {
        prefix: "geeni-cam",
        description: "Geeni Look Indoor Camera",
        kind: Kind::Camera,
        notifier: Notifier::Geeni,
        classes: CAM,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "sifely-hub",
        description: "Sifely Gateway",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[Child {
            prefix: "sifely-lock",
            description: "Sifely Keyless Entry Lock",
            classes: &[("unlock", 8.0)],
            notifier: Notifier::Sifely,
            smartthings: false,
            triggers: false,
            ifttt_applet: false,
        }],
    },
    Template {
        prefix: "nest-cam",
        description: "Nest Cam IQ Indoor",
        kind: Kind::Camera,
        notifier: Notifier::Nest,
        classes: &[("motion", 20.0), ("sound", 6.0), ("person", 6.0)],
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "wemo-plug",
        description: "Wemo Mini Smart Plug",
        kind: Kind::Plug,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: true,
        children: &[],
    },
    Template {
        prefix: "wyze-cam",
        description: "Wyze Cam v2",
        kind: Kind::Camera,
        notifier: Notifier::None,
        classes: &[("motion", 24.0)],
        ifttt_applet: true,
        smartthings: true,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "amazon-dot",
        description: "Amazon Echo Dot 3rd Gen",
        kind: Kind::Speaker,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "ring-hub",
        description: "Ring Alarm Base Station",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "ring-contact-sensor",
                description: "Ring Alarm Contact Sensor",
                classes: CONTACT,
                notifier: Notifier::RingAlarm,
                smartthings: false,
                triggers: false,
                ifttt_applet: false,
            },
            Child {
                prefix: "ring-motion",
                description: "Ring Alarm Motion Detector",
                classes: &[("motion", 10.0)],
                notifier: Notifier::RingAlarm,
                smartthings: false,
                triggers: false,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "nightowl-doorbell",
        description: "Night Owl Wi-Fi Video Doorbell",
        kind: Kind::Doorbell,
        notifier: Notifier::NightOwl,
        classes: BELL,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "simplisafe-cam",
        description: "SimpliSafe SimpliCam",
        kind: Kind::Camera,
        notifier: Notifier::SimpliSafe,
        classes: &[("motion", 18.0)],
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "arlo-hub",
        description: "Arlo Base Station",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[Child {
            prefix: "arlo-cam",
            description: "Arlo Pro 3 Camera",
            classes: &[("motion", 16.0)],
            notifier: Notifier::None,
            smartthings: true,
            triggers: false,
            ifttt_applet: true,
        }],
    },
];

/// One simulated device (network device or hub child).
#[derive(Clone, Debug)]
pub struct SimDevice {
    pub name: String,
    pub description: String,
    pub(crate) kind: Kind,
    pub(crate) notifier: Notifier,
    pub(crate) classes: Vec<(String, f64)>,
    pub(crate) ifttt_applet: bool,
    pub(crate) smartthings: bool,
    pub(crate) triggers: bool,
    /// Index of the device whose traffic carries this one's events (itself or its hub).
    pub traffic_dev: usize,
    pub hub: Option<usize>,
    pub mac: Option<[u8; 6]>,
    pub ip: [u8; 4],
    pub(crate) cloud: [u8; 4],
    pub(crate) ttl: u8,
    pub(crate) cloud_ttl: u8,
}

pub const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];

pub(crate) const GATEWAY_IP: [u8; 4] = [192, 168, 1, 1];

pub(crate) const BCAST: [u8; 6] = [0xff; 6];

pub(crate) const SSDP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa];

pub(crate) const SSDP_IP: [u8; 4] = [239, 255, 255, 250];

pub(crate) const NTP_IP: [u8; 4] = [129, 6, 15, 28];

pub(crate) fn build_devices(n: usize, seed: u64) -> Vec<SimDevice> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD3_71CE);
    let mut out: Vec<SimDevice> = Vec::new();
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let name = |prefix: &'static str, counts: &mut std::collections::HashMap<&str, usize>| {
        let c = counts.entry(prefix).or_insert(0);
        *c += 1;
        format!("{prefix}-{:02}", c)
    };
    for i in 0..n {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        let idx = out.len();
        let mac = [
            0x02,
            0x1a,
            rng.gen(),
            rng.gen(),
            (idx >> 8) as u8,
            idx as u8,
        ];
        let ip = [192, 168, 1, (100 + i % 150) as u8];
        let cloud = [
            [52, 3, 35, 18][i % 4],
            rng.gen_range(1..250),
            rng.gen_range(1..250),
            rng.gen_range(1..250),
        ];
        out.push(SimDevice {
            name: name(t.prefix, &mut counts),
            description: t.description.into(),
            kind: t.kind,
            notifier: t.notifier,
            classes: t.classes.iter().map(|(c, r)| (c.to_string(), *r)).collect(),
            ifttt_applet: t.ifttt_applet,
            smartthings: t.smartthings,
            triggers: t.triggers,
            traffic_dev: idx,
            hub: None,
            mac: Some(mac),
            ip,
            cloud,
            ttl: if rng.gen_bool(0.5) { 64 } else { 255 },
            cloud_ttl: rng.gen_range(38..56),
        });
        for ch in t.children {
            let cidx = out.len();
            out.push(SimDevice {
                name: name(ch.prefix, &mut counts),
                description: ch.description.into(),
                kind: Kind::Lock,
                notifier: ch.notifier,
                classes: ch
                    .classes
                    .iter()
                    .map(|(c, r)| (c.to_string(), *r))
                    .collect(),
                ifttt_applet: ch.ifttt_applet,
                smartthings: ch.smartthings,
                triggers: ch.triggers,
                traffic_dev: idx,
                hub: Some(idx),
                mac: None,
                ip: [0; 4],
                cloud: [0; 4],
                ttl: 0,
                cloud_ttl: 0,
            });
            let _ = cidx;
        }
    }
    out
}
