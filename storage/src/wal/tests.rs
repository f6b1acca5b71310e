use super::*;

fn collect(dir: &Path) -> (Wal, Vec<(u64, Vec<u8>)>, ReplayReport) {
    let mut got = Vec::new();
    let (wal, report) = Wal::open(dir, 1 << 20, |lsn, p| {
        got.push((lsn.0, p.to_vec()));
        Ok(())
    })
    .unwrap();
    (wal, got, report)
}

#[test]
fn replays_in_order_and_truncates_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, got, _) = collect(dir.path());
    assert!(got.is_empty());
    let lsns = wal
        .append_batch([b"one".as_slice(), b"two".as_slice()])
        .unwrap();
    assert_eq!(lsns, vec![Lsn(1), Lsn(2)]);
    let path = wal.active_path.clone();
    drop(wal);
    // A torn third record: header present, payload cut short.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0, 0, 0, 9])
        .unwrap();
    drop(f);
    let (mut wal, got, report) = collect(dir.path());
    assert_eq!(got, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
    assert_eq!(report.torn_tail_bytes, 17);
    assert_eq!(report.corrupt_records, 0);
    assert_eq!(wal.next_lsn(), Lsn(3));
    wal.append_batch([b"three".as_slice()]).unwrap();
    drop(wal);
    let (_, got, report) = collect(dir.path());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], (3, b"three".to_vec()));
    assert_eq!(report, ReplayReport::default());
}

#[test]
fn release_deletes_only_durable_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), 8, |_, _| Ok(())).unwrap();
    wal.append_batch([b"aaaaaaaa".as_slice()]).unwrap(); // rotates: segment 1 closed
    wal.append_batch([b"bbbbbbbb".as_slice()]).unwrap(); // segment 2 closed
    assert_eq!(wal.segment_count(), 3);
    assert_eq!(wal.total_bytes(), 2 * (16 + 8));
    assert_eq!(wal.release_through(Lsn(1)).unwrap(), 1);
    assert_eq!(wal.total_bytes(), 16 + 8);
    drop(wal);
    let mut got = Vec::new();
    Wal::open(dir.path(), 8, |lsn, _| {
        got.push(lsn.0);
        Ok(())
    })
    .unwrap();
    assert_eq!(got, vec![2]);
}

/// Writes `n` records into one segment and returns its path and bytes.
fn one_segment(dir: &Path, n: u64) -> (PathBuf, Vec<u8>) {
    let (mut wal, _) = Wal::open(dir, 1 << 30, |_, _| Ok(())).unwrap();
    for i in 0..n {
        let p = format!(
            "write number {i} with some payload {}",
            "x".repeat(i as usize % 50)
        );
        wal.append_batch([p.as_bytes()]).unwrap();
    }
    let path = wal.active_path.clone();
    drop(wal);
    let bytes = fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn a_flipped_byte_anywhere_but_the_last_record_loses_exactly_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, clean) = one_segment(dir.path(), 200);
    // Record boundaries, to know which record a byte belongs to.
    let mut starts = Vec::new();
    let mut at = 0;
    while at < clean.len() {
        starts.push(at);
        let len = u32::from_le_bytes(clean[at..at + 4].try_into().unwrap()) as usize;
        at += HEADER_LEN + len;
    }
    assert_eq!(starts.len(), 200);
    let last_start = *starts.last().unwrap();
    let mut checked = 0;
    for offset in (0..clean.len()).step_by(7) {
        // Fresh copy of the segment, one byte flipped.
        for e in fs::read_dir(dir.path()).unwrap() {
            fs::remove_file(e.unwrap().path()).unwrap();
        }
        let mut damaged = clean.clone();
        damaged[offset] ^= 0x5a;
        fs::write(&path, &damaged).unwrap();
        let (_, got, report) = collect(dir.path());
        let hit = starts.iter().rposition(|s| *s <= offset).unwrap() as u64 + 1;
        let lsns: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
        let expected: Vec<u64> = (1..=200).filter(|l| *l != hit).collect();
        assert_eq!(lsns, expected, "byte {offset} (record {hit})");
        if offset >= last_start {
            assert_eq!(report.torn_tail_bytes, (clean.len() - last_start) as u64);
            assert_eq!(report.corrupt_records, 0);
        } else {
            assert_eq!(report.corrupt_records, 1, "byte {offset}");
            assert_eq!(report.corrupt_regions, 1, "byte {offset}");
            assert_eq!(report.torn_tail_bytes, 0, "byte {offset}");
        }
        checked += 1;
    }
    assert!(checked > 1000, "{checked} offsets");
}

#[test]
fn a_corrupt_end_of_an_older_segment_keeps_the_newer_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), 30, |_, _| Ok(())).unwrap();
    for p in [
        b"first record.......".as_slice(),
        b"second record......",
        b"third",
    ] {
        wal.append_batch([p]).unwrap(); // each fills a segment
    }
    drop(wal);
    let mut names: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    // Damage the payload of the only record of segment 1.
    let mut b = fs::read(&names[0]).unwrap();
    let n = b.len();
    b[n - 3] ^= 1;
    fs::write(&names[0], b).unwrap();
    let (_, got, report) = collect(dir.path());
    let lsns: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, vec![2, 3]);
    assert_eq!(report.corrupt_records, 1);
    assert_eq!(report.torn_tail_bytes, 0);
}

#[test]
fn an_append_larger_than_replay_reads_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), 1 << 20, |_, _| Ok(())).unwrap();
    wal.max_record_bytes = 10;
    let e = wal
        .append_batch([b"small".as_slice(), b"much too large".as_slice()])
        .unwrap_err();
    assert!(
        e.to_string().contains("over the WAL record limit of 10"),
        "{e}"
    );
    assert_eq!(wal.next_lsn(), Lsn(1));
    drop(wal);
    let (_, got, _) = collect(dir.path());
    assert!(got.is_empty());
}

#[test]
fn a_failed_rotation_does_not_fail_a_durable_append() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), 8, |_, _| Ok(())).unwrap();
    // The next segment's name is taken by a directory: rotation fails.
    fs::create_dir(dir.path().join(segment_name(Lsn(2)))).unwrap();
    let lsns = wal.append_batch([b"aaaaaaaa".as_slice()]).unwrap();
    assert_eq!(lsns, vec![Lsn(1)]);
    assert!(wal.rotate_due);
    fs::remove_dir(dir.path().join(segment_name(Lsn(2)))).unwrap();
    wal.append_batch([b"bbbbbbbb".as_slice()]).unwrap();
    drop(wal);
    let (_, got, _) = collect(dir.path());
    let lsns: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, vec![1, 2]);
}
