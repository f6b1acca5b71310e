//! The agent's scraper against a real Go service with net/http/pprof
//! (`tests/go/goroutines -serve`): known goroutines, memstats, profiles.

use flarego_agent::census::Census;
use flarego_agent::scrape::Scraper;
use flarego_tests::gotool;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The Go service, killed on drop.
struct GoService(std::process::Child);

impl Drop for GoService {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_a_real_go_service() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = gotool::build("goroutines", tmp.path()).unwrap();
    let mut child = Command::new(bin)
        .args(["-serve", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _service = GoService(child);
    let base = line
        .trim()
        .strip_prefix("serving on ")
        .expect("Go service address")
        .to_string();
    let scraper = Scraper::new(&base, Duration::from_secs(10), 64 << 20).unwrap();

    let census = Census::of(&scraper.goroutines().await.unwrap());
    let in_func = |state: &str, func: &str| {
        census
            .stacks
            .iter()
            .filter(|((s, f), _)| s == state && f.iter().any(|x| x == func))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert_eq!(in_func("chan receive", "main.waitOnChan"), 25);
    assert_eq!(in_func("semacquire", "main.lockHeld"), 7);
    assert_eq!(in_func("sleep", "main.nap"), 3);
    assert_eq!(in_func("IO wait", "main.accept"), 1);

    let m = scraper.memstats().await.unwrap();
    assert!(m.num_gc >= 3, "the service ran three collections");
    assert_eq!(m.pauses_since(0).0.len() as u64, m.num_gc.min(256));

    let heap = scraper.profile("heap").await.unwrap();
    let types: Vec<&str> = heap
        .sample_type
        .iter()
        .map(|t| heap.string_table[t.r#type as usize].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space"
        ]
    );

    // One second of CPU: the two spinning goroutines dominate.
    let cpu = scraper.profile("profile?seconds=1").await.unwrap();
    let cpu_at = cpu
        .sample_type
        .iter()
        .position(|t| cpu.string_table[t.r#type as usize] == "cpu")
        .unwrap();
    let spin_fn = cpu
        .function
        .iter()
        .find(|f| cpu.string_table[f.name as usize] == "main.spin")
        .map(|f| f.id)
        .expect("main.spin in the CPU profile");
    let (mut spin, mut total) = (0i64, 0i64);
    for s in &cpu.sample {
        let v = s.value[cpu_at];
        total += v;
        let leaf_fn = s
            .location_id
            .first()
            .and_then(|id| cpu.location.iter().find(|l| l.id == *id))
            .and_then(|l| l.line.first())
            .map(|l| l.function_id);
        if leaf_fn == Some(spin_fn) {
            spin += v;
        }
    }
    assert!(total > 0);
    assert!(spin * 10 >= total * 8, "main.spin has {spin} of {total} ns");
}
