//! Multi-resolution traffic bins per device, built once at load, so timeline frames draw
//! pre-aggregated bins instead of packets.

use crate::traffic::Traffic;

/// Bin widths of the stored levels.
pub const LEVELS_NS: [i64; 4] = [
    10_000_000_000,
    60_000_000_000,
    600_000_000_000,
    3_600_000_000_000,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Bytes,
    Packets,
}

#[derive(Debug, Default, Clone)]
pub struct Level {
    pub width_ns: i64,
    /// Per device: bytes and packets per bin (empty for devices without traffic).
    pub bytes: Vec<Vec<f32>>,
    pub packets: Vec<Vec<u32>>,
}

#[derive(Debug, Default, Clone)]
pub struct Pyramid {
    pub start_ns: i64,
    pub end_ns: i64,
    pub levels: Vec<Level>,
}

impl Pyramid {
    pub fn build(t: &Traffic) -> Pyramid {
        use rayon::prelude::*;
        let (Some(start), Some(end)) = (t.first_ns(), t.last_ns()) else {
            return Pyramid::default();
        };
        let levels = LEVELS_NS
            .iter()
            .map(|&w| {
                let n = ((end - start) / w + 1) as usize;
                let per: Vec<(Vec<f32>, Vec<u32>)> = t
                    .by_device
                    .par_iter()
                    .map(|idx| {
                        if idx.is_empty() {
                            return (vec![], vec![]);
                        }
                        let mut b = vec![0f32; n];
                        let mut p = vec![0u32; n];
                        for &i in idx {
                            let k = ((t.packets.ts[i as usize] - start) / w) as usize;
                            b[k] += t.packets.orig_len[i as usize] as f32;
                            p[k] += 1;
                        }
                        (b, p)
                    })
                    .collect();
                let (bytes, packets) = per.into_iter().unzip();
                Level {
                    width_ns: w,
                    bytes,
                    packets,
                }
            })
            .collect();
        Pyramid {
            start_ns: start,
            end_ns: end,
            levels,
        }
    }

    /// Traffic of `dev` over `[lo, hi]` as (bin start, bin width, value) with at most about
    /// `max_bins` bins: the coarsest stored level fine enough, or 1-second bins computed from
    /// the device's packets when the view is narrower than the finest level allows.
    pub fn series(
        &self,
        t: &Traffic,
        dev: u16,
        lo: i64,
        hi: i64,
        max_bins: usize,
        m: Metric,
    ) -> Vec<(i64, i64, f64)> {
        let span = (hi - lo).max(1);
        let want = (span / max_bins.max(1) as i64).max(1);
        let level = self.levels.iter().find(|l| l.width_ns >= want);
        let fine = self.levels.first().map(|l| l.width_ns).unwrap_or(1);
        if want < fine {
            // Zoomed in: aggregate the (few) packets in view into bins of `w`.
            let w = want.max(100_000_000);
            let r = t.device_range(dev, lo, hi);
            let idx = &t.by_device[dev as usize][r];
            let mut out: Vec<(i64, i64, f64)> = Vec::new();
            for &i in idx {
                let ts = t.packets.ts[i as usize];
                let b = lo + (ts - lo) / w * w;
                let v = match m {
                    Metric::Bytes => t.packets.orig_len[i as usize] as f64,
                    Metric::Packets => 1.0,
                };
                match out.last_mut() {
                    Some(last) if last.0 == b => last.2 += v,
                    _ => out.push((b, w, v)),
                }
            }
            return out;
        }
        let Some(l) = level.or(self.levels.last()) else {
            return vec![];
        };
        let d = dev as usize;
        if l.bytes.get(d).is_none_or(|v| v.is_empty()) {
            return vec![];
        }
        let n = l.bytes[d].len() as i64;
        let a = ((lo - self.start_ns) / l.width_ns - 1).clamp(0, n);
        let b = ((hi - self.start_ns) / l.width_ns + 2).clamp(0, n);
        (a..b)
            .filter_map(|k| {
                let v = match m {
                    Metric::Bytes => l.bytes[d][k as usize] as f64,
                    Metric::Packets => l.packets[d][k as usize] as f64,
                };
                (v > 0.0).then_some((self.start_ns + k * l.width_ns, l.width_ns, v))
            })
            .collect()
    }

    /// Total traffic over all devices per bin of the coarsest level (the overview strip).
    pub fn overview(&self, m: Metric) -> Vec<f64> {
        let Some(l) = self.levels.last() else {
            return vec![];
        };
        let n = l.bytes.iter().map(|v| v.len()).max().unwrap_or(0);
        let mut out = vec![0f64; n];
        for d in 0..l.bytes.len() {
            for (k, o) in out.iter_mut().enumerate().take(l.bytes[d].len()) {
                *o += match m {
                    Metric::Bytes => l.bytes[d][k] as f64,
                    Metric::Packets => l.packets[d][k] as f64,
                };
            }
        }
        out
    }
}

/// The view after a click or drag at `at` on the overview strip of the capture
/// `[start, end]`: the view `(a, b)` keeps its width and centres on `at`, but stays over the
/// capture (a click near either end used to show days of nothing beyond it). A view wider
/// than the capture is centred on it.
pub fn recentre_view(start: i64, end: i64, (a, b): (i64, i64), at: i64) -> (i64, i64) {
    let w = b - a;
    let span = end - start;
    let lo = if w >= span {
        start - (w - span) / 2
    } else {
        (at - w / 2).clamp(start, end - w)
    };
    (lo, lo + w)
}

#[cfg(test)]
mod tests {
    use super::recentre_view;

    #[test]
    fn the_overview_strip_keeps_the_view_over_the_capture() {
        // A 10-unit view over a 0..100 capture.
        assert_eq!(recentre_view(0, 100, (40, 50), 70), (65, 75));
        assert_eq!(recentre_view(0, 100, (40, 50), 2), (0, 10));
        assert_eq!(recentre_view(0, 100, (40, 50), 99), (90, 100));
        // The whole capture or more: centred, width kept.
        assert_eq!(recentre_view(0, 100, (0, 100), 10), (0, 100));
        assert_eq!(recentre_view(0, 100, (-50, 150), 90), (-50, 150));
    }
}
