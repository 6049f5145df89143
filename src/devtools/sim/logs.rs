//! The simulated label logs: rows in the lab's formats, local times, notification wording.

use super::*;

pub(crate) fn local_text(ns: i64, tz: &Tz, seconds: bool) -> String {
    let d = tz.timestamp_nanos(ns);
    if seconds {
        d.format("%B %d, %Y at %I:%M:%S%p").to_string()
    } else {
        d.format("%B %d, %Y at %I:%M%p").to_string()
    }
}

/// One log row with its truth.
#[derive(Clone, Debug)]
pub(crate) struct LogRow {
    pub(crate) logged_ns: i64,
    pub(crate) text: String,
    pub(crate) true_event: Option<usize>,
    /// "", "duplicate", "repeat" or "no-traffic".
    pub(crate) defect: &'static str,
}

/// A notification in the vendor's wording (the lab lower-cases names and uses spaces).
pub(crate) fn notification(d: &SimDevice, class: &str, ns: i64, tz: &Tz) -> Option<String> {
    let dev = d.name.replace('-', " ");
    let (pkg, title, text) = match (d.notifier, class) {
        (Notifier::Kasa, "motion") => (
            "com.tplink.kasa_android",
            format!("{dev} detected motion"),
            String::new(),
        ),
        (Notifier::Kasa, "sound") => (
            "com.tplink.kasa_android",
            format!("{dev} detected sound"),
            String::new(),
        ),
        (Notifier::Geeni, "motion") => (
            "com.merkuryinnovations.geeni",
            "Geeni".into(),
            format!("{dev} has detected movement."),
        ),
        (Notifier::Geeni, "sound") => (
            "com.merkuryinnovations.geeni",
            "Geeni".into(),
            format!("{dev} has detected sound."),
        ),
        (Notifier::Nest, c) => {
            let w = match c {
                "motion" => "Motion",
                "sound" => "Sound",
                "person" => "Person",
                _ => "Doorbell",
            };
            (
                "com.nest.android",
                format!("{w} \u{2022} Office ({dev})"),
                String::new(),
            )
        }
        (Notifier::Ring, "motion") => (
            "com.ringapp",
            format!("There is motion at your {dev}"),
            String::new(),
        ),
        (Notifier::Ring, "ring") => (
            "com.ringapp",
            format!("\u{1F514} Someone is at your {dev}"),
            String::new(),
        ),
        (Notifier::RingAlarm, c) => {
            let w = match c {
                "open" => "opened",
                "close" => "closed",
                "batt" => "reported low battery",
                _ => "detected motion",
            };
            let at = tz.timestamp_nanos(ns).format("%-I:%M %p");
            (
                "com.ringapp",
                "Ring Alarm".into(),
                format!("Melbourne {dev} [in IoT Lab] {w} at {at}"),
            )
        }
        (Notifier::SimpliSafe, _) => (
            "com.simplisafe.mobile",
            "SimpliSafe".into(),
            format!(
                "\"{dev}\" Camera Detected Motion on {}",
                tz.timestamp_nanos(ns).format("%-m/%-d/%y at %-I:%M %p")
            ),
        ),
        (Notifier::NightOwl, "motion") => (
            "com.nightowl.connect",
            "Night Owl".into(),
            format!("There is motion at your {dev}"),
        ),
        (Notifier::NightOwl, "ring") => (
            "com.nightowl.connect",
            "Night Owl".into(),
            format!("Someone just rang your {dev}"),
        ),
        (Notifier::Schlage, "lock") => (
            "com.allegion.leopard",
            "Schlage Home".into(),
            format!("{dev} locked"),
        ),
        (Notifier::Schlage, "unlock") => (
            "com.allegion.leopard",
            "Schlage Home".into(),
            format!("{dev} unlocked"),
        ),
        (Notifier::Sifely, "unlock") => (
            "com.sifely.smartlock",
            "Sifely".into(),
            format!("\"Admin\" unlocked (\"{dev}\")."),
        ),
        _ => return None,
    };
    let v = serde_json::json!({"package": pkg, "title": title, "text": text, "date": local_text(ns, tz, true)});
    Some(v.to_string())
}
