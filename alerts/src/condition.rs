//! A compiled condition applied to its queries' rows: which groups hold,
//! and the value each reports (the left-most operand's).

use crate::compile::{Cond, Side};
use crate::expr::CmpOp;
use std::collections::BTreeMap;

/// One query's answer: group key values (in its `keys` order) → value.
pub type Rows = BTreeMap<Vec<String>, f64>;

/// Where a condition holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A condition of constants only.
    Const(bool),
    /// The groups where it holds, with their values.
    Groups(Rows),
}

fn holds(a: f64, op: CmpOp, b: f64) -> bool {
    match op {
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// Evaluates `cond` over `results` (indexed as the compiled queries).
pub fn evaluate(cond: &Cond, results: &[Rows]) -> Outcome {
    match cond {
        Cond::Cmp(l, op, r) => compare(l, *op, r, results),
        Cond::And(a, b) => match (evaluate(a, results), evaluate(b, results)) {
            (Outcome::Const(x), Outcome::Const(y)) => Outcome::Const(x && y),
            (Outcome::Const(t), Outcome::Groups(g)) | (Outcome::Groups(g), Outcome::Const(t)) => {
                Outcome::Groups(if t { g } else { Rows::new() })
            }
            (Outcome::Groups(a), Outcome::Groups(b)) => {
                Outcome::Groups(a.into_iter().filter(|(k, _)| b.contains_key(k)).collect())
            }
        },
        Cond::Or(a, b) => match (evaluate(a, results), evaluate(b, results)) {
            (Outcome::Const(x), Outcome::Const(y)) => Outcome::Const(x || y),
            (Outcome::Const(true), _) | (_, Outcome::Const(true)) => Outcome::Const(true),
            (Outcome::Const(false), g) | (g, Outcome::Const(false)) => g,
            (Outcome::Groups(mut a), Outcome::Groups(b)) => {
                for (k, v) in b {
                    a.entry(k).or_insert(v);
                }
                Outcome::Groups(a)
            }
        },
    }
}

fn compare(l: &Side, op: CmpOp, r: &Side, results: &[Rows]) -> Outcome {
    let rows = |n: &usize| results.get(*n).cloned().unwrap_or_default();
    match (l, r) {
        (Side::Const(a), Side::Const(b)) => Outcome::Const(holds(*a, op, *b)),
        (Side::Query(n), Side::Const(c)) => Outcome::Groups(
            rows(n)
                .into_iter()
                .filter(|(_, v)| holds(*v, op, *c))
                .collect(),
        ),
        (Side::Const(c), Side::Query(n)) => Outcome::Groups(
            rows(n)
                .into_iter()
                .filter(|(_, v)| holds(*v, flip(op), *c))
                .collect(),
        ),
        (Side::Query(a), Side::Query(b)) => {
            let b = rows(b);
            Outcome::Groups(
                rows(a)
                    .into_iter()
                    .filter(|(k, v)| b.get(k).is_some_and(|w| holds(*v, op, *w)))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Vocabulary, compile};
    use crate::expr::parse;

    fn rows(pairs: &[(&str, f64)]) -> Rows {
        pairs
            .iter()
            .map(|(s, v)| (vec![s.to_string(), "i".to_string()], *v))
            .collect()
    }

    #[test]
    fn comparisons_and_or_not_select_groups() {
        let vocab = Vocabulary {
            metric_known: &|_| true,
        };
        let c = compile(
            &parse("not (x <= 10 or y > 2) and 3 < x").unwrap(),
            1,
            &vocab,
        )
        .unwrap();
        let x = rows(&[("a", 20.0), ("b", 20.0), ("c", 5.0), ("d", 11.0)]);
        let y = rows(&[("a", 1.0), ("b", 3.0), ("c", 0.0)]);
        // x > 10 and y <= 2 and x > 3: only a (d has no y).
        assert_eq!(
            evaluate(&c.cond, &[x.clone(), y.clone()]),
            Outcome::Groups(rows(&[("a", 20.0)]))
        );
        let c = compile(&parse("x > y or 1 > 2").unwrap(), 1, &vocab).unwrap();
        assert_eq!(
            evaluate(&c.cond, &[x, y]),
            Outcome::Groups(rows(&[("a", 20.0), ("b", 20.0), ("c", 5.0)]))
        );
        let c = compile(&parse("1 < 2").unwrap(), 1, &vocab).unwrap();
        assert_eq!(evaluate(&c.cond, &[]), Outcome::Const(true));
    }
}
