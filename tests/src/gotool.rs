//! The Go side of the tests: builds `tests/go/profgen` with the system Go
//! toolchain and reads profiles with `go tool pprof -raw`.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `go` on the PATH, or an error saying how to get it.
pub fn go() -> anyhow::Result<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("go");
        if p.exists() {
            return Ok(p);
        }
    }
    for p in ["/usr/bin/go", "/usr/lib/go/bin/go"] {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!("the Go toolchain is missing: `apt-get install golang-go` (scripts/test.sh installs it)")
}

/// Builds the Go program in `tests/go/<name>` into `out_dir`.
pub fn build(name: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    build_folder(&format!("tests/go/{name}"), out_dir)
}

/// Builds the Go program in the repository folder `rel` (e.g.
/// `benches/go/busy`) into `out_dir`.
pub fn build_folder(rel: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let src = crate::repo_root().join(rel);
    let name = rel.replace('/', "_");
    let bin = out_dir.join(&name);
    let out = Command::new(go()?)
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .context("running go build")?;
    if !out.status.success() {
        bail!(
            "go build {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(bin)
}

/// Go sample types of `profgen`'s profiles, as `(file, sample index,
/// FlareGo profile type)`.
pub const PROFGEN_TYPES: [(&str, &str, &str); 11] = [
    ("cpu", "samples", "cpu_samples"),
    ("cpu", "cpu", "cpu"),
    ("heap", "alloc_objects", "alloc_objects"),
    ("heap", "alloc_space", "alloc_space"),
    ("heap", "inuse_objects", "heap_inuse_objects"),
    ("heap", "inuse_space", "heap_inuse_space"),
    ("goroutine", "goroutine", "goroutine"),
    ("block", "contentions", "block_contentions"),
    ("block", "delay", "block_delay"),
    ("mutex", "contentions", "mutex_contentions"),
    ("mutex", "delay", "mutex_delay"),
];

/// Builds and runs `profgen` under `dir`: returns the folder holding its
/// `cpu`, `heap`, `goroutine`, `block` and `mutex` `.pb.gz` files.
pub fn profgen_profiles(dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = build("profgen", dir)?;
    let out = dir.join("profiles");
    std::fs::create_dir_all(&out)?;
    let status = Command::new(&bin)
        .arg("-out")
        .arg(&out)
        .args(["-cpu", "700ms"])
        .status()
        .context("running profgen")?;
    if !status.success() {
        bail!("profgen failed: {status}");
    }
    Ok(out)
}

/// What `go tool pprof -raw` says of one profile.
#[derive(Debug, Default, Clone)]
pub struct RawProfile {
    /// `type/unit` of each sample type, in order.
    pub sample_types: Vec<String>,
    /// Total per sample type.
    pub totals: Vec<i64>,
    /// Per sample type: total per leaf function (the first line of the
    /// first location).
    pub leaf_totals: Vec<BTreeMap<String, i64>>,
    /// Per sample type: total per stack of function names, root first
    /// (inlined frames expanded), zero totals left out.
    pub stacks: Vec<BTreeMap<Vec<String>, i64>>,
}

/// Runs `go tool pprof -raw FILE` and parses it.
pub fn pprof_raw(file: &Path) -> anyhow::Result<RawProfile> {
    let out = Command::new(go()?)
        .args(["tool", "pprof", "-raw"])
        .arg(file)
        .output()
        .context("running go tool pprof -raw")?;
    if !out.status.success() {
        bail!(
            "go tool pprof -raw failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_raw(&String::from_utf8_lossy(&out.stdout))
}

fn parse_raw(text: &str) -> anyhow::Result<RawProfile> {
    #[derive(PartialEq)]
    enum Section {
        Head,
        Samples,
        Locations,
        Other,
    }
    let mut sec = Section::Head;
    let mut raw = RawProfile::default();
    let mut samples: Vec<(Vec<i64>, Vec<u64>)> = Vec::new();
    let mut lines_of: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut current: Option<u64> = None;
    let mut header_pending = false;
    for line in text.lines() {
        match line.trim_end() {
            "Samples:" => {
                sec = Section::Samples;
                header_pending = true;
                continue;
            }
            "Locations" => {
                sec = Section::Locations;
                continue;
            }
            "Mappings" => {
                sec = Section::Other;
                continue;
            }
            _ => {}
        }
        let t = line.trim();
        match sec {
            Section::Samples if header_pending => {
                raw.sample_types = t.split_whitespace().map(str::to_string).collect();
                raw.totals = vec![0; raw.sample_types.len()];
                raw.leaf_totals = vec![BTreeMap::new(); raw.sample_types.len()];
                header_pending = false;
            }
            Section::Samples => {
                let Some((vals, locs)) = t.split_once(':') else {
                    continue;
                };
                if !vals
                    .trim()
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
                    || vals.trim().is_empty()
                {
                    continue; // a label line
                }
                let values: Vec<i64> = vals
                    .split_whitespace()
                    .map(|v| v.parse().unwrap_or(0))
                    .collect();
                let locs: Vec<u64> = locs
                    .split_whitespace()
                    .filter_map(|l| l.parse().ok())
                    .collect();
                samples.push((values, locs));
            }
            Section::Locations => {
                // `ID: 0xADDR M=N function file:line s=N`; inlined callers
                // follow on indented lines without an ID.
                let mut toks = t.split_whitespace();
                let first = toks.next();
                if let Some(id) = first
                    .and_then(|i| i.strip_suffix(':'))
                    .and_then(|i| i.parse::<u64>().ok())
                {
                    let rest: Vec<&str> = toks.collect();
                    let func = rest.iter().skip_while(|x| !x.starts_with("M=")).nth(1);
                    let lines = lines_of.entry(id).or_default();
                    if let Some(f) = func {
                        lines.push(f.to_string());
                    }
                    current = Some(id);
                } else if let (Some(f), Some(id)) = (first, current) {
                    lines_of.entry(id).or_default().push(f.to_string());
                }
            }
            _ => {}
        }
    }
    raw.stacks = vec![BTreeMap::new(); raw.sample_types.len()];
    for (values, locs) in samples {
        let leaf = locs
            .first()
            .and_then(|l| lines_of.get(l))
            .and_then(|l| l.first())
            .cloned()
            .unwrap_or_default();
        // Leaf first in the output (and within a location, the inlined
        // frame first): reversed, root first.
        let mut stack: Vec<String> = locs
            .iter()
            .flat_map(|l| lines_of.get(l).cloned().unwrap_or_default())
            .collect();
        stack.reverse();
        for (i, v) in values.iter().enumerate() {
            if *v != 0
                && let Some(m) = raw.stacks.get_mut(i)
            {
                *m.entry(stack.clone()).or_default() += v;
            }
            if let Some(t) = raw.totals.get_mut(i) {
                *t += v;
            }
            if let Some(m) = raw.leaf_totals.get_mut(i) {
                *m.entry(leaf.clone()).or_default() += v;
            }
        }
    }
    Ok(raw)
}

/// What `go tool pprof -top` prints: the total and, per function,
/// `(flat, cum)`.
pub type PprofTop = (i64, BTreeMap<String, (i64, i64)>);

/// `go tool pprof -top` of one sample type, in the profile's own unit.
pub fn pprof_top(file: &Path, sample_index: &str) -> anyhow::Result<PprofTop> {
    // Print values in the base unit of the sample type, whole numbers.
    let unit = if sample_index.contains("space") || sample_index.ends_with("bytes") {
        "B"
    } else if ["cpu", "delay"].contains(&sample_index) {
        "ns"
    } else {
        "count"
    };
    let mut cmd = Command::new(go()?);
    cmd.args([
        "tool",
        "pprof",
        "-top",
        "-nodecount=1000000",
        "-nodefraction=0",
        "-edgefraction=0",
    ])
    .arg(format!("-sample_index={sample_index}"));
    if unit != "count" {
        cmd.arg(format!("-unit={unit}"));
    }
    let out = cmd
        .arg(file)
        .output()
        .context("running go tool pprof -top")?;
    if !out.status.success() {
        bail!(
            "go tool pprof -top failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let num = |s: &str| -> anyhow::Result<i64> {
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        digits
            .parse()
            .with_context(|| format!("{s:?} in go tool pprof -top output"))
    };
    let mut total = None;
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        if let Some(rest) = line.split_once(" of ").map(|(_, r)| r)
            && line.starts_with("Showing nodes")
        {
            total = Some(num(rest.trim_end_matches(" total").trim())?);
            continue;
        }
        if line.trim_start().starts_with("flat") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let name = f[5..].join(" ");
        let name = name.trim_end_matches(" (inline)").to_string();
        rows.insert(name, (num(f[0])?, num(f[3])?));
    }
    Ok((
        total.context("no total in go tool pprof -top output")?,
        rows,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_raw_output() {
        let text = "PeriodType: contentions count\nSamples:\ncontentions/count delay/nanoseconds\n        797 3520035294: 1 \n          1 1193106509: 2 3 \n                bytes:[64]\nLocations\n     1: 0x4bcb6d M=1 sync.(*Mutex).Lock /x/mutex.go:90 s=0\n             main.contend /m.go:51 s=0\n     2: 0x4708f1 M=1 sync.(*WaitGroup).Wait /w.go:139 s=0\n     3: 0x1 M=1 main.main /m.go:1 s=0\nMappings\n1: 0x400000/0x4be000/0x0 /tmp/pg/profgen  [FN]\n";
        let r = super::parse_raw(text).unwrap();
        assert_eq!(
            r.sample_types,
            vec!["contentions/count", "delay/nanoseconds"]
        );
        assert_eq!(r.totals, vec![798, 4713141803]);
        assert_eq!(r.leaf_totals[0]["sync.(*Mutex).Lock"], 797);
        assert_eq!(r.leaf_totals[1]["sync.(*WaitGroup).Wait"], 1193106509);
        let s = |f: &[&str]| f.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            r.stacks[0][&s(&["main.contend", "sync.(*Mutex).Lock"])],
            797
        );
        assert_eq!(r.stacks[0][&s(&["main.main", "sync.(*WaitGroup).Wait"])], 1);
    }
}
