//! Stacks as folded (collapsed) text: one `root;…;leaf value` line per
//! stack, sorted, as Brendan Gregg's `flamegraph.pl`, inferno and
//! speedscope read it. The format has no escaping: a `;` or line break
//! inside a frame name is written as a space.

use super::StackList;
use std::fmt::Write;

/// The folded text of `stacks` (stacks with a zero value are left out).
pub fn encode(stacks: &StackList) -> String {
    let mut lines: Vec<String> = stacks
        .iter()
        .filter(|(f, v)| *v != 0 && !f.is_empty())
        .map(|(frames, v)| {
            let mut line = String::new();
            for (i, f) in frames.iter().enumerate() {
                if i > 0 {
                    line.push(';');
                }
                line.extend(f.chars().map(|c| match c {
                    ';' | '\n' | '\r' => ' ',
                    c => c,
                }));
            }
            let _ = write!(line, " {v}");
            line
        })
        .collect();
    lines.sort();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn one_sorted_line_per_stack() {
        let s = |f: &[&str], v| {
            (
                f.iter().map(|x| Arc::<str>::from(*x)).collect::<Vec<_>>(),
                v,
            )
        };
        let stacks = vec![
            s(&["main", "b;x"], 3),
            s(&["main", "a"], 7),
            s(&["main"], 0),
        ];
        assert_eq!(encode(&stacks), "main;a 7\nmain;b x 3\n");
    }
}
