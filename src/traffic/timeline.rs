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

/// One device's non-empty bins at one level, in time order. Sparse, so a capture whose clock
/// jumped (a capture box that starts in 1970 until NTP sets its clock) costs what its packets
/// cost, not a bin for every 10 s of the decades in between.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bins {
    /// Bin index counted from [`Pyramid::start_ns`] (584 years of 10-s bins fit a `u32`).
    pub k: Vec<u32>,
    pub bytes: Vec<f32>,
    pub packets: Vec<u32>,
}

impl Bins {
    pub fn is_empty(&self) -> bool {
        self.k.is_empty()
    }
    /// Positions of the bins with index in `[a, b)`.
    fn within(&self, a: u32, b: u32) -> std::ops::Range<usize> {
        self.k.partition_point(|&k| k < a)..self.k.partition_point(|&k| k < b)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Level {
    pub width_ns: i64,
    /// Per device (empty for devices without traffic).
    pub bins: Vec<Bins>,
}

#[derive(Debug, Default, Clone)]
pub struct Pyramid {
    pub start_ns: i64,
    pub end_ns: i64,
    pub levels: Vec<Level>,
}

/// Bin `k` of width `w` counted from `start` holding time `x` (no overflow for any two
/// times).
fn bin_of(x: i64, start: i64, w: i64) -> u32 {
    (x.abs_diff(start) / w as u64).min(u32::MAX as u64) as u32
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
        let (ts, len) = (&t.packets.ts, &t.packets.orig_len);
        // Per device: its non-empty finest bins as (index, bytes, packets).
        let finest: Vec<Vec<(u32, f64, u32)>> = t
            .by_device
            .par_iter()
            .map(|idx| {
                let mut out: Vec<(u32, f64, u32)> = Vec::new();
                // A device's packets are in time order: divide only when a packet leaves the
                // current bin, whose sums are kept in registers until then.
                let (mut k, mut b, mut p, mut bin_end) = (0u32, 0f64, 0u32, i64::MIN);
                for &i in idx {
                    let x = ts[i as usize];
                    if x >= bin_end {
                        let next = bin_of(x, start, fine);
                        // (The same bin again only where its end saturated at i64::MAX.)
                        if next != k || p == 0 {
                            if p > 0 {
                                out.push((k, b, p));
                            }
                            (k, b, p) = (next, 0.0, 0);
                            bin_end = start.saturating_add((k as i64 + 1).saturating_mul(fine));
                        }
                    }
                    b += len[i as usize] as f64;
                    p += 1;
                }
                if p > 0 {
                    out.push((k, b, p));
                }
                out
            })
            .collect();
        Pyramid::from_finest(start, end, fine, &finest)
    }

    /// A pyramid from per-device bins of `width` (bin start, bytes, packets), in time order,
    /// such as the ones `extract` writes: its levels are the stored widths not finer than
    /// `width` (finer views bin the packets loaded).
    pub fn from_bins(width: i64, per_device: &[Vec<(i64, f64, u32)>]) -> Pyramid {
        let starts = per_device.iter().filter_map(|v| v.first().map(|b| b.0));
        let ends = per_device.iter().filter_map(|v| v.last().map(|b| b.0));
        let (Some(start), Some(last)) = (starts.min(), ends.max()) else {
            return Pyramid::default();
        };
        let finest: Vec<Vec<(u32, f64, u32)>> = per_device
            .iter()
            .map(|v| {
                v.iter()
                    .map(|&(t, b, p)| (bin_of(t, start, width), b, p))
                    .collect()
            })
            .collect();
        Pyramid::from_finest(start, last.saturating_add(width), width, &finest)
    }

    /// The levels of [`LEVELS_NS`] not finer than `fine`, each summed from the finest bins.
    fn from_finest(start: i64, end: i64, fine: i64, finest: &[Vec<(u32, f64, u32)>]) -> Pyramid {
        use rayon::prelude::*;
        let levels = LEVELS_NS
            .iter()
            .filter(|&&w| w >= fine)
            .map(|&w| {
                debug_assert_eq!(w % fine, 0);
                let ratio = (w / fine) as u32;
                let bins = finest
                    .par_iter()
                    .map(|fb| {
                        let mut sums: Vec<(u32, f64, u32)> = Vec::new();
                        for &(k, b, p) in fb {
                            match sums.last_mut() {
                                Some(l) if l.0 == k / ratio => {
                                    l.1 += b;
                                    l.2 += p;
                                }
                                _ => sums.push((k / ratio, b, p)),
                            }
                        }
                        Bins {
                            k: sums.iter().map(|s| s.0).collect(),
                            bytes: sums.iter().map(|s| s.1 as f32).collect(),
                            packets: sums.iter().map(|s| s.2).collect(),
                        }
                    })
                    .collect();
                Level { width_ns: w, bins }
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
        let span = hi.saturating_sub(lo).max(1);
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
        let Some(bins) = l.bins.get(dev as usize) else {
            return vec![];
        };
        let w = l.width_ns;
        // One bin either side of the view, as lines and bars reach into it.
        let a = if lo <= self.start_ns {
            0
        } else {
            bin_of(lo, self.start_ns, w).saturating_sub(1)
        };
        let b = if hi < self.start_ns {
            0
        } else {
            bin_of(hi, self.start_ns, w).saturating_add(2)
        };
        bins.within(a, b)
            .filter_map(|j| {
                let v = match m {
                    Metric::Bytes => bins.bytes[j] as f64,
                    Metric::Packets => bins.packets[j] as f64,
                };
                let at = self
                    .start_ns
                    .saturating_add((bins.k[j] as i64).saturating_mul(w));
                (v > 0.0).then_some((at, w, v))
            })
            .collect()
    }

    /// Total traffic over all devices for the overview strip: one value per bin of the
    /// coarsest level, or per `max` equal parts of the capture when there are more such bins
    /// (a capture spanning years would otherwise draw a bar per hour every frame).
    pub fn overview(&self, m: Metric, max: usize) -> Vec<f64> {
        let Some(l) = self.levels.last() else {
            return vec![];
        };
        let n = bin_of(self.end_ns, self.start_ns, l.width_ns) as u64 + 1;
        let parts = n.min(max.max(1) as u64);
        let mut out = vec![0f64; parts as usize];
        let last = out.len() - 1;
        for bins in &l.bins {
            for j in 0..bins.k.len() {
                let part = (bins.k[j] as u64 * parts / n) as usize;
                out[part.min(last)] += match m {
                    Metric::Bytes => bins.bytes[j] as f64,
                    Metric::Packets => bins.packets[j] as f64,
                };
            }
        }
        out
    }
}

/// The view after a click or drag at `at` on the overview strip of the capture
/// `[start, end]`: the view `(a, b)` keeps its width and centres on `at`, but stays over the
/// capture (a click near either end must not show days of nothing beyond it). A view wider
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
    use super::{recentre_view, Metric, Pyramid, LEVELS_NS};
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
                let bs = &l.bins[d];
                if idx.is_empty() {
                    assert!(bs.is_empty());
                    continue;
                }
                // The stored bins are exactly the non-empty direct bins, in order.
                let want: Vec<(u32, f32, u32)> = (0..bins)
                    .filter(|&k| p[k] > 0)
                    .map(|k| (k as u32, b[k] as f32, p[k]))
                    .collect();
                assert_eq!(bs.k.len(), want.len(), "width {} device {d}", l.width_ns);
                // Compared bin by bin, so a failure names one bin, not 17 K of them.
                for (j, w) in want.iter().enumerate() {
                    let at = format!("width {} device {d} bin {}", l.width_ns, w.0);
                    assert_eq!((bs.k[j], bs.bytes[j], bs.packets[j]), *w, "{at}");
                }
            }
        }
        // The overview strip: one value per coarsest bin, summed over devices.
        let coarse = py.levels.last().unwrap();
        let n = ((end - start) / coarse.width_ns + 1) as usize;
        let mut want = vec![0f64; n];
        for bs in &coarse.bins {
            for j in 0..bs.k.len() {
                want[bs.k[j] as usize] += bs.packets[j] as f64;
            }
        }
        assert_eq!(py.overview(Metric::Packets, 10_000), want);
        // Fewer parts than bins: each part sums whole bins, and nothing is lost.
        let parts = py.overview(Metric::Packets, 7);
        assert_eq!(parts.len(), 7);
        assert_eq!(parts.iter().sum::<f64>(), want.iter().sum::<f64>());
    }

    /// A capture box without a clock writes 1970 until NTP sets it: the bins cost what the
    /// packets cost, not a bin per 10 s of the 51 years between, and every view still finds
    /// its packets.
    #[test]
    fn a_clock_jump_of_decades_stays_small() {
        let mut t = Traffic::default();
        let late = 1_615_180_000_000_000_000i64;
        for x in [5_000_000_000i64, 6_000_000_000, late, late + 30_000_000_000] {
            t.packets.ts.push(x);
            t.packets.orig_len.push(100);
        }
        t.by_device = vec![vec![0, 1, 2, 3], vec![2]];
        let py = Pyramid::build(&t);
        for l in &py.levels {
            assert!(l.bins.iter().all(|b| b.k.len() <= 3), "{l:?}");
        }
        let whole = py.series(&t, 0, py.start_ns, py.end_ns, 800, Metric::Packets);
        assert_eq!(whole.iter().map(|b| b.2).sum::<f64>(), 4.0);
        let week = py.series(
            &t,
            0,
            late - 3_600_000_000_000,
            late + 3_600_000_000_000,
            800,
            Metric::Bytes,
        );
        assert_eq!(week.iter().map(|b| b.2).sum::<f64>(), 200.0);
        assert!(week.iter().all(|b| b.0 >= late - 4_000_000_000_000));
        let dev1 = py.series(
            &t,
            1,
            late - 3_600_000_000_000,
            late + 3_600_000_000_000,
            800,
            Metric::Packets,
        );
        assert_eq!(dev1.iter().map(|b| b.2).sum::<f64>(), 1.0);
        let strip = py.overview(Metric::Packets, 1000);
        assert_eq!(strip.len(), 1000);
        // Summed over devices: the second holds one of the late packets too.
        assert_eq!(
            (strip[0], strip[999], strip.iter().sum::<f64>()),
            (2.0, 3.0, 5.0)
        );
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
