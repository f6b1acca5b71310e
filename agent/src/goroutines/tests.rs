use super::*;
use std::collections::BTreeMap;

/// Goroutines per (state, innermost function of the program's own code).
fn census(gs: &[Goroutine]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for g in gs {
        let own = g
            .frames
            .iter()
            .find(|f| f.function.starts_with("main."))
            .map(|f| f.function.clone())
            .unwrap_or_default();
        *m.entry((g.state.clone(), own)).or_default() += 1;
    }
    m
}

#[test]
fn debian_go_dump_golden() {
    // Written by tests/go/goroutines with Debian's Go 1.19.
    let text = include_str!("../../../tests/data/goroutines-debug2-go1.19.txt");
    let gs = parse(text).unwrap();
    let c = census(&gs);
    let get = |s: &str, f: &str| c.get(&(s.to_string(), f.to_string())).copied().unwrap_or(0);
    assert_eq!(get("chan receive", "main.waitOnChan"), 25);
    assert_eq!(get("semacquire", "main.lockHeld"), 7);
    assert_eq!(get("sleep", "main.nap"), 3);
    assert_eq!(
        get("runnable", "main.spin") + get("running", "main.spin"),
        2
    );
    assert_eq!(get("IO wait", "main.accept"), 1);
    assert_eq!(get("select", "main.choose"), 1);
    assert_eq!(get("running", "main.main"), 1);
    // Blocked stacks are whole, leaf first, with files and lines.
    let mutex = gs.iter().find(|g| g.state == "semacquire").unwrap();
    assert_eq!(mutex.frames[0].function, "sync.runtime_SemacquireMutex");
    assert!(
        mutex
            .frames
            .iter()
            .any(|f| f.function == "sync.(*Mutex).Lock")
    );
    assert!(
        mutex
            .frames
            .iter()
            .all(|f| f.file.ends_with(".go") && f.line > 0)
    );
    let created = mutex.created_by.as_ref().unwrap();
    assert_eq!(created.function, "main.main");
    assert!(created.file.ends_with("main.go"));
}

#[test]
fn newer_formats_and_wait_details() {
    let text = "\
goroutine 7 [sync.Mutex.Lock, 3 minutes]:
sync.runtime_SemacquireMutex(0xc000012345?, 0x0?, 0x1?)
\t/usr/local/go/src/runtime/sema.go:77 +0x25
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:90
main.worker({0x1, 0x2}, 0xc0000a0000)
\t/app/main.go:12 +0x1d
created by main.main in goroutine 1
\t/app/main.go:40 +0x85

goroutine 9 [syscall, 1 minute, locked to thread]:
syscall.Syscall(0x7, 0x1, 0x2, 0x3)
\t/usr/local/go/src/syscall/syscall_linux.go:69 +0x25 fp=0xc0000 sp=0xc0000 pc=0x1
...additional frames elided...
created by os/signal.Notify.func1.1
\t/usr/local/go/src/os/signal/signal.go:151 +0x2a
";
    let gs = parse(text).unwrap();
    assert_eq!(gs.len(), 2);
    assert_eq!(gs[0].state, "sync.Mutex.Lock");
    assert_eq!(gs[0].wait_minutes, Some(3));
    assert_eq!(gs[0].frames[1].function, "sync.(*Mutex).Lock");
    assert_eq!(gs[0].frames[1].line, 90);
    assert_eq!(gs[0].frames[2].function, "main.worker");
    assert_eq!(gs[0].created_by_goroutine, Some(1));
    assert_eq!(gs[1].state, "syscall");
    assert_eq!(gs[1].wait_minutes, Some(1));
    assert!(gs[1].locked_to_thread);
    assert!(gs[1].elided);
    assert_eq!(gs[1].frames[0].line, 69);
    assert_eq!(
        gs[1].created_by.as_ref().unwrap().function,
        "os/signal.Notify.func1.1"
    );
}

#[test]
fn malformed_dumps_say_where() {
    let e = parse("goroutine x [running]:\n").unwrap_err();
    assert_eq!(e.line, 1);
    let e = parse("goroutine 1 [running]:\nmain.main()\n\tnot-a-location\n").unwrap_err();
    assert_eq!(e.line, 3);
    let e = parse("goroutine 1 [running]:\nmain.main()\n").unwrap_err();
    assert!(e.reason.contains("no file:line"), "{e}");
}
