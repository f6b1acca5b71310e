//! Reads time bounds out of pushed-down filters, to skip hot windows and
//! cold files outside the queried range.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// Inclusive `[lo, hi]` bounds on the `time` column, in ns.
#[derive(Debug, Clone, Copy)]
pub struct TimeBounds {
    pub lo: i64,
    pub hi: i64,
}

impl TimeBounds {
    pub fn from_filters(filters: &[Expr]) -> Self {
        let mut b = TimeBounds {
            lo: i64::MIN,
            hi: i64::MAX,
        };
        for f in filters {
            b.narrow(f);
        }
        b
    }

    fn narrow(&mut self, e: &Expr) {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if *op == Operator::And {
                    self.narrow(left);
                    self.narrow(right);
                    return;
                }
                let (op, v) = match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), Expr::Literal(v, _)) if c.name == "time" => (*op, v),
                    (Expr::Literal(v, _), Expr::Column(c)) if c.name == "time" => match op.swap() {
                        Some(op) => (op, v),
                        None => return,
                    },
                    _ => return,
                };
                let Some(t) = timestamp_ns(v) else { return };
                match op {
                    Operator::Gt | Operator::GtEq => self.lo = self.lo.max(t),
                    Operator::Lt | Operator::LtEq => self.hi = self.hi.min(t),
                    Operator::Eq => {
                        self.lo = self.lo.max(t);
                        self.hi = self.hi.min(t);
                    }
                    _ => {}
                }
            }
            Expr::Between(b) if !b.negated => {
                if let (Expr::Column(c), Expr::Literal(lo, _), Expr::Literal(hi, _)) =
                    (b.expr.as_ref(), b.low.as_ref(), b.high.as_ref())
                    && c.name == "time"
                {
                    if let Some(lo) = timestamp_ns(lo) {
                        self.lo = self.lo.max(lo);
                    }
                    if let Some(hi) = timestamp_ns(hi) {
                        self.hi = self.hi.min(hi);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether `[start, end]` may hold rows within the bounds.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        start <= self.hi && end >= self.lo
    }
}

/// A timestamp literal in ns, whatever its unit.
pub(crate) fn timestamp_ns(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampNanosecond(Some(t), _) => Some(*t),
        ScalarValue::TimestampMicrosecond(Some(t), _) => t.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(t), _) => t.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(t), _) => t.checked_mul(1_000_000_000),
        _ => None,
    }
}
