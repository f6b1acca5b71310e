//! The rule expression language: comparisons joined by `and`, `or`,
//! `not` and parentheses; operands are numbers with units (`512MiB`,
//! `10ms`, `20%`), metrics with label matchers
//! (`go_heap_inuse_bytes{service="api"}`), functions over a window of a
//! metric (`avg_over`, `max_over`, `min_over`, `rate`, `increase`) and
//! profile predicates (`share`, `goroutines`, `value`), each optionally
//! grouped `by (label, …)`.
//!
//! Errors name the line and column of the text and what was expected.
//! Matchers are the read API's ([`Matcher`]), as in its selectors.

pub use flarego_query::read::matchers::{Matcher, Op};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A metric by name with label matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: String,
    pub matchers: Vec<Matcher>,
}

/// Functions over a window of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverFn {
    Avg,
    Max,
    Min,
    Rate,
    Increase,
}

/// Predicates on profile content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileFn {
    /// The share of a profile type's total in matching stacks.
    Share,
    /// Goroutines matching (state, frames).
    Goroutines,
    /// A profile type's value in matching stacks.
    Value,
}

/// A value compared in a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number, scaled by its unit to bytes, nanoseconds or a fraction.
    Number(f64),
    Metric {
        selector: Selector,
        by: Vec<String>,
    },
    Over {
        func: OverFn,
        selector: Selector,
        window_ns: i64,
        by: Vec<String>,
    },
    Profile {
        func: ProfileFn,
        /// `cpu`, `heap_inuse_space`, …; `None` for `goroutines`.
        profile_type: Option<String>,
        matchers: Vec<Matcher>,
        by: Vec<String>,
    },
}

/// A rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare(Operand, CmpOp, Operand),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// Where and why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// A number with its unit suffix, as written.
    Num(f64, String),
    Sym(&'static str),
}

struct Lexed {
    tok: Tok,
    at: (usize, usize),
}

const SYMBOLS: [&str; 14] = [
    "<=", ">=", "==", "!=", "=~", "!~", "<", ">", "=", "(", ")", "{", "}", ",",
];

fn lex(text: &str) -> Result<Vec<Lexed>, ParseError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut col) = (0, 1, 1);
    let err = |line, column, reason: String| ParseError {
        line,
        column,
        reason,
    };
    while i < chars.len() {
        let c = chars[i];
        let at = (line, col);
        if c == '\n' {
            (i, line, col) = (i + 1, line + 1, 1);
            continue;
        }
        if c.is_whitespace() {
            (i, col) = (i + 1, col + 1);
            continue;
        }
        if c == '"' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None | Some('\n') => {
                        return Err(err(at.0, at.1, "a string that is never closed".into()));
                    }
                    Some('"') => break,
                    Some('\\') => {
                        match chars.get(j + 1) {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some(other) => {
                                s.push('\\');
                                s.push(*other);
                            }
                            None => {
                                return Err(err(
                                    at.0,
                                    at.1,
                                    "a string that is never closed".into(),
                                ));
                            }
                        }
                        j += 2;
                        continue;
                    }
                    Some(ch) => s.push(*ch),
                }
                j += 1;
            }
            col += j + 1 - i;
            i = j + 1;
            out.push(Lexed {
                tok: Tok::Str(s),
                at,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let n: f64 = chars[i..j]
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| err(line, col, "a malformed number".into()))?;
            let mut k = j;
            while k < chars.len() && (chars[k].is_ascii_alphabetic() || chars[k] == '%') {
                k += 1;
            }
            let unit: String = chars[j..k].iter().collect();
            col += k - i;
            i = k;
            out.push(Lexed {
                tok: Tok::Num(n, unit),
                at,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '.')
            {
                j += 1;
            }
            out.push(Lexed {
                tok: Tok::Ident(chars[i..j].iter().collect()),
                at,
            });
            col += j - i;
            i = j;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let Some(sym) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) else {
            return Err(err(line, col, format!("unexpected {c:?}")));
        };
        out.push(Lexed {
            tok: Tok::Sym(sym),
            at,
        });
        col += sym.len();
        i += sym.len();
    }
    Ok(out)
}

/// A number's value in base units: bytes, nanoseconds, a fraction for
/// `%`, or itself.
fn scaled(n: f64, unit: &str) -> Option<f64> {
    let k: f64 = match unit {
        "" => 1.0,
        "%" => 0.01,
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some(n * k)
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    end: (usize, usize),
}

/// Parses a rule's condition.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let toks = lex(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let end = (
        lines.len().max(1),
        lines.last().map_or(1, |l| l.chars().count() + 1),
    );
    let mut p = Parser { toks, pos: 0, end };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(p.error("the end of the expression"));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn error(&self, expected: &str) -> ParseError {
        let (line, column) = self.toks.get(self.pos).map_or(self.end, |t| t.at);
        let found = match self.peek() {
            None => "the end".to_string(),
            Some(Tok::Ident(s)) => format!("{s:?}"),
            Some(Tok::Str(s)) => format!("the string {s:?}"),
            Some(Tok::Num(n, u)) => format!("{n}{u}"),
            Some(Tok::Sym(s)) => format!("{s:?}"),
        };
        ParseError {
            line,
            column,
            reason: format!("expected {expected}, found {found}"),
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), ParseError> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(self.error(&format!("{sym:?}")))
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == word) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error(what)),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while self.eat_word("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.not()?;
        while self.eat_word("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        // A parenthesis opens a condition here; operands never start with one.
        if self.eat_sym("(") {
            let e = self.or()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Sym("<")) => CmpOp::Lt,
            Some(Tok::Sym("<=")) => CmpOp::Le,
            Some(Tok::Sym(">")) => CmpOp::Gt,
            Some(Tok::Sym(">=")) => CmpOp::Ge,
            Some(Tok::Sym("==")) => CmpOp::Eq,
            Some(Tok::Sym("!=")) => CmpOp::Ne,
            _ => return Err(self.error("a comparison (<, <=, >, >=, ==, !=)")),
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok(Expr::Compare(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        if let Some(Tok::Num(n, unit)) = self.peek() {
            let (n, unit) = (*n, unit.clone());
            let v = scaled(n, &unit).ok_or_else(|| ParseError {
                reason: format!(
                    "unknown unit {unit:?} (use %, ns, us, ms, s, m, h, d, B, KiB, MiB, GiB, KB, MB, GB)"
                ),
                ..self.error("")
            })?;
            self.pos += 1;
            return Ok(Operand::Number(v));
        }
        let name = self.ident("a number, a metric or a function")?;
        let over = match name.as_str() {
            "avg_over" => Some(OverFn::Avg),
            "max_over" => Some(OverFn::Max),
            "min_over" => Some(OverFn::Min),
            "rate" => Some(OverFn::Rate),
            "increase" => Some(OverFn::Increase),
            _ => None,
        };
        let profile = match name.as_str() {
            "share" => Some(ProfileFn::Share),
            "goroutines" => Some(ProfileFn::Goroutines),
            "value" => Some(ProfileFn::Value),
            _ => None,
        };
        let operand = if let Some(func) = over {
            self.expect_sym("(")?;
            let metric = self.ident("a metric name")?;
            let selector = self.selector(metric)?;
            self.expect_sym(",")?;
            let window_ns = self.duration()?;
            self.expect_sym(")")?;
            Operand::Over {
                func,
                selector,
                window_ns,
                by: Vec::new(),
            }
        } else if let Some(func) = profile {
            self.expect_sym("(")?;
            let profile_type = if func == ProfileFn::Goroutines {
                None
            } else {
                Some(self.ident("a profile type (cpu, heap_inuse_space, …)")?)
            };
            let mut matchers = Vec::new();
            let mut first = profile_type.is_none();
            while !self.eat_sym(")") {
                if !first {
                    self.expect_sym(",")?;
                }
                first = false;
                matchers.push(self.matcher()?);
            }
            Operand::Profile {
                func,
                profile_type,
                matchers,
                by: Vec::new(),
            }
        } else if self.eat_sym("(") {
            self.pos -= 1;
            return Err(ParseError {
                reason: format!(
                    "unknown function {name:?} (use avg_over, max_over, min_over, rate, increase, share, goroutines, value)"
                ),
                ..self.error("")
            });
        } else {
            Operand::Metric {
                selector: self.selector(name)?,
                by: Vec::new(),
            }
        };
        self.by(operand)
    }

    fn by(&mut self, mut operand: Operand) -> Result<Operand, ParseError> {
        if !self.eat_word("by") {
            return Ok(operand);
        }
        self.expect_sym("(")?;
        let mut labels = vec![self.ident("a label name")?];
        while self.eat_sym(",") {
            labels.push(self.ident("a label name")?);
        }
        self.expect_sym(")")?;
        match &mut operand {
            Operand::Metric { by, .. } | Operand::Over { by, .. } | Operand::Profile { by, .. } => {
                *by = labels
            }
            Operand::Number(_) => return Err(self.error("a comparison")),
        }
        Ok(operand)
    }

    fn selector(&mut self, metric: String) -> Result<Selector, ParseError> {
        let mut matchers = Vec::new();
        if self.eat_sym("{") && !self.eat_sym("}") {
            matchers.push(self.matcher()?);
            while self.eat_sym(",") {
                matchers.push(self.matcher()?);
            }
            self.expect_sym("}")?;
        }
        Ok(Selector { metric, matchers })
    }

    fn matcher(&mut self) -> Result<Matcher, ParseError> {
        let name = self.ident("a label or frame name")?;
        let op = match self.peek() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("=~")) => Op::Re,
            Some(Tok::Sym("!~")) => Op::NotRe,
            _ => return Err(self.error("=, !=, =~ or !~")),
        };
        self.pos += 1;
        match self.peek() {
            Some(Tok::Str(v)) => {
                let value = v.clone();
                self.pos += 1;
                Ok(Matcher { name, op, value })
            }
            _ => Err(self.error("a quoted value")),
        }
    }

    fn duration(&mut self) -> Result<i64, ParseError> {
        match self.peek() {
            Some(Tok::Num(n, unit)) if !unit.is_empty() && !unit.ends_with('B') && unit != "%" => {
                let ns = scaled(*n, unit).ok_or_else(|| self.error("a window like 5m"))?;
                self.pos += 1;
                Ok(ns as i64)
            }
            _ => Err(self.error("a window like 5m")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(metric: &str, matchers: &[(&str, Op, &str)]) -> Selector {
        Selector {
            metric: metric.into(),
            matchers: matchers
                .iter()
                .map(|(n, op, v)| Matcher {
                    name: n.to_string(),
                    op: *op,
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_examples_of_the_rule_language_parse() {
        let e =
            parse(r#"goroutines(state = "chan receive", frame =~ "main\\..*") > 1000"#).unwrap();
        let Expr::Compare(
            Operand::Profile {
                func,
                profile_type,
                matchers,
                ..
            },
            CmpOp::Gt,
            Operand::Number(n),
        ) = e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            (func, profile_type, n),
            (ProfileFn::Goroutines, None, 1000.0)
        );
        assert_eq!(matchers[1].op, Op::Re);
        assert_eq!(matchers[1].value, r"main\..*");

        let e = parse(r#"share(cpu, frame = "runtime.mallocgc") > 20% and go_heap_inuse_bytes{service="api"} > 512MiB"#).unwrap();
        let Expr::And(l, r) = e else { panic!("{e:?}") };
        assert!(
            matches!(*l, Expr::Compare(Operand::Profile { func: ProfileFn::Share, .. }, CmpOp::Gt, Operand::Number(v)) if (v - 0.2).abs() < 1e-12)
        );
        assert_eq!(
            *r,
            Expr::Compare(
                Operand::Metric {
                    selector: sel("go_heap_inuse_bytes", &[("service", Op::Eq, "api")]),
                    by: vec![]
                },
                CmpOp::Gt,
                Operand::Number(512.0 * 1024.0 * 1024.0)
            )
        );

        let e = parse(
            "not (rate(gc_cycles, 5m) by (instance) >= 2 or avg_over(go_goroutines, 10m) < 10)",
        )
        .unwrap();
        let Expr::Not(inner) = e else { panic!("{e:?}") };
        let Expr::Or(a, _) = *inner else { panic!() };
        assert_eq!(
            *a,
            Expr::Compare(
                Operand::Over {
                    func: OverFn::Rate,
                    selector: sel("gc_cycles", &[]),
                    window_ns: 300_000_000_000,
                    by: vec!["instance".into()]
                },
                CmpOp::Ge,
                Operand::Number(2.0)
            )
        );
        // `and` binds tighter than `or`.
        let e = parse("a > 1 or b > 2 and c > 3").unwrap();
        assert!(matches!(e, Expr::Or(_, r) if matches!(*r, Expr::And(..))));
    }

    #[test]
    fn errors_name_the_line_column_and_what_was_expected() {
        let cases = [
            (
                "share(cpu, frame = \"x\") >",
                (1, 26),
                "expected a number, a metric or a function, found the end",
            ),
            (
                "x > 5 parsecs",
                (1, 7),
                "expected the end of the expression",
            ),
            (
                "x > 5 and\n  y >> 3",
                (2, 6),
                "expected a number, a metric or a function",
            ),
            ("x > 5XB", (1, 5), "unknown unit \"XB\""),
            (
                "x{service=\"a} > 1",
                (1, 11),
                "a string that is never closed",
            ),
            ("p99(x) > 1", (1, 4), "unknown function \"p99\""),
            (
                "avg_over(x, 5MiB) > 1",
                (1, 13),
                "expected a window like 5m",
            ),
            ("x{service~\"a\"} > 1", (1, 10), "unexpected '~'"),
            ("x", (1, 2), "expected a comparison"),
        ];
        for (text, (line, column), reason) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text}: {e}");
            assert!(e.reason.contains(reason), "{text}: {e}");
        }
    }
}
