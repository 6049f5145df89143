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
    /// One pass over each device's packets fills the finest level; every coarser level's
    /// width is a multiple of the finest, so its bins are sums of whole fine bins (the same
    /// bins a pass of its own would give). Four passes, one per level, took 3 s on the lab
    /// week; bytes are summed in `f64` and stored as `f32`.
    pub fn build(t: &Traffic) -> Pyramid {
        use rayon::prelude::*;
        let (Some(start), Some(end)) = (t.first_ns(), t.last_ns()) else {
            return Pyramid::default();
        };
        let fine = LEVELS_NS[0];
        let n0 = ((end - start) / fine + 1) as usize;
        let (ts, len) = (&t.packets.ts, &t.packets.orig_len);
        let finest: Vec<(Vec<f64>, Vec<u32>)> = t
            .by_device
            .par_iter()
            .map(|idx| {
                if idx.is_empty() {
                    return (vec![], vec![]);
                }
                let mut b = vec![0f64; n0];
                let mut p = vec![0u32; n0];
                // A device's packets are in time order: divide only when a packet leaves the
                // current bin.
                let (mut k, mut bin_end) = (0usize, i64::MIN);
                for &i in idx {
                    let x = ts[i as usize];
                    if x >= bin_end {
                        k = ((x - start) / fine) as usize;
                        bin_end = start + (k as i64 + 1) * fine;
                    }
                    b[k] += len[i as usize] as f64;
                    p[k] += 1;
                }
                (b, p)
            })
            .collect();
        let levels = LEVELS_NS
            .iter()
            .map(|&w| {
                debug_assert_eq!(w % fine, 0);
                let ratio = (w / fine) as usize;
                let n = ((end - start) / w + 1) as usize;
                let (bytes, packets) = finest
                    .par_iter()
                    .map(|(fb, fp)| {
                        if fb.is_empty() {
                            return (vec![], vec![]);
                        }
                        let mut b = vec![0f64; n];
                        let mut p = vec![0u32; n];
                        for (k, (&x, &c)) in fb.iter().zip(fp).enumerate() {
                            b[k / ratio] += x;
                            p[k / ratio] += c;
                        }
                        (b.into_iter().map(|x| x as f32).collect(), p)
                    })
                    .unzip();
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
    use super::{recentre_view, Pyramid, LEVELS_NS};
    use crate::traffic::Traffic;
    use rand::{Rng, SeedableRng};

    /// Every level equals binning each packet at that level's width directly, for devices
    /// with bursts, long silences and packets on bin edges.
    #[test]
    fn pyramid_levels_match_direct_binning() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut t = Traffic::default();
        let start = 1_615_180_000_000_000_000i64;
        let mut x = start;
        for _ in 0..20_000 {
            t.packets.ts.push(x);
            t.packets.orig_len.push(rng.gen_range(54..1515));
            x += match rng.gen_range(0..10) {
                0 => rng.gen_range(0..7_200_000_000_000), // up to 2 h of silence
                1 => 10_000_000_000 - (x - start) % 10_000_000_000, // onto a bin edge
                _ => rng.gen_range(0..2_000_000_000),
            };
        }
        // Device 0 has everything, 1 a random part, 2 nothing, 3 the last packet only.
        let n = t.packets.ts.len() as u32;
        t.by_device = vec![
            (0..n).collect(),
            (0..n).filter(|_| rng.gen_bool(0.3)).collect(),
            vec![],
            vec![n - 1],
        ];
        let py = Pyramid::build(&t);
        assert_eq!(py.levels.len(), LEVELS_NS.len());
        let (start, end) = (t.packets.ts[0], *t.packets.ts.last().unwrap());
        assert_eq!((py.start_ns, py.end_ns), (start, end));
        for l in &py.levels {
            let bins = ((end - start) / l.width_ns + 1) as usize;
            for (d, idx) in t.by_device.iter().enumerate() {
                let (mut b, mut p) = (vec![0f64; bins], vec![0u32; bins]);
                for &i in idx {
                    let k = ((t.packets.ts[i as usize] - start) / l.width_ns) as usize;
                    b[k] += t.packets.orig_len[i as usize] as f64;
                    p[k] += 1;
                }
                if idx.is_empty() {
                    assert!(l.packets[d].is_empty() && l.bytes[d].is_empty());
                    continue;
                }
                let want: Vec<f32> = b.iter().map(|&v| v as f32).collect();
                // Compared bin by bin, so a failure names one bin, not 17 K of them.
                assert_eq!(l.packets[d].len(), bins);
                for k in 0..bins {
                    let at = format!("width {} device {d} bin {k}", l.width_ns);
                    assert_eq!(l.packets[d][k], p[k], "{at}");
                    assert_eq!(l.bytes[d][k], want[k], "{at}");
                }
            }
        }
    }

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
