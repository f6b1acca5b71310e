//! Parser of Go's `debug=2` goroutine dump (`/debug/pprof/goroutine?debug=2`,
//! `runtime.Stack(buf, true)`): one record per goroutine with its id, wait
//! state (`chan receive`, `IO wait`, `semacquire`, `sync.Mutex.Lock`,
//! `select`, `sleep`, `syscall`, `running`, `runnable`, …), wait minutes,
//! whether it is locked to its thread, its frames (leaf first, with file
//! and line) and where it was created.
//!
//! Handles the format of Go 1.19 through 1.22+: `created by F` and
//! `created by F in goroutine N`, argument lists with `...` and `?`,
//! `...additional frames elided...`.

/// One frame of a goroutine's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Function name without its argument list, e.g. `sync.(*Mutex).Lock`.
    pub function: String,
    pub file: String,
    pub line: u32,
}

/// One goroutine of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goroutine {
    pub id: u64,
    /// The wait reason or run state, e.g. `chan receive`.
    pub state: String,
    /// Minutes the goroutine has been waiting, when Go reports it (≥ 1).
    pub wait_minutes: Option<u32>,
    pub locked_to_thread: bool,
    /// Frames, innermost first, as Go prints them.
    pub frames: Vec<Frame>,
    /// Go printed `...additional frames elided...`: the stack is longer.
    pub elided: bool,
    /// The `go` statement that started it.
    pub created_by: Option<Frame>,
    /// The goroutine that ran that statement (Go ≥ 1.21).
    pub created_by_goroutine: Option<u64>,
}

/// A dump that does not read as Go's format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("goroutine dump line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

/// Parses a whole dump.
pub fn parse(text: &str) -> Result<Vec<Goroutine>, ParseError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let mut g = parse_header(n + 1, line)?;
        // Pairs of lines: function, then "\tfile:line +0x..".
        while let Some((fnum, fline)) = lines.peek().copied() {
            if fline.trim().is_empty() {
                break;
            }
            lines.next();
            if fline.starts_with("...additional frames elided...") {
                g.elided = true;
                continue;
            }
            let (created, function, goroutine) = match fline.strip_prefix("created by ") {
                Some(rest) => {
                    let (f, from) = match rest.split_once(" in goroutine ") {
                        Some((f, id)) => (f, id.trim().parse().ok()),
                        None => (rest, None),
                    };
                    (true, f.trim().to_string(), from)
                }
                None => (false, strip_args(fline.trim()).to_string(), None),
            };
            let Some((lnum, loc)) = lines.next() else {
                return Err(ParseError {
                    line: fnum + 1,
                    reason: format!("frame {function:?} has no file:line"),
                });
            };
            let (file, line) = parse_location(lnum + 1, loc)?;
            let frame = Frame {
                function,
                file,
                line,
            };
            if created {
                g.created_by = Some(frame);
                g.created_by_goroutine = goroutine;
            } else {
                g.frames.push(frame);
            }
        }
        out.push(g);
    }
    Ok(out)
}

/// `goroutine 18 [chan receive, 2 minutes, locked to thread]:`
fn parse_header(n: usize, line: &str) -> Result<Goroutine, ParseError> {
    let bad = |reason: &str| ParseError {
        line: n,
        reason: format!("{reason}: {line:?}"),
    };
    let rest = line
        .strip_prefix("goroutine ")
        .ok_or_else(|| bad("expected `goroutine N [state]:`"))?;
    let (id, rest) = rest
        .split_once(' ')
        .ok_or_else(|| bad("no state after the id"))?;
    let id: u64 = id.parse().map_err(|_| bad("id is not a number"))?;
    let inner = rest
        .trim_end()
        .strip_suffix("]:")
        .and_then(|r| r.strip_prefix('['))
        .ok_or_else(|| bad("state is not in `[...]:`"))?;
    let mut parts = inner.split(", ");
    let state = parts.next().unwrap_or("").to_string();
    let mut g = Goroutine {
        id,
        state,
        wait_minutes: None,
        locked_to_thread: false,
        frames: Vec::new(),
        elided: false,
        created_by: None,
        created_by_goroutine: None,
    };
    for p in parts {
        if p == "locked to thread" {
            g.locked_to_thread = true;
        } else if let Some(m) = p
            .strip_suffix(" minutes")
            .or_else(|| p.strip_suffix(" minute"))
        {
            g.wait_minutes = m.trim().parse().ok();
        }
    }
    Ok(g)
}

/// `main.f(0x1, {0x2, 0x3})` → `main.f`; `sync.(*Mutex).Lock(...)` →
/// `sync.(*Mutex).Lock`.
fn strip_args(s: &str) -> &str {
    if !s.ends_with(')') {
        return s;
    }
    // The argument list is the last balanced "(...)".
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// `\t/usr/lib/go/src/sync/mutex.go:90 +0x1d` → (file, 90).
fn parse_location(n: usize, line: &str) -> Result<(String, u32), ParseError> {
    let loc = line.trim();
    let loc = loc.split(" +0x").next().unwrap_or(loc);
    let loc = loc.split(" fp=").next().unwrap_or(loc);
    let (file, num) = loc.rsplit_once(':').ok_or_else(|| ParseError {
        line: n,
        reason: format!("expected `file:line`, got {line:?}"),
    })?;
    let num = num.trim().parse().map_err(|_| ParseError {
        line: n,
        reason: format!("line number of {line:?} is not a number"),
    })?;
    Ok((file.to_string(), num))
}

#[cfg(test)]
mod tests;
