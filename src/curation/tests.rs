use super::*;

const MIN: i64 = 60_000_000_000;

#[test]
fn suggestion_orders_are_stable_and_put_undated_findings_last() {
    let sg = |key: &str, kind, confidence, at_ns| Suggestion {
        key: key.into(),
        kind,
        event: None,
        device: None,
        reason: String::new(),
        evidence: String::new(),
        confidence,
        at_ns,
        edit: None,
    };
    use SuggestionKind::*;
    let all = [
        sg("a", Duplicate, 0.9, Some(30)),
        sg("b", Duplicate, 0.99, Some(40)),
        sg("c", Skew, 0.9, Some(10)),
        sg("d", SourceSilent, 0.3, None),
        sg("e", SourceSilent, 0.99, Some(20)),
    ];
    let keys = |o: SuggestionOrder| {
        // From the kind order (as `suggest` returns it), sorted again by `o`.
        let mut v: Vec<&Suggestion> = all.iter().collect();
        o.sort(&mut v);
        v.iter().map(|s| s.key.as_str()).collect::<String>()
    };
    assert_eq!(keys(SuggestionOrder::Kind), "abcde");
    // Ties (b and e; a and c) keep their kind-then-time order.
    assert_eq!(keys(SuggestionOrder::Confidence), "beacd");
    assert_eq!(keys(SuggestionOrder::Time), "ceabd");
}

#[test]
fn silences_measure_the_usual_gap_and_tell_a_schedule_from_an_outage() {
    const H: i64 = 60 * MIN;
    // A schedule logging three applets every 15 minutes from 08:00 to 22:00 for four
    // days, and an outage from 12:00 to 17:00 on the third day.
    let mut ts = Vec::new();
    for day in 0..4 {
        for k in 0..=56 {
            let t = day * 24 * H + 8 * H + k * 15 * MIN;
            if day == 2 && t > 2 * 24 * H + 12 * H && t < 2 * 24 * H + 17 * H {
                continue;
            }
            ts.extend([t, t, t]);
        }
    }
    let (med, long) = silences(ts, 4 * H).unwrap();
    assert_eq!(med, 15 * MIN);
    assert_eq!(human_span(med), "15 min");
    let night = |d: i64| Silence {
        from: d * 24 * H + 22 * H,
        to: (d + 1) * 24 * H + 8 * H,
        daily: true,
    };
    let outage = Silence {
        from: 2 * 24 * H + 12 * H,
        to: 2 * 24 * H + 17 * H,
        daily: false,
    };
    assert_eq!(long, vec![night(0), night(1), outage, night(2)]);
    // Nothing longer than the floor, and too few distinct times.
    let even: Vec<i64> = (0..40).map(|k| k * 15 * MIN).collect();
    assert_eq!(silences(even, 4 * H).unwrap().1, vec![]);
    assert!(silences(vec![0; 50], MIN).is_none());
    assert_eq!(human_span(90_000_000_000), "90 s");
    assert_eq!(human_span(9 * H), "9.0 h");
}
