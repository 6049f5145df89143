//! Which files a project's capture arguments name (paths and globs), and reading one file's
//! records as they are stored (for pcap slices).

use super::*;

/// Calls `visit(link type, ts ns, original length, captured bytes)` for every record of a
/// capture (used to cut pcap slices with the original bytes). Stops at the first fatal problem.
pub fn for_each_record(
    path: &Path,
    mut visit: impl FnMut(Linktype, i64, u32, &[u8]),
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut rd = Chunked::read(file).map_err(|e| format!("cannot read: {e}"))?;
    rd.fill(CHUNK).map_err(|e| format!("cannot read: {e}"))?;
    let mut meta = Meta {
        path: path.to_path_buf(),
        issues: Vec::new(),
        link_types: Vec::new(),
    };
    let mut visit =
        |lt: Linktype, ts: i64, orig: u32, data: &[u8], _at: u64| visit(lt, ts, orig, data);
    let res = match sniff_format(rd.avail()) {
        Some("pcap") => read_pcap(
            &mut rd,
            &mut meta,
            None,
            (Part::Whole, &Cell::new(None)),
            &mut visit,
        ),
        Some(_) => read_pcapng(&mut rd, &mut meta, None, &mut visit),
        None => Err((0, "not a pcap or pcapng file".into())),
    };
    res.map_err(|(i, r)| format!("packet {i} at byte offset {}: {r}", rd.offset))
}

/// Expands capture arguments (paths or globs, relative to `base`) into file paths: each
/// pattern's matches sorted, patterns in the order given. A file named twice (a repeated or
/// overlapping pattern, or another spelling of its path) is kept once, where it first appears:
/// read twice, every packet would be counted twice. Directories a glob matches are not
/// captures and are passed over; a folder a glob cannot list is an error, not a silent gap.
/// A pattern naming an existing file is that file, whatever characters its name holds; a
/// folder is an error that suggests a glob.
/// Why a capture named literally cannot be read (`None`: a regular file or a FIFO, which is
/// read as a stream, as `tcpdump -w - | …` writes one).
pub fn unreadable_capture(p: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() || m.file_type().is_fifo() => None,
        Ok(m) if m.is_dir() => Some("is a folder".into()),
        Ok(_) => Some("is not a regular file or a FIFO".into()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            Some("is a symbolic link that loops (it leads back to itself)".into())
        }
        Err(_) => match std::fs::read_link(p) {
            Ok(to) => Some(format!(
                "is a symbolic link to {}, which does not exist",
                to.display()
            )),
            Err(_) => Some("capture file not found".into()),
        },
    }
}

pub fn expand_captures(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for pat in patterns {
        let full = if Path::new(pat).is_absolute() {
            PathBuf::from(pat)
        } else {
            base.join(pat)
        };
        // A file that exists under the name as written is taken literally: `lab [2021]/a.pcap`
        // read as a glob would look for `lab 2/a.pcap` and the like.
        if pat.contains(['*', '?', '[']) && unreadable_capture(&full).is_some() {
            // The base folder is taken literally too; only the pattern is a glob.
            let s = if Path::new(pat).is_absolute() {
                pat.clone()
            } else {
                let b = glob::Pattern::escape(&base.to_string_lossy());
                Path::new(&b).join(pat).to_string_lossy().into_owned()
            };
            let g = glob::glob(&s).map_err(|e| format!("{pat}: bad glob: {e}"))?;
            let mut hits = Vec::new();
            for hit in g {
                let p = hit.map_err(|e| {
                    format!("{pat}: cannot list {}: {}", e.path().display(), e.error())
                })?;
                if p.is_file() {
                    hits.push(p);
                }
            }
            if hits.is_empty() {
                return Err(format!("{pat}: no file matches"));
            }
            hits.sort();
            out.extend(hits);
        } else {
            if full.is_dir() {
                let glob = Path::new(pat).join("*.pcap*");
                return Err(format!(
                    "{}: is a folder; name its captures with a glob, such as '{}'",
                    full.display(),
                    glob.display()
                ));
            }
            if let Some(why) = unreadable_capture(&full) {
                return Err(format!("{}: {why}", full.display()));
            }
            out.push(full);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}
