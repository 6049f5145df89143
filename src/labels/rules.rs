//! Notification rules: which companion-app notification (package, title or text) names which
//! device and event class; the defaults follow the vendors' own wording.

use super::*;

/// The default notification rules for the lab's vendors (wordings from the lab's converter).
pub fn default_rules() -> Vec<NotificationRule> {
    let r = |package: &str, field: &str, pattern: &str, class: &str| NotificationRule {
        package: package.into(),
        field: field.into(),
        pattern: pattern.into(),
        class: class.into(),
    };
    vec![
        r(
            "com.tplink.kasa_android",
            "title",
            r"^(?P<dev>.+?) detected motion",
            "motion",
        ),
        r(
            "com.tplink.kasa_android",
            "title",
            r"^(?P<dev>.+?) detected sound",
            "sound",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) has detected movement",
            "motion",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) has detected sound",
            "sound",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) someone is knocking",
            "ring",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Motion\b.*\((?P<dev>[^()]+)\)\s*$",
            "motion",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Sound\b.*\((?P<dev>[^()]+)\)\s*$",
            "sound",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Doorbell\b.*\((?P<dev>[^()]+)\)\s*$",
            "ring",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Person\b.*\((?P<dev>[^()]+)\)\s*$",
            "person",
        ),
        r(
            "com.ringapp",
            "title",
            r"There is motion at your (?P<dev>.+?)\s*$",
            "motion",
        ),
        r(
            "com.ringapp",
            "title",
            r"Someone is at your (?P<dev>.+?)\s*$",
            "ring",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? detected motion at",
            "motion",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? opened at",
            "open",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? closed at",
            "close",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? reported low battery at",
            "batt",
        ),
        r(
            "com.simplisafe.mobile",
            "text",
            r#""(?P<dev>[^"]+)" Camera Detected Motion on"#,
            "motion",
        ),
        r(
            "com.simplisafe.mobile",
            "text",
            r#"Someone is at your "(?P<dev>[^"]+)" on"#,
            "ring",
        ),
        r(
            "com.nightowl.connect",
            "text",
            r"There is motion at your (?P<dev>.+?)\s*$",
            "motion",
        ),
        r(
            "com.nightowl.connect",
            "text",
            r"Someone just rang your (?P<dev>.+?)\s*$",
            "ring",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^Access code \S+ unlocked (?P<dev>.+?)\s*$",
            "unlock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?unlocked\s*$",
            "unlock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?locked\s*$",
            "lock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?battery low\s*$",
            "batt",
        ),
        r(
            "com.sifely.smartlock",
            "text",
            r#"^"[^"]*" unlocked \("?(?P<dev>[^")]+)"?\)"#,
            "unlock",
        ),
    ]
}

#[derive(Clone)]
pub(crate) struct CompiledRule {
    pub(crate) package: String,
    pub(crate) field_title: bool,
    pub(crate) re: Regex,
    pub(crate) class: String,
}

pub(crate) fn compile_rule(r: &NotificationRule) -> Result<CompiledRule, String> {
    Ok(CompiledRule {
        package: r.package.clone(),
        field_title: r.field == "title",
        re: Regex::new(&r.pattern)
            .map_err(|e| format!("bad notification rule {:?}: {e}", r.pattern))?,
        class: r.class.clone(),
    })
}

/// The user's rules, then the defaults. The defaults are compiled once per process: compiled on
/// every load, their automata held the `logs` fuzz target to 9 small logs a second.
pub(crate) fn compile_rules(user: &[NotificationRule]) -> Result<Vec<CompiledRule>, String> {
    static DEFAULTS: std::sync::OnceLock<Vec<CompiledRule>> = std::sync::OnceLock::new();
    let defaults = DEFAULTS.get_or_init(|| {
        default_rules()
            .iter()
            .map(|r| compile_rule(r).expect("the default notification rules compile"))
            .collect()
    });
    let mut rules = user
        .iter()
        .map(compile_rule)
        .collect::<Result<Vec<_>, _>>()?;
    rules.extend(defaults.iter().cloned());
    Ok(rules)
}
