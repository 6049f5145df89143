//! Defects of real labs that the simulator can give a project, so that curation is measured on
//! the problems real data has: a logger clock that runs fast, repeated and cross-logged rows,
//! devices that wake with a lookup seconds before they upload, Windows line endings, logs in
//! another zone or with no zone named.

use super::*;

/// The defects a simulated lab has beyond the lab's own (polling delay, repeats, an outage).
#[derive(Clone, Debug, PartialEq)]
pub struct Defects {
    /// The IFTTT logger's clock minus true time (positive: it runs fast).
    pub ifttt_clock_offset_ns: i64,
    /// Share of IFTTT rows written two or three times.
    pub ifttt_repeat_rate: f64,
    /// Share of IFTTT applet events that SmartThings logs too (second precision, its clock):
    /// cross-source duplicates.
    pub ifttt_also_smartthings: f64,
    /// Cameras wake with a DHCP exchange and a DNS lookup 3 to 8 s before their upload; the
    /// event's true time is the wake-up.
    pub lead_in: bool,
    /// Label logs end their lines with CRLF.
    pub crlf: bool,
    /// The zone the logs' local times are written in.
    pub label_zone: String,
    /// The project names no zone for its sources (they are read as UTC until curation finds
    /// the zone).
    pub omit_zone: bool,
    /// Every other camera with an IFTTT applet sends no app notifications (as the lab's Blink
    /// cameras): its IFTTT rows are its only labels.
    pub ifttt_only_cameras: bool,
    /// Plugs take commands as one small cloud push on their persistent connection (a ~271-byte
    /// segment in, a 150–350-byte status out) amid 85/89-byte keepalives every 5 s, as the
    /// lab's lock hubs do, instead of opening a connection.
    pub push_commands: bool,
    /// Scheduled triggers act this long at most after their minute (the lab's own: 12 s; real
    /// IFTTT: seconds to over a minute).
    pub trigger_delay_max_ns: i64,
    /// The trigger logger's clock steps by this much half-way through the capture.
    pub trigger_clock_step_ns: i64,
    /// The IFTTT logger's clock gains this much a day on true time (linear drift from the
    /// capture's start, on top of its offset).
    pub ifttt_clock_drift_ns_per_day: i64,
}

impl Default for Defects {
    fn default() -> Self {
        Defects {
            ifttt_clock_offset_ns: 0,
            ifttt_repeat_rate: 0.12,
            ifttt_also_smartthings: 0.0,
            lead_in: false,
            crlf: false,
            label_zone: LAB_TZ.into(),
            omit_zone: false,
            ifttt_only_cameras: false,
            push_commands: false,
            trigger_delay_max_ns: 12 * NS,
            trigger_clock_step_ns: 0,
            ifttt_clock_drift_ns_per_day: 0,
        }
    }
}

impl Defects {
    /// The defects found on real labs, all at once: a 30 s-fast IFTTT clock, 15 % IFTTT
    /// repeats, 30 % of IFTTT events also logged by SmartThings, cameras that look up their
    /// cloud before uploading (every other one known only to IFTTT), CRLF logs and labels in
    /// America/Chicago.
    pub fn real_lab() -> Defects {
        Defects {
            ifttt_clock_offset_ns: 30 * NS,
            ifttt_repeat_rate: 0.15,
            ifttt_also_smartthings: 0.3,
            lead_in: true,
            crlf: true,
            label_zone: "America/Chicago".into(),
            omit_zone: false,
            ifttt_only_cameras: true,
            ..Defects::default()
        }
    }
    /// Lock hubs and scheduled triggers as on the real lab: commands as small pushes among
    /// keepalives, triggers acting 5 to 75 s after their minute, and the trigger logger's clock
    /// stepping by a minute half-way through.
    pub fn small_commands() -> Defects {
        Defects {
            push_commands: true,
            trigger_delay_max_ns: 75 * NS,
            trigger_clock_step_ns: 60 * NS,
            ..Defects::default()
        }
    }
    /// The real lab's defects with an IFTTT clock that drifts 120 s a day from its 30 s offset
    /// (eight minutes over four days: far beyond any constant offset).
    pub fn drift() -> Defects {
        Defects {
            ifttt_clock_drift_ns_per_day: 120 * NS,
            ..Defects::real_lab()
        }
    }
    /// The line ending of the label logs.
    pub(crate) fn eol(&self) -> &'static str {
        if self.crlf {
            "\r\n"
        } else {
            "\n"
        }
    }
    /// The zone written into the project for every source.
    pub(crate) fn project_zone(&self) -> String {
        if self.omit_zone {
            "UTC".into()
        } else {
            self.label_zone.clone()
        }
    }
}

/// Whether a device is a camera known only to its IFTTT applet (no app notifications): with
/// the defect, the odd-numbered ones (`kasa-cam-01`, `-03`, …).
pub(crate) fn ifttt_only(o: &SimOptions, d: &SimDevice) -> bool {
    let odd = d
        .name
        .bytes()
        .last()
        .is_some_and(|c| c.is_ascii_digit() && (c - b'0') % 2 == 1);
    o.defects.ifttt_only_cameras && d.ifttt_applet && d.kind == Kind::Camera && odd
}

/// How long before its upload a device wakes for an event, if it does: cameras with the
/// lead-in defect, 3 to 8 s (seeded per event).
pub(crate) fn lead_in_ns(o: &SimOptions, d: &SimDevice, rng: &mut ChaCha8Rng) -> Option<i64> {
    (o.defects.lead_in && d.kind == Kind::Camera).then(|| rng.gen_range(3_000..8_000) * 1_000_000)
}

/// The wake-up before an upload: DHCP request and reply, then a DNS query and its answer.
pub(crate) fn emit_lead_in(dev: u16, t0: i64, out: &mut Vec<Pkt>) {
    let p = |ts: i64, proto: Proto, inbound: bool, payload: u16| Pkt {
        ts,
        dev,
        proto,
        inbound,
        tcp_flags: 0,
        port: 0,
        payload,
    };
    out.push(p(t0, Proto::Dhcp, false, 300));
    out.push(p(t0 + 4_000_000, Proto::Dhcp, true, 300));
    out.push(p(t0 + 600_000_000, Proto::Dns, false, 40));
    out.push(p(t0 + 640_000_000, Proto::Dns, true, 110));
}

/// A command pushed by the cloud on a device's persistent connection, and the device's status
/// reply.
pub(crate) fn emit_push_command(
    dev: u16,
    t0: i64,
    port: u16,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Pkt>,
) {
    let p = |ts: i64, inbound: bool, payload: u16| Pkt {
        ts,
        dev,
        proto: Proto::Tls,
        inbound,
        tcp_flags: F_PSH | F_ACK,
        port,
        payload,
    };
    out.push(p(t0, true, rng.gen_range(265..278)));
    let t1 = t0 + rng.gen_range(100..400) * 1_000_000;
    out.push(p(t1, false, rng.gen_range(150..350)));
    out.push(Pkt {
        tcp_flags: F_ACK,
        payload: 0,
        ..p(t1 + 40_000_000, true, 0)
    });
}

/// The keepalive port of a device on a given day (the background's persistent connection).
pub(crate) fn keepalive_port(dev: usize, t: i64) -> u16 {
    40000 + ((dev as i64 * 131 + t.div_euclid(86400 * NS)) % 9000) as u16
}
